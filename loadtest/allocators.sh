#!/usr/bin/env bash
# Memory under overload per global allocator: tenk-server built with glibc's
# malloc, with mimalloc and with jemalloc (the default), each
# run through the same overload (hot mix, RATE req/s for DURATION, then
# AFTER without load) on a fresh server and database rows, alternating
# ROUNDS times. Prints RSS before / peak / after, goodput and the server's
# CPU-seconds per 1,000 served requests, per run.
#
#   bash loadtest/allocators.sh
#   ROUNDS=2 RATE=14000 DURATION=20s AFTER=30s bash loadtest/allocators.sh
source "$(dirname "$0")/lib.sh"
rounds="${ROUNDS:-1}"
rate="${RATE:-14000}"
duration="${DURATION:-20s}"
after="${AFTER:-30s}"
users="${USERS:-1000}"
variants=(glibc mimalloc jemalloc)

build
for variant in "${variants[@]}"; do
  case "$variant" in
    glibc) features=(--no-default-features) ;;
    *) features=(--no-default-features --features "$variant") ;;
  esac
  (cd .. && cargo build -q --release --locked -p tenk-server "${features[@]}")
  cp "$CARGO_TARGET_DIR/release/tenk-server" "$results/tenk-server-$variant"
done
# Leave the default build in place for whatever runs next.
(cd .. && cargo build -q --release --locked -p tenk-server)

tenk="http://127.0.0.1:$tenk_port"
rows=()
for round in $(seq 1 "$rounds"); do
  for variant in "${variants[@]}"; do
    server_bin="$results/tenk-server-$variant"
    stop_tenk
    start_tenk ENABLE_APP_CACHE=true
    name="$variant-r$round"
    loadtest "$name" overload --target "$tenk" --auth-target "$tenk" --prefix "alloc$round$variant" \
      --mix hot --users "$users" --rate "$rate" --duration "$duration" --after "$after"
    cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$tenk_pid/stat")
    served=$(field "$name" overload.admitted)
    rows+=("| $variant | $round | $(field "$name" overload.memory.rss_mb_before) | $(field "$name" overload.memory.rss_mb_peak) | $(field "$name" overload.memory.rss_mb_end) | $(field "$name" overload.goodput_rate) | $(python3 -c 'import sys
try: print(f"{1000 * float(sys.argv[1]) / float(sys.argv[2]):.2f}")
except (ValueError, ZeroDivisionError): print("-")' "$cpu" "$served") |")
  done
done
stop_tenk

echo
echo "$(date -u +%F), $(nproc) cores; hot mix, $users users, $rate req/s for $duration then $after idle; reports in $results"
echo
echo "| allocator | round | RSS before MB | peak MB | $after after MB | goodput req/s | server CPU-s per 1,000 served (whole run) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
