# Alice Runtime in a container: a static binary on a distroless base, run
# as a non-root user. The API listens on loopback inside the container, so
# the skills that call it run in the same network namespace (a pod, or
# docker run --network container:<bot>); see the README's "Deploying".
#
#   docker build -t alice .
#   docker run --rm -v alice-data:/home/nonroot/.alice alice

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/alice ./cmd/alice

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/alice /usr/local/bin/alice
# The data goes to $ALICE_HOME/runtime; mount a volume there to keep it.
ENV ALICE_HOME=/home/nonroot/.alice
VOLUME ["/home/nonroot/.alice"]
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/alice"]
CMD ["serve"]
