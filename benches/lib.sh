# Shared by the benchmark scripts: build (or take TENK_SERVER_BIN), start and
# stop tenk-server on its own database and Redis prefix, and run wrk printing
# one Markdown row. Source it; set `database` and `port` first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tenk-target}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"

if [ -n "${TENK_SERVER_BIN:-}" ]; then
  binary="$TENK_SERVER_BIN"
else
  cargo build --release -q --locked -p tenk-server
  binary="$CARGO_TARGET_DIR/release/tenk-server"
fi
prefix="bench:$$:"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; fi
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $database with (force)" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "${prefix}*" 2>/dev/null | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
}
trap cleanup EXIT

# start ENV=VALUE...: runs the server with these settings and waits for it.
start() {
  env DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" PORT="$port" LOG_LEVEL=warn \
    REDIS_KEY_PREFIX="$prefix" "$@" "$binary" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && return
    sleep 0.1
  done
  echo "the server did not start" >&2
  exit 1
}

stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# row LABEL PATH [wrk args...]: one wrk run, one Markdown table row.
row() {
  local label="$1" path="$2"
  shift 2
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "http://127.0.0.1:$port$path")
  printf '| %s | %s | %s | %s | %s |\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
    "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}

header() {
  echo "wrk -t$threads -c$connections -d$duration, $(nproc) cores shared by wrk, tenk-server, Redis and PostgreSQL"
  echo "| config | req/s | p50 | p99 | non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: |"
}
