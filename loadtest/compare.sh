#!/usr/bin/env bash
# tenk and the Hono peer (peers/hono: the seed's stack doing tenk's hot path)
# under the same load, alternating, in one run on one machine; prints each
# figure for both and the ratio. The load is the hot-path mix (profile reads
# and post lists, authenticated), the only one the peer serves:
#   seed-mix at USERS users (the seed's classes) at 1x and at the 2x peak;
#   capacity: constant-rate steps until p95 > 100 ms or errors > 1 %.
# Accounts are registered and logged in through tenk (the peer verifies
# tenk's tokens against the same Redis sessions and database).
#
#   bash loadtest/compare.sh        (needs PostgreSQL and Redis on 127.0.0.1, npm)
#   ROUNDS=2 DURATION=20s USERS=10000 APP_CACHE=true STEP=5s bash loadtest/compare.sh
source "$(dirname "$0")/lib.sh"
rounds="${ROUNDS:-2}"
duration="${DURATION:-20s}"
users="${USERS:-10000}"
cache="${APP_CACHE:-true}"
step="${STEP:-5s}"

build
install_peer
start_tenk ENABLE_APP_CACHE="$cache"
start_peer APP_CACHE="$cache"
tenk="http://127.0.0.1:$tenk_port"
peer="http://127.0.0.1:$peer_port"
mapfile -t peer_metrics < <(peer_metrics_args)
auth=(--auth-target "$tenk" --prefix compare)

for round in $(seq 1 "$rounds"); do
  for peak in 1 2; do
    loadtest "tenk-mix-x$peak-r$round" seed-mix --target "$tenk" "${auth[@]}" --mix hot \
      --users "$users" --peak "$peak" --duration "$duration"
    loadtest "peer-mix-x$peak-r$round" seed-mix --target "$peer" "${auth[@]}" "${peer_metrics[@]}" \
      --mix hot --users "$users" --peak "$peak" --duration "$duration"
  done
  for server in tenk peer; do
    url="$tenk"; metrics=()
    [ "$server" = peer ] && url="$peer" && metrics=("${peer_metrics[@]}")
    loadtest "$server-capacity-r$round" capacity --target "$url" "${auth[@]}" "${metrics[@]}" \
      --mix hot --users 1000 --start-rate 2000 --factor 1.5 --max-steps 12 --step-duration "$step"
  done
done

echo
echo "$(date -u +%F), $(nproc) cores shared by tenk-loadtest, tenk-server, the peer, Redis and PostgreSQL;"
echo "hot mix (GET /api/users/me + GET /api/posts), app caches: $cache; reports in $results"
echo
echo "| run | figure | tenk | peer | peer / tenk |"
echo "| --- | --- | ---: | ---: | ---: |"
row() { # row RUN LABEL PATH NAME_TENK NAME_PEER
  local a b
  a=$(field "$4" "$3"); b=$(field "$5" "$3")
  echo "| $1 | $2 | $a | $b | $(ratio "$b" "$a") |"
}
for round in $(seq 1 "$rounds"); do
  for peak in 1 2; do
    t="tenk-mix-x$peak-r$round"; p="peer-mix-x$peak-r$round"
    run="seed-mix ${users} users x$peak, round $round"
    row "$run" "achieved req/s" run.achieved_rate "$t" "$p"
    row "$run" "p50 ms" run.latency.p50_ms "$t" "$p"
    row "$run" "p95 ms" run.latency.p95_ms "$t" "$p"
    row "$run" "p99 ms" run.latency.p99_ms "$t" "$p"
    row "$run" "errors" run.errors "$t" "$p"
    row "$run" "server CPU (cores)" server.cpu_cores_used "$t" "$p"
    row "$run" "server RSS after (MB)" server.rss_mb_after "$t" "$p"
    row "$run" "session lookup p99 (ms, bucket bound)" server.session_lookup.all.p99_le_ms "$t" "$p"
  done
  row "capacity, round $round" "highest held req/s" capacity.highest_held_rate "tenk-capacity-r$round" "peer-capacity-r$round"
  row "capacity, round $round" "achieved there" capacity.highest_held_achieved_rate "tenk-capacity-r$round" "peer-capacity-r$round"
done
