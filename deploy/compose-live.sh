#!/usr/bin/env bash
# docker-compose.yml started for real, without Docker and without a registry: podman
# behind Debian's docker-compose, every image built here from Debian packages, the
# API image from prebuilt release binaries. Then, through nginx: readiness, register
# (the mail reaches the catcher), login, a post, a revocation seen by every API
# replica, one rate limit shared by all of them, the replica streaming, every
# Prometheus target up and the rules loaded, and TenkInstanceDown reaching
# Alertmanager when an API replica is stopped. Everything is torn down at the end,
# also on failure.
#
#   bash deploy/compose-live.sh          # root; about 2.5 min warm, 6 to 7 cold
#
# Needs the release tenk-server: TENK_SERVER_RELEASE_BIN, else
# $CARGO_TARGET_DIR/release/tenk-server (cargo build --release -p tenk-server);
# tenk-tui goes into the image too when it is next to it. Cached between runs in
# podman's storage: the Debian base images (debootstrap), the stand-in images
# (deploy/podman/images/), PgBouncer; a warm run rebuilds only what changed.
# TENK_LIVE_KEEP=1 leaves the stack running for a look (tear it down with
# `bash deploy/compose-live.sh down`). The last line is `compose-live: N passed,
# M failed`; the exit status is 1 on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="${TENK_LIVE_STATE:-/var/tmp/tenk-compose-live}"
RUN_DIR=/run/tenk-compose-live
PROJECT=tenk-live
SOCKET="$RUN_DIR/podman.sock"
export CONTAINERS_CONF="$ROOT/deploy/podman/containers.conf"
export DOCKER_HOST="unix://$SOCKET"
export DEBIAN_FRONTEND=noninteractive
# Older docker-compose reads COMPOSE_* and a .env of the project: only ours count.
unset COMPOSE_FILE COMPOSE_PROJECT_NAME COMPOSE_PROFILES
SERVER_BIN="${TENK_SERVER_RELEASE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tenk-server}"
PACKAGES=(podman runc conmon netavark aardvark-dns catatonit uidmap slirp4netns fuse-overlayfs
  containernetworking-plugins debootstrap docker-compose)
LABEL=tenk.compose-live=1

phase() { printf '\n-- %s (%ss)\n' "$1" "$SECONDS"; }
die() {
  echo "compose-live: $*" >&2
  exit 1
}

COMPOSE=(docker-compose --project-name "$PROJECT" --project-directory "$ROOT"
  --env-file "$RUN_DIR/compose-vars.env"
  -f "$ROOT/docker-compose.yml" -f "$ROOT/deploy/podman/compose.podman.yml")
compose() {
  "${COMPOSE[@]}" "$@"
}

# --- the host: packages, podman's settings, its API service --------------------------

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  podman --version
  docker-compose --version
}

# The Debian mirror this machine's apt uses (TENK_DEBIAN_MIRROR overrides it).
debian_mirror() {
  if [ -n "${TENK_DEBIAN_MIRROR:-}" ]; then
    echo "$TENK_DEBIAN_MIRROR"
    return
  fi
  apt-cache policy | awk -v suite="$HOST_SUITE/main" '
    $3 == suite && $2 ~ /^https?:/ { url = $2; next }
    url != "" && /o=Debian/ { print url; exit }
    { url = "" }'
}

podman_service_pid=""
start_podman_service() {
  mkdir -p "$RUN_DIR"
  rm -f "$SOCKET"
  # 9>&-: the lock of this run (below) is not inherited.
  podman system service --time=0 "unix://$SOCKET" >"$RUN_DIR/podman-service.log" 2>&1 9>&- &
  podman_service_pid=$!
  local deadline=$((SECONDS + 30))
  until curl -fsS --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$podman_service_pid" 2>/dev/null; then
      cat "$RUN_DIR/podman-service.log" >&2
      die "the podman API service did not answer on $SOCKET"
    fi
    sleep 0.2
  done
  echo "podman API service on $SOCKET (pid $podman_service_pid)"
}

# --- images ----------------------------------------------------------------------------

# localhost/tenk-base/debian:SUITE from debootstrap --variant=minbase, made once per
# machine (about 75 s for both, in parallel).
base_images() {
  local mirror suite pids=() missing=()
  for suite in "$@"; do
    podman image exists "localhost/tenk-base/debian:$suite" || missing+=("$suite")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "cached: ${*/#/localhost/tenk-base/debian:}"
    return
  fi
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian mirror in apt's sources (set TENK_DEBIAN_MIRROR)"
  mkdir -p "$STATE"
  for suite in "${missing[@]}"; do
    rm -rf "$STATE/rootfs-$suite"
    echo "debootstrap --variant=minbase $suite ($mirror)"
    debootstrap --variant=minbase "$suite" "$STATE/rootfs-$suite" "$mirror" >"$STATE/debootstrap-$suite.log" 2>&1 &
    pids+=($!)
  done
  local i
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      tail -n 20 "$STATE/debootstrap-${missing[$i]}.log" >&2
      die "debootstrap ${missing[$i]} failed"
    fi
  done
  for suite in "${missing[@]}"; do
    rm -rf "$STATE/rootfs-$suite/var/cache/apt/archives/"*.deb "$STATE/rootfs-$suite/var/lib/apt/lists/"*
    tar -C "$STATE/rootfs-$suite" -c . |
      podman import --quiet --change 'CMD ["/bin/bash"]' - "localhost/tenk-base/debian:$suite" >/dev/null
    rm -rf "$STATE/rootfs-$suite"
    echo "imported localhost/tenk-base/debian:$suite"
  done
}

