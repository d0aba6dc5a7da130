#!/usr/bin/env bash
# tenk alone, every figure BENCHMARKS.md asks of it, in one run on a fresh
# server and database:
#   seed-mix, full mix, USERS users at the seed's rates and at the 2x peak
#     (achieved rate, p95, p99, errors; RSS with USERS active sessions;
#     session-lookup p99 from the server's histogram);
#   capacity over the authenticated read mix, then over the full mix with writes.
#
#   bash loadtest/bench.sh          (needs PostgreSQL and Redis on 127.0.0.1)
#   USERS=10000 DURATION=30s STEP=10s bash loadtest/bench.sh
source "$(dirname "$0")/lib.sh"
users="${USERS:-10000}"
duration="${DURATION:-30s}"
step="${STEP:-10s}"

build
start_tenk
tenk="http://127.0.0.1:$tenk_port"
loadtest mix-x1 seed-mix --target "$tenk" --users "$users" --duration "$duration" --mix full
loadtest mix-x2 seed-mix --target "$tenk" --users "$users" --peak 2 --duration "$duration" --mix full
# A fresh server for each search: the step that breaks one leaves it changed
# (connections, memory), and the next search must not start from that.
stop_tenk
start_tenk
loadtest capacity-read capacity --target "$tenk" --mix read --users 1000 \
  --start-rate 2000 --factor 1.5 --max-steps 12 --step-duration "$step"
stop_tenk
start_tenk
loadtest capacity-full capacity --target "$tenk" --mix full --users 1000 \
  --start-rate 1000 --factor 1.5 --max-steps 12 --step-duration "$step"

echo
echo "$(date -u +%F), $(nproc) cores shared by tenk-loadtest, tenk-server, Redis and PostgreSQL;"
echo "load average at the start of each run is in its report; reports in $results"
echo
echo "| run | offered req/s | achieved req/s | p50 | p95 | p99 | max | errors | server CPU | RSS before -> after | sessions | lookup p99 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in mix-x1 mix-x2; do
  echo "| seed-mix $users users ${n#mix-} | $(field $n run.offered_rate) | $(field $n run.achieved_rate)" \
    "| $(field $n run.latency.p50_ms) ms | $(field $n run.latency.p95_ms) ms | $(field $n run.latency.p99_ms) ms" \
    "| $(field $n run.latency.max_ms) ms | $(field $n run.errors) | $(field $n server.cpu_cores_used)" \
    "| $(field $n server.rss_mb_before) -> $(field $n server.rss_mb_after) MB" \
    "| $(field $n server.sessions_active_before) | <= $(field $n server.session_lookup.all.p99_le_ms) ms |"
done
echo
echo "| capacity | highest held req/s | achieved there | first failing step |"
echo "| --- | ---: | ---: | --- |"
for n in capacity-read capacity-full; do
  failing=$(python3 - "$results/$n.json" <<'PY'
import json, sys
steps = json.load(open(sys.argv[1]))["capacity"]["steps"]
bad = [s for s in steps if not s["held"]]
print(f'{bad[0]["rate"]:.0f} req/s: {bad[0]["reason"]}' if bad else "none (max steps reached)")
PY
)
  echo "| ${n#capacity-} mix | $(field $n capacity.highest_held_rate) | $(field $n capacity.highest_held_achieved_rate) | $failing |"
done
