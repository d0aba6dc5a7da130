#!/usr/bin/env bash
# The contract test: schemathesis attacks a real tenk-server through its own
# OpenAPI document, unauthenticated, as a user and as an admin, with every
# check and the examples, coverage, fuzzing and stateful phases. Any finding
# fails the run.
#
#   bash server/schemathesis.sh
#   TENK_SERVER_BIN=/path/to/tenk-server ST_MAX_EXAMPLES=20 bash server/schemathesis.sh
#
# Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379),
# as the tests do. Installs schemathesis (pinned, from PyPI) into a venv at
# $ST_VENV; starts the server on a fresh database and Redis key prefix, and
# removes the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

SCHEMATHESIS_VERSION=4.32.5
ST_VENV="${ST_VENV:-/var/tmp/tenk-schemathesis-venv}"
ST_MAX_EXAMPLES="${ST_MAX_EXAMPLES:-15}"
BIN="${TENK_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/debug/tenk-server}"
PSQL=(psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)

if [ ! -x "$BIN" ]; then
  echo "schemathesis.sh: no tenk-server at $BIN (cargo build -p tenk-server, or set TENK_SERVER_BIN)" >&2
  exit 1
fi
if [ "$("$ST_VENV/bin/st" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1)" != "$SCHEMATHESIS_VERSION" ]; then
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

suffix="$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
db="tenk_st_$suffix"
work="$(mktemp -d -t tenk-st-XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  "${PSQL[@]}" -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"${PSQL[@]}" -c "create database $db"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export REDIS_URL="redis://127.0.0.1:6379/0"
export REDIS_KEY_PREFIX="tenk-st-$suffix:"
export HOST=127.0.0.1 PORT=0 LOG_FORMAT=json LOG_LEVEL=warn,tenk_server=info
export MAIL_TRANSPORT=log SHUTDOWN_TIMEOUT=3s
# With a token set, /metrics and /api/health/detailed refuse anyone without it.
export OPS_TOKEN="ops-$suffix-$suffix-$suffix"
# One client IP sends every request: the limits must not be what is tested.
export RATE_LIMIT_AUTH=1000000/1m RATE_LIMIT_API=1000000/1m RATE_LIMIT_PUBLIC=1000000/1m
export RATE_LIMIT_OTP_REQUEST=1000000/1m RATE_LIMIT_OTP_REQUEST_IP=1000000/1m
export RATE_LIMIT_OTP_VERIFY=1000000/1m RATE_LIMIT_LOGIN_FAILURES=1000000/1m
# The per-address resend interval is a rule, not a limit: at its shortest,
# so requesting codes and reset mails is tested past the first answer.
export OTP_RESEND_INTERVAL=1s

"$BIN" migrate >/dev/null
"$BIN" >"$work/server.log" 2>&1 &
server_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(grep -o '"addr":"[^"]*"' "$work/server.log" | head -n 1 | cut -d'"' -f4 || true)"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "the server logged no address" >&2; cat "$work/server.log" >&2; exit 1; }
base="http://$base"
echo "tenk-server at $base (database $db)"

password="schemathesis-$suffix-password"
# POSTs JSON ($2) to $base$1 and prints the reply; python3 is here anyway
# (the venv), curl may not be on a fresh machine.
post_json() {
  python3 - "$base$1" "$2" <<'PY'
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),
                                 headers={"content-type": "application/json"})
with urllib.request.urlopen(request, timeout=10) as reply:
    sys.stdout.write(reply.read().decode())
PY
}
token_for() {
  post_json /api/auth/login "{\"email\":\"$1\",\"password\":\"$password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
user_email="st-user-$suffix@example.com"
admin_email="st-admin-$suffix@example.com"
post_json /api/auth/register \
  "{\"email\":\"$user_email\",\"password\":\"$password\",\"name\":\"Schemathesis User\"}" >/dev/null
TENK_ADMIN_PASSWORD="$password" "$BIN" create-admin --email "$admin_email" --name "Schemathesis Admin" >/dev/null
user_token="$(token_for "$user_email")"
admin_token="$(token_for "$admin_email")"

# An authenticated run must not end its own session half-way: logout, the
# caller's session revocations and the account's deletion are left to the
# unauthenticated run (and to the API tests).
self_ending=(--exclude-path /api/auth/logout --exclude-path /api/auth/sessions
  --exclude-path '/api/auth/sessions/{id}' --exclude-path /api/users/me/password)
run() {
  local who="$1"
  shift
  echo "== schemathesis: $who"
  # In the scratch directory: schemathesis and hypothesis keep caches in the
  # working directory, and a cached failure would be replayed next time.
  (cd "$work" && "$ST_VENV/bin/st" --config-file "$repo/server/schemathesis.toml" \
    run "$base/api/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$ST_MAX_EXAMPLES" \
    --request-timeout 10 \
    --seed 15 \
    --no-color \
    "$@")
}
status=0
run "unauthenticated" || status=1
run "as a user" -H "Authorization: Bearer $user_token" "${self_ending[@]}" \
  --exclude-method DELETE --exclude-path /api/users/me || status=1
run "as an admin" -H "Authorization: Bearer $admin_token" "${self_ending[@]}" \
  --include-path-regex '^/api/admin/' || status=1
if [ "$status" -ne 0 ]; then
  echo "schemathesis found problems; server log tail:" >&2
  tail -n 30 "$work/server.log" >&2
fi
exit "$status"