build() {
  local name=$1 started=$SECONDS log
  shift
  log="$RUN_DIR/build-${name//[\/:]/-}.log"
  if ! podman build --format docker --label "$LABEL" -t "$name" "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "building $name failed (log: $log)"
  fi
  # Cached: every RUN step was taken from the cache.
  if awk '/STEP [0-9]+\/[0-9]+: RUN/ { run = 1; next }
      run && /^(\[[0-9]+\/[0-9]+\] )?--> / { if ($0 !~ /Using cache/) built = 1; run = 0 }
      END { exit built }' "$log"; then
    echo "$name ($((SECONDS - started))s, cached)"
  else
    echo "$name ($((SECONDS - started))s)"
  fi
}

alive() {
  local pid count=0
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then count=$((count + 1)); fi
  done
  echo "$count"
}

build_images() {
  local trixie=localhost/tenk-base/debian:trixie context="$STATE/context-tenk" entry pid failed=0 pids=()
  # The images on the trixie base, a few at a time (mostly apt downloading and
  # unpacking); the project's PgBouncer Dockerfile among them, unchanged.
  for entry in postgres:deploy/podman/images/postgres redis:deploy/podman/images/redis \
    prometheus:deploy/podman/images/prometheus alertmanager:deploy/podman/images/alertmanager \
    nginx:deploy/podman/images/nginx mailpit:deploy/podman/images/mailpit pgbouncer:deploy/pgbouncer; do
    while [ "$(alive "${pids[@]}")" -ge "${TENK_LIVE_BUILD_JOBS:-3}" ]; do sleep 0.5; done
    if [ "${entry%%:*}" = pgbouncer ]; then
      build localhost/tenk-live/pgbouncer:trixie --build-arg "BASE_IMAGE=$trixie" "${entry#*:}" &
    else
      build "localhost/tenk-live/${entry%%:*}:stand-in" --build-arg "BASE_IMAGE=$trixie" "${entry#*:}" &
    fi
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || die "an image did not build (above)"
  mkdir -p "$context"
  rm -f "$context"/tenk-*
  cp "$SERVER_BIN" "$context/tenk-server"
  if [ -x "$(dirname "$SERVER_BIN")/tenk-tui" ]; then
    cp "$(dirname "$SERVER_BIN")/tenk-tui" "$context/tenk-tui"
  fi
  build localhost/tenk-live/tenk:prebuilt --target prebuilt \
    --build-arg "RUNTIME_IMAGE=localhost/tenk-base/debian:$HOST_SUITE" -f "$ROOT/Dockerfile" "$context"
  # The full build's context as buildah reads .dockerignore: its `planner` stage (no
  # compiler; the context copied as is) must hold exactly what BuildKit would send.
  build localhost/tenk-live/context:check --target planner \
    --build-arg "RUST_IMAGE=localhost/tenk-base/debian:$HOST_SUITE" "$ROOT"
  podman image prune -f --filter "label=$LABEL" >/dev/null
}

# --- the stack ---------------------------------------------------------------------------

