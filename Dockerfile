# syntax=docker/dockerfile:1
# tenk: one image with both binaries, tenk-server (the entrypoint) and tenk-tui.
#
#   docker build -t tenk .
#   docker run --rm -p 8080:8080 --env-file my.env tenk           # the API (APP_ENV=production)
#   docker run --rm tenk migrate                                  # apply migrations, exit
#   docker run --rm -it --entrypoint tenk-tui tenk --help         # the operator cockpit
#
# Stages: `planner` reduces the source tree to its dependency skeleton (manifests, the
# lock file, stub sources), `deps` compiles the dependencies of that skeleton (a layer
# that is rebuilt only when a Cargo.toml or Cargo.lock changes), `builder` compiles the
# workspace on top of it, `runtime` (the default target) is debian:bookworm-slim
# (`runtime-base`) with the two binaries.
# The builder is bookworm too, so the binaries link against the runtime's glibc.
#
# Without a registry or a compiler in the container (deploy/compose-live.sh under
# podman), the base images are build arguments and the `prebuilt` target copies
# release binaries built on a host with the runtime's glibc (bookworm: 2.36) instead
# of compiling them:
#
#   docker build --target prebuilt --build-arg RUNTIME_IMAGE=... -f Dockerfile DIR
#       # DIR holds tenk-server (and tenk-tui, if built)

ARG RUST_VERSION=1.95
ARG RUST_IMAGE=rust:${RUST_VERSION}-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS planner
WORKDIR /src
COPY . .
RUN sh deploy/docker/skeleton.sh /src /skeleton

FROM ${RUST_IMAGE} AS deps
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
WORKDIR /src
# Identical skeleton content (whatever the source edits) keeps this COPY and the
# build below cached.
COPY --from=planner /skeleton/ ./
RUN cargo build --release --locked --bin tenk-server --bin tenk-tui

FROM deps AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY . .
# The stubs compiled above are newer than a fresh checkout's files: touch the real
# sources so cargo rebuilds every workspace crate instead of keeping the stubs (the
# --version check below fails if a stub binary slipped through).
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin tenk-server --bin tenk-tui \
    && mkdir -p /out \
    && cp target/release/tenk-server target/release/tenk-tui /out/ \
    && /out/tenk-server --version | grep -q '^tenk-server '

# Everything of the runtime image but the binaries (`runtime` and `prebuilt` add them).
FROM ${RUNTIME_IMAGE} AS runtime-base
# ca-certificates: TLS to SMTP, Sentry, PostgreSQL and Redis; curl: the health check.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tenk \
    && useradd --system --uid 10001 --gid tenk --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin tenk
LABEL org.opencontainers.image.title="tenk" \
      org.opencontainers.image.description="tenk-server (API) and tenk-tui (operator cockpit)" \
      org.opencontainers.image.licenses="MIT"

# The image is for deployments: production mode (secrets are required, JSON logs,
# MAIL_TRANSPORT=log refused). Set APP_ENV=development to try it without secrets.
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080

# tenk-server reads a .env from its working directory if one is there: an empty,
# root-owned folder keeps it from picking one up by accident.
WORKDIR /srv/tenk
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
# Liveness only (never touches PostgreSQL or Redis); readiness is /api/health/ready.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${PORT:-8080}/api/health\" || exit 1"]
ENTRYPOINT ["tenk-server"]
CMD ["serve"]

# Release binaries from the build context (see the top): no compiler in the image build.
FROM runtime-base AS prebuilt
COPY --chmod=0755 tenk-* /usr/local/bin/
RUN ["tenk-server", "--version"]

# The default target: the binaries compiled above.
FROM runtime-base AS runtime
COPY --from=builder /out/tenk-server /out/tenk-tui /usr/local/bin/
