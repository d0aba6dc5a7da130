#!/usr/bin/env bash
# Capacity and overload, the issue's "Measure" figures, in one run on one
# machine:
#   1. capacity on the hot mix (GET /api/users/me + GET /api/posts, 1,000
#      users) for tenk and for the Hono peer, alternating, ROUNDS times, each
#      search on a freshly started server and after a warm-up at its first
#      step's rate (so cold caches and Bun's cold JIT do not decide it);
#   2. overload against a fresh tenk at twice tenk's held rate (the best of
#      its rounds) for DURATION, then AFTER without load; the server warms up
#      at the held rate first, so "RSS before" is a warm server's.
# Prints one Markdown table: both held rates and their ratio, then the
# overload run's goodput (as % of the held rate), admitted p50/p99, shed
# count and shed-reply p50/p99, timeouts, RSS before / peak / after.
#
# tenk runs production-like: app cache on; the limiter off as lib.sh sets
# it (every request comes from 127.0.0.1).
#
#   bash loadtest/overload.sh        (needs PostgreSQL and Redis on 127.0.0.1, npm)
#   ROUNDS=2 STEP=10s WARMUP=10s START_RATE=1000 DURATION=30s AFTER=30s bash loadtest/overload.sh
source "$(dirname "$0")/lib.sh"
rounds="${ROUNDS:-1}"
step="${STEP:-10s}"
warmup="${WARMUP:-10s}"
start_rate="${START_RATE:-1000}"
factor="${FACTOR:-1.5}"
max_steps="${MAX_STEPS:-12}"
users="${USERS:-1000}"
duration="${DURATION:-30s}"
after="${AFTER:-30s}"

build
install_peer
tenk="http://127.0.0.1:$tenk_port"
peer="http://127.0.0.1:$peer_port"
mapfile -t peer_metrics < <(peer_metrics_args)
auth=(--auth-target "$tenk" --prefix overload)
search=(--mix hot --users "$users" --warmup "$warmup" --start-rate "$start_rate"
  --factor "$factor" --max-steps "$max_steps" --step-duration "$step")

for round in $(seq 1 "$rounds"); do
  # A fresh server for each search: the step that breaks one leaves it
  # changed (connections, memory), and the next search must not start there.
  # tenk stays up through the peer's search: it owns the schema and logs the
  # peer's users in.
  stop_tenk
  start_tenk ENABLE_APP_CACHE=true
  loadtest "tenk-capacity-r$round" capacity --target "$tenk" "${auth[@]}" "${search[@]}"
  start_peer APP_CACHE=true
  loadtest "peer-capacity-r$round" capacity --target "$peer" "${auth[@]}" "${peer_metrics[@]}" "${search[@]}"
  stop_peer
done

# best NAME_PREFIX: the highest held rate over the rounds ("-" if none held).
best() {
  python3 - "$results" "$1" "$rounds" <<'EOF'
import json, sys
results, prefix, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = [json.load(open(f"{results}/{prefix}-r{r}.json"))["capacity"]["highest_held_rate"]
        for r in range(1, rounds + 1)]
held = [h for h in held if h is not None]
print(f"{max(held):.0f}" if held else "-")
EOF
}
tenk_held=$(best tenk-capacity)
peer_held=$(best peer-capacity)
if [ "$tenk_held" = "-" ]; then
  echo "tenk held no step (from $start_rate req/s): lower START_RATE; reports in $results" >&2
  exit 1
fi
overload_rate=$((2 * tenk_held))

stop_tenk
start_tenk ENABLE_APP_CACHE=true
loadtest overload overload --target "$tenk" "${auth[@]}" --mix hot --users "$users" \
  --rate "$overload_rate" --duration "$duration" --after "$after" \
  --warmup "$warmup" --warmup-rate "$tenk_held"

o() { field overload "overload.$1"; }
echo
echo "$(date -u +%F), $(nproc) cores shared by tenk-loadtest, tenk-server, the peer, Redis and PostgreSQL;"
echo "hot mix (GET /api/users/me + GET /api/posts), $users users, app caches on, limiter off;"
echo "capacity: p95 <= 100 ms and errors <= 1 % per $step step from $start_rate req/s x $factor, after a $warmup warm-up;"
echo "overload: $overload_rate req/s (2x tenk's held rate) for $duration, then $after without load; reports in $results"
echo
echo "| figure | value |"
echo "| --- | ---: |"
for round in $(seq 1 "$rounds"); do
  t=$(field "tenk-capacity-r$round" capacity.highest_held_rate)
  p=$(field "peer-capacity-r$round" capacity.highest_held_rate)
  echo "| capacity round $round: tenk / peer held req/s | $t / $p |"
done
echo "| tenk held req/s (best) | $tenk_held |"
echo "| peer held req/s (best) | $peer_held |"
echo "| tenk / peer held | $(ratio "$tenk_held" "$peer_held") |"
echo "| overload offered req/s | $(o offered_rate) |"
goodput=$(o goodput_rate)
echo "| overload goodput req/s (% of tenk's held) | $goodput ($(python3 -c 'import sys
try: print(f"{100 * float(sys.argv[1]) / float(sys.argv[2]):.0f} %")
except (ValueError, ZeroDivisionError): print("-")' "$goodput" "$tenk_held")) |"
echo "| admitted (2xx) p50 / p99 ms | $(o admitted_latency.p50_ms) / $(o admitted_latency.p99_ms) |"
echo "| shed (503) | $(o shed) |"
echo "| shed p50 / p99 ms | $(o shed_latency.p50_ms) / $(o shed_latency.p99_ms) |"
echo "| rate-limited (429) | $(o rate_limited) |"
echo "| timeouts (+ abandoned) | $(o timeouts) (+ $(o abandoned)) |"
echo "| transport errors / dropped by the generator | $(o transport_errors) / $(o dropped) |"
echo "| failures in all (neither served nor refused) | $(o failures) |"
echo "| RSS before / peak / $after after (MB) | $(o memory.rss_mb_before) / $(o memory.rss_mb_peak) / $(o memory.rss_mb_end) |"