secret() {
  python3 -c 'import secrets; print(secrets.token_hex(32))'
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_settings() {
  umask 077
  # The stack's secrets for this run only (the services' env_file).
  cat >"$RUN_DIR/compose.env" <<EOF
POSTGRES_PASSWORD=$(secret)
REPLICATION_PASSWORD=$(secret)
JWT_SECRET=$(secret)
OTP_SECRET=$(secret)
OPS_TOKEN=$(secret)
SMTP_URL=smtp://mailpit:1025
SENTRY_DSN=
GF_SECURITY_ADMIN_PASSWORD=$(secret)
EOF
  # Free host ports (Prometheus, Alertmanager and the mail catcher stay on 127.0.0.1),
  # and nginx's resolver: aardvark-dns on the network's gateway, the subnet's first
  # address.
  cat >"$RUN_DIR/compose-vars.env" <<EOF
TENK_ENV_FILE=$RUN_DIR/compose.env
TENK_HTTP_PORT=$(free_port)
TENK_PROMETHEUS_PORT=$(free_port)
TENK_ALERTMANAGER_PORT=$(free_port)
TENK_MAILPIT_PORT=$(free_port)
TENK_GRAFANA_PORT=$(free_port)
TENK_SUBNET=$SUBNET
TENK_NGINX_RESOLVER=$(python3 -c 'import ipaddress, sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$SUBNET")
EOF
  umask 022
}

healthchecks_pid=""
start_healthchecks() {
  # No systemd, so nothing runs the containers' health checks on their own.
  python3 deploy/compose_live.py healthchecks --socket "$SOCKET" --project "$PROJECT" \
    >"$RUN_DIR/healthchecks.log" 2>&1 9>&- &
  healthchecks_pid=$!
}

teardown() {
  local status=$?
  set +e
  if [ -n "${STACK_UP:-}" ]; then
    if [ "$status" != 0 ] || [ -n "${CHECKS_FAILED:-}" ]; then
      phase "state at the failure"
      compose ps
      compose logs --no-color --tail=40 2>&1 | tail -n 400
      echo "--- health checks"
      tail -n 20 "$RUN_DIR/healthchecks.log"
    fi
    if [ "${TENK_LIVE_KEEP:-0}" = 1 ]; then
      # The API service and the health checks stay with it; `down` ends them.
      echo "$podman_service_pid $healthchecks_pid" >"$RUN_DIR/kept.pids"
      echo "TENK_LIVE_KEEP=1: the stack keeps running: DOCKER_HOST=$DOCKER_HOST docker-compose -p $PROJECT" \
        "--env-file $RUN_DIR/compose-vars.env -f docker-compose.yml -f deploy/podman/compose.podman.yml ps;" \
        "bash deploy/compose-live.sh down"
      return
    fi
    phase "down -v"
    local started=$SECONDS
    compose down -v --remove-orphans --timeout 10 >"$RUN_DIR/down.log" 2>&1 || tail -n 20 "$RUN_DIR/down.log"
    echo "down -v: $((SECONDS - started))s"
  fi
  if [ -n "$healthchecks_pid" ]; then kill "$healthchecks_pid" 2>/dev/null; fi
  if [ -n "$podman_service_pid" ]; then kill "$podman_service_pid" 2>/dev/null; fi
  wait 2>/dev/null
  rm -f "$RUN_DIR/compose.env" "$SOCKET"
  echo "(${SECONDS}s in all)"
}

# --- main ----------------------------------------------------------------------------------

[ "$(id -u)" = 0 ] || die "run as root (podman with netavark, debootstrap)"
# shellcheck disable=SC1091
HOST_SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$HOST_SUITE" ] || die "cannot tell the Debian suite of this machine (/etc/os-release)"
mkdir -p "$STATE" "$RUN_DIR"
exec 9>"$STATE/lock"
flock -n 9 || die "another compose-live run holds $STATE/lock"

SUBNET="${TENK_SUBNET:-172.28.0.0/24}"

if [ "${1:-}" = down ]; then
  # A stack left by TENK_LIVE_KEEP=1: its API service and health-check loop first.
  if [ -f "$RUN_DIR/kept.pids" ]; then
    read -r -a kept <"$RUN_DIR/kept.pids"
    for pid in "${kept[@]}"; do
      if grep -qaE 'podman|compose_live' "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid"; fi
    done
    rm -f "$RUN_DIR/kept.pids"
  fi
  install_packages >/dev/null
  trap teardown EXIT
  start_podman_service
  write_settings
  STACK_UP=1
  exit 0
fi

[ -x "$SERVER_BIN" ] || die "no release tenk-server at $SERVER_BIN (cargo build --release -p tenk-server, or TENK_SERVER_RELEASE_BIN)"

phase "host: packages, podman settings ($CONTAINERS_CONF), API service"
install_packages
trap teardown EXIT
start_podman_service
write_settings
# What an interrupted run left behind.
compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true

phase "base images (debootstrap $HOST_SUITE, trixie; cached)"
suites=("$HOST_SUITE")
[ "$HOST_SUITE" = trixie ] || suites+=(trixie)
base_images "${suites[@]}"

phase "images: stand-ins (deploy/podman/images/), PgBouncer, tenk from $SERVER_BIN"
build_images

phase "docker-compose up (podman $(podman --version | awk '{print $3}'))"
compose config -q
start_healthchecks
STACK_UP=1
started=$SECONDS
# Bounded: a container that never turns healthy must fail the run, not hang CI.
if ! timeout 600 "${COMPOSE[@]}" up -d --no-build >"$RUN_DIR/up.log" 2>&1; then
  cat "$RUN_DIR/up.log"
  die "docker-compose up failed or did not finish in 10 min"
fi
echo "up -d: $((SECONDS - started))s"

phase "checks through nginx"
set -a
# shellcheck disable=SC1091
. "$RUN_DIR/compose-vars.env"
set +a
if ! python3 deploy/compose_live.py check --project "$PROJECT" --socket "$SOCKET" \
  --http "http://127.0.0.1:$TENK_HTTP_PORT" --prometheus "http://127.0.0.1:$TENK_PROMETHEUS_PORT" \
  --alertmanager "http://127.0.0.1:$TENK_ALERTMANAGER_PORT" --mail "http://127.0.0.1:$TENK_MAILPIT_PORT" 9>&-; then
  CHECKS_FAILED=1
  exit 1
fi
