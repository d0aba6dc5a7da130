# Shared by bench.sh, compare.sh and smoke.sh: build tenk-server and
# tenk-loadtest, start and stop tenk and the Hono peer on loopback over one
# fresh database and Redis prefix, run the load test into a JSON file, and
# read fields back. Source it from a script in loadtest/.
#
# The servers run with development-only settings that a load test from one
# address needs, and that production refuses or must never use:
#   PASSWORD_HASH=bcrypt BCRYPT_ROUNDS=4  cheap hashes, so 10,000 accounts seed in seconds
#   RATE_LIMIT_ENABLED=false              every request comes from 127.0.0.1
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tenk-target}"
profile="${PROFILE:-release}"
run_id="$$"
database="tenk_loadtest_${run_id}"
redis_prefix="loadtest:${run_id}:"
tenk_port="${TENK_PORT:-18480}"
peer_port="${PEER_PORT:-18490}"
peer_metrics_port="${PEER_METRICS_PORT:-18491}"
export TENK_OPS_TOKEN="loadtest-ops-token-${run_id}-0123456789"
jwt_secret="loadtest-jwt-secret-${run_id}-0123456789abcdef0123456789"
results="${RESULTS:-/var/tmp/tenk-loadtest-results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$results"
tenk_pid=""
peer_pid=""

build() {
  local flag=()
  [ "$profile" = release ] && flag=(--release)
  (cd .. && cargo build -q "${flag[@]}" -p tenk-server)
  cargo build -q "${flag[@]}"
  server_bin="$CARGO_TARGET_DIR/$profile/tenk-server"
  loadtest_bin="$CARGO_TARGET_DIR/$profile/tenk-loadtest"
}

bun_bin="peers/hono/node_modules/@oven/bun-linux-x64/bin/bun"
install_peer() {
  # The plain `bun` package's install script downloads; this one ships the binary.
  [ -x "$bun_bin" ] || (cd peers/hono && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
}

cleanup() {
  stop_tenk
  stop_peer
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $database with (force)" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "${redis_prefix}*" 2>/dev/null | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
}
trap cleanup EXIT

# wait_for URL: up to 60 s for the URL to answer 2xx.
wait_for() {
  for _ in $(seq 1 600); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not come up" >&2
  exit 1
}

# start_tenk [ENV=VALUE...]: tenk-server on $tenk_port with the load-test settings.
start_tenk() {
  env DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" PORT="$tenk_port" \
    LOG_LEVEL=warn REDIS_KEY_PREFIX="$redis_prefix" OPS_TOKEN="$TENK_OPS_TOKEN" \
    JWT_SECRET="$jwt_secret" PASSWORD_HASH=bcrypt BCRYPT_ROUNDS=4 RATE_LIMIT_ENABLED=false \
    "$@" "$server_bin" >>"$results/tenk-server.log" 2>&1 &
  tenk_pid=$!
  wait_for "http://127.0.0.1:$tenk_port/api/health"
}

stop_tenk() {
  if [ -n "$tenk_pid" ]; then kill "$tenk_pid" 2>/dev/null || true; wait "$tenk_pid" 2>/dev/null || true; fi
  tenk_pid=""
}

# start_peer [ENV=VALUE...]: the Hono peer (one Bun worker per core) on
# $peer_port over tenk's database, Redis prefix and JWT secret.
start_peer() {
  env PORT="$peer_port" METRICS_PORT="$peer_metrics_port" PEER_WORKERS="${PEER_WORKERS:-$(nproc)}" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" REDIS_KEY_PREFIX="$redis_prefix" \
    JWT_SECRET="$jwt_secret" OPS_TOKEN="$TENK_OPS_TOKEN" "$@" \
    "$bun_bin" peers/hono/cluster.ts >>"$results/peer.log" 2>&1 &
  peer_pid=$!
  wait_for "http://127.0.0.1:$peer_port/api/health"
}

stop_peer() {
  if [ -n "$peer_pid" ]; then kill "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  peer_pid=""
}

# peer_metrics_args: one --metrics-url per peer worker.
peer_metrics_args() {
  local n="${PEER_WORKERS:-$(nproc)}" i
  for ((i = 0; i < n; i++)); do
    printf -- '--metrics-url\nhttp://127.0.0.1:%s/metrics\n' "$((peer_metrics_port + i))"
  done
}

# loadtest NAME ARGS...: one tenk-loadtest run, its report in $results/NAME.json.
loadtest() {
  local name="$1"
  shift
  echo "== $name: tenk-loadtest $*" >&2
  "$loadtest_bin" "$@" --quiet --json "$results/$name.json" >&2
}

# field NAME PATH: a value from $results/NAME.json, PATH like run.latency.p95_ms.
field() {
  python3 - "$results/$1.json" "$2" <<'EOF'
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    if isinstance(value, list):
        value = value[int(key)]
    else:
        value = value.get(key) if isinstance(value, dict) else None
print("-" if value is None else value)
EOF
}

# ratio A B: A / B to two places ("-" when either is missing).
ratio() {
  python3 -c 'import sys
try: print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")
except (ValueError, ZeroDivisionError): print("-")' "$1" "$2"
}
