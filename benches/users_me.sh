#!/usr/bin/env bash
# GET /api/users/me (JWT verify + session check + profile) with the app cache
# on and off, measured with wrk on loopback. The two configurations run
# alternately, twice each, in one run, so their ratio survives a noisy machine.
#
#   bash benches/users_me.sh            (needs wrk, PostgreSQL and Redis on 127.0.0.1)
#   DURATION=10s CONNECTIONS=64 bash benches/users_me.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tenk-target}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
port=18180
database="tenk_bench_$$"

cargo build --release -q -p tenk-server
binary="$CARGO_TARGET_DIR/release/tenk-server"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $database with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

start() {
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" PORT=$port LOG_LEVEL=warn \
    REDIS_KEY_PREFIX="bench:$$:" ENABLE_APP_CACHE="$1" "$binary" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && return
    sleep 0.1
  done
  echo "the server did not start" >&2
  exit 1
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

start true
email="bench-$$@example.com"
password="benchmark password 1"
curl -sf -X POST "http://127.0.0.1:$port/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench\"}" >/dev/null
stop

run() {
  start "$1"
  token=$(curl -sf -X POST "http://127.0.0.1:$port/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/users/me")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| cache %-5s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "${errors:-0}"
  stop
}

echo "wrk -t$threads -c$connections -d$duration, $(nproc) cores shared by wrk, tenk-server, Redis and PostgreSQL"
echo "| config | req/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
for _ in 1 2; do
  run true
  run false
done
