#!/usr/bin/env bash
# The rate limiter's cost: GET /api/health (public tier) with the limiter off,
# and on with a limit too high to reject (so every request still pays one
# Redis GCRA script). Alternating, twice each, in one run.
#
#   bash benches/rate_limit.sh          (needs wrk, PostgreSQL and Redis on 127.0.0.1)
database="tenk_bench_$$"
port=18181
source "$(dirname "$0")/lib.sh"

header
for _ in 1 2; do
  start RATE_LIMIT_ENABLED=false
  row "limiter off" /api/health
  stop
  start RATE_LIMIT_ENABLED=true RATE_LIMIT_PUBLIC=1000000/1s
  row "limiter on" /api/health
  stop
done
