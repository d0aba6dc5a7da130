#!/usr/bin/env bash
# CPU per request, side by side in one run: tenk's hot paths (limiter on and
# off), the Hono/Bun peer doing tenk's /me, and the axum baselines
# (tenk-baseline: a hello route, and /me as JWT verify + one Redis HGET).
# Each row is one wrk run; CPU is the server's utime + stime from /proc
# (summed over its child processes) divided by the requests it answered, a
# figure that barely depends on what else shares the cores. Rounds
# alternate the servers so drift hits each alike.
#
#   bash loadtest/cpu.sh                 (needs wrk, npm, PostgreSQL and Redis on 127.0.0.1)
#   ROUNDS=3 DURATION=10s CONNECTIONS=64 bash loadtest/cpu.sh
#
# tenk runs with its production logging (JSON access lines at info, to a
# file) and, for "limiter on", budgets raised so that it never says 429:
# every request still pays its Redis check.
source "$(dirname "$0")/lib.sh"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
baseline_port="${BASELINE_PORT:-18495}"
baseline_pid=""

build
(cd .. && cargo build -q --release -p tenk-baseline)
baseline_bin="$CARGO_TARGET_DIR/release/tenk-baseline"
install_peer

stop_baseline() {
  if [ -n "$baseline_pid" ]; then kill "$baseline_pid" 2>/dev/null || true; wait "$baseline_pid" 2>/dev/null || true; fi
  baseline_pid=""
}
trap 'stop_baseline; cleanup' EXIT

# cpu_ticks PID: utime + stime of PID and its children, in clock ticks.
cpu_ticks() {
  local total=0 pid fields
  for pid in "$1" $(pgrep -P "$1" || true); do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
  done
  echo "$total"
}

# measure LABEL PID URL [wrk args...]: one Markdown row.
measure() {
  local label="$1" pid="$2" url="$3"
  shift 3
  local before after out requests
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c"$connections" -d"$duration" --latency "$@" "$url")
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" \
    "$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
    "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)" \
    "$(python3 -c 'import os,sys; print(round((int(sys.argv[2]) - int(sys.argv[1])) * 1e6 / os.sysconf("SC_CLK_TCK") / max(int(sys.argv[3]), 1)))' "$before" "$after" "$requests")"
}

# tenk with its production logging; $1: limiter on or off.
start_tenk_for() {
  start_tenk LOG_LEVEL=info LOG_FORMAT=json RATE_LIMIT_ENABLED="$1" \
    RATE_LIMIT_API=1000000/1s RATE_LIMIT_PUBLIC=1000000/1s "${@:2}"
}

# One account and a post, and an access token for it (read by every server).
start_tenk_for false
email="cpu-$run_id@example.com"
password="benchmark password 1"
curl -sf -X POST "http://127.0.0.1:$tenk_port/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench\"}" >/dev/null
token=$(curl -sf -X POST "http://127.0.0.1:$tenk_port/api/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -X POST "http://127.0.0.1:$tenk_port/api/posts" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"title":"bench","body":"a post to list"}' >/dev/null
stop_tenk
bearer=(-H "Authorization: Bearer $token")
tenk="http://127.0.0.1:$tenk_port"

echo "wrk -t2 -c$connections -d$duration per row; $(nproc) cores shared by wrk, the server, Redis and PostgreSQL"
echo
echo "| server and path | req/s | p50 | p99 | non-2xx | server CPU µs/request |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for round in $(seq 1 "$rounds"); do
  env PORT="$baseline_port" JWT_SECRET="$jwt_secret" REDIS_KEY_PREFIX="$redis_prefix" "$baseline_bin" &
  baseline_pid=$!
  wait_for "http://127.0.0.1:$baseline_port/hello"
  measure "axum baseline: hello" "$baseline_pid" "http://127.0.0.1:$baseline_port/hello"
  measure "axum baseline: /me (JWT + one Redis HGET)" "$baseline_pid" \
    "http://127.0.0.1:$baseline_port/api/users/me" "${bearer[@]}"
  stop_baseline

  for limiter in true false; do
    start_tenk_for "$limiter"
    measure "tenk /api/health, limiter $limiter" "$tenk_pid" "$tenk/api/health"
    measure "tenk /api/users/me cached, limiter $limiter" "$tenk_pid" "$tenk/api/users/me" "${bearer[@]}"
    measure "tenk /api/posts cached, limiter $limiter" "$tenk_pid" "$tenk/api/posts" "${bearer[@]}"
    stop_tenk
  done
  start_tenk_for true ENABLE_APP_CACHE=false
  measure "tenk /api/users/me uncached, limiter true" "$tenk_pid" "$tenk/api/users/me" "${bearer[@]}"
  stop_tenk

  start_peer APP_CACHE=true
  measure "Hono/Bun peer /api/users/me (cache on)" "$peer_pid" "http://127.0.0.1:$peer_port/api/users/me" "${bearer[@]}"
  stop_peer
  if [ "$round" -lt "$rounds" ]; then echo "| | | | | | |"; fi
done
