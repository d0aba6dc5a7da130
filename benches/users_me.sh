#!/usr/bin/env bash
# GET /api/users/me (JWT verify + session check + profile) with the app cache
# on and off, measured with wrk on loopback. The two configurations run
# alternately, twice each, in one run, so their ratio survives a noisy machine.
#
#   bash benches/users_me.sh            (needs wrk, PostgreSQL and Redis on 127.0.0.1)
#   DURATION=10s CONNECTIONS=64 bash benches/users_me.sh
database="tenk_bench_$$"
port=18180
source "$(dirname "$0")/lib.sh"

email="bench-$$@example.com"
password="benchmark password 1"
start ENABLE_APP_CACHE=true RATE_LIMIT_ENABLED=false
curl -sf -X POST "http://127.0.0.1:$port/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench\"}" >/dev/null
stop

run() {
  start ENABLE_APP_CACHE="$1" RATE_LIMIT_ENABLED=false
  token=$(curl -sf -X POST "http://127.0.0.1:$port/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  row "cache $1" /api/users/me -H "Authorization: Bearer $token"
  stop
}

header
for _ in 1 2; do
  run true
  run false
done
