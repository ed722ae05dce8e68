# syntax=docker/dockerfile:1
#
# Latchkey's image: the release build (.ci/build, the same script CI runs) in
# a Go image, copied into a small runtime image without a shell that runs as
# a non-root user.
#
#   docker build -t latchkey:dev --build-arg LATCHKEY_VERSION=$(git describe --always) .
#   docker run -p 127.0.0.1:8080:8080 -v latchkey-data:/var/lib/latchkey latchkey:dev
#
# The base images are named by tag: pin them by digest (tag@sha256:…) where
# builds must be reproducible; no digest is written here because none could
# be read from a registry on the machine this was written on.

# The Go of go.mod's go line.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# The modules first: a change of the code alone reuses this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG LATCHKEY_VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    LATCHKEY_VERSION="${LATCHKEY_VERSION}" .ci/build /out/latchkey \
    && mkdir -p /out/data

# distroless/cc: glibc and the CA certificates, nothing else; the binary
# links glibc because SQLite is C (see .ci/build). Debian 12 on both sides,
# so the glibc it was built against is the one it runs with.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
# The data folder: SQLite and the key file when no database URL and no
# LATCHKEY_ENCRYPTION_KEY are given (one container); unused otherwise.
COPY --from=build --chown=65532:65532 /out/data /var/lib/latchkey
# The public URL matches the docker run line above; set yours (the OAuth
# callback is <public URL>/oauth/callback).
ENV LATCHKEY_ADDR=0.0.0.0:8080 \
    LATCHKEY_PUBLIC_URL=http://127.0.0.1:8080 \
    LATCHKEY_DATA_DIR=/var/lib/latchkey
USER 65532:65532
EXPOSE 8080
VOLUME ["/var/lib/latchkey"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/latchkey", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
