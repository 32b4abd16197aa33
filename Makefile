# The two commands of the README are `go run ./cmd/alice` and
# `go test -race ./...`; these targets are shorthands around them.
GO ?= go

.PHONY: run test build lint bench load
run:
	$(GO) run ./cmd/alice

test:
	$(GO) test -race ./...

build:
	$(GO) build -o bin/alice ./cmd/alice

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

load:
	$(GO) run ./cmd/alice-load
