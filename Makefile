# The two commands of the README are `go run ./cmd/alice` and
# `go test -race ./...`; these targets are shorthands around them.
GO ?= go

FUZZTIME ?= 1m

.PHONY: run test build install lint bench load fuzz chaos
run:
	$(GO) run ./cmd/alice

test:
	$(GO) test -race ./...

build:
	$(GO) build -o bin/alice ./cmd/alice

# Installs alice into $(go env GOPATH)/bin (or $GOBIN).
install:
	$(GO) install ./cmd/alice

# gofmt, go vet and staticcheck, as CI runs them before the tests.
lint:
	GO=$(GO) bash .ci/lint

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

load:
	$(GO) run ./cmd/alice-load

# Runs every fuzz target of every package for FUZZTIME each, for example
# make fuzz FUZZTIME=10m. Their seed corpora run in `go test` anyway.
# FuzzOperationSequences runs about ten inputs a second, so Go's default
# minimization (a minute for each new input) would take most of its time:
# it minimizes for three runs instead (RELIABILITY.md, "Fuzzing").
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for name in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$name in $$pkg"; \
	    minimize=60s; [ "$$name" = FuzzOperationSequences ] && minimize=3x; \
	    $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $$minimize $$pkg; \
	  done; \
	done

# The long chaos run: alice is killed with SIGKILL KILLS times while
# writers drive it; every acknowledged write must survive.
KILLS ?= 200
chaos:
	$(GO) run ./cmd/alice-load -scenario chaos -kills $(KILLS)
