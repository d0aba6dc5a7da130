#!/usr/bin/env bash
# Resident memory after real logins: the production password hash (argon2id,
# 19 MiB per hash) on every register and login, N of each, then RSS read from
# /proc. Compares the fresh process with the same process after the logins.
#
#   bash benches/login_memory.sh                 (N=300; PostgreSQL and Redis on 127.0.0.1)
#   N=100 TENK_SERVER_BIN=/path/to/tenk-server bash benches/login_memory.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tenk-target}"
count="${N:-300}"
port="${PORT:-18590}"
database="tenk_loginmem_$$"
prefix="loginmem:$$:"
if [ -n "${TENK_SERVER_BIN:-}" ]; then
  binary="$TENK_SERVER_BIN"
else
  cargo build --release -q --locked -p tenk-server
  binary="$CARGO_TARGET_DIR/release/tenk-server"
fi
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $database with (force)" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "${prefix}*" 2>/dev/null | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
}
trap cleanup EXIT
env DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" PORT="$port" REDIS_KEY_PREFIX="$prefix" \
  LOG_LEVEL=warn RATE_LIMIT_ENABLED=false "$binary" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
python3 - "$port" "$pid" "$count" <<'PY'
import http.client, json, sys, concurrent.futures
port, pid, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
def call(path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    r = c.getresponse(); r.read(); return r.status
fresh = rss()
def one(i):
    email = f"mem-{pid}-{i}@example.com"
    account = {"email": email, "password": "correct horse battery staple", "name": "Mem"}
    assert call("/api/auth/register", account) == 201
    assert call("/api/auth/login", {"email": email, "password": account["password"]}) == 200
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(one, range(count)))
after = rss()
print(f"| {count} registrations + {count} logins (argon2id m=19456 KiB, t=2) | {fresh:.1f} MB | {after:.1f} MB | {after - fresh:+.1f} MB |")
PY
