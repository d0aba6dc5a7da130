#!/usr/bin/env bash
# Resident memory after real logins: the production password hash (argon2id,
# 19 MiB per hash) on every register and login, N of each, then RSS read from
# /proc. Compares the fresh process with the same process after the logins.
#
#   bash benches/login_memory.sh                 (N=300; PostgreSQL and Redis on 127.0.0.1)
#   N=100 TENK_SERVER_BIN=/path/to/tenk-server bash benches/login_memory.sh
set -euo pipefail
count="${N:-300}"
port="${PORT:-18590}"
database="tenk_loginmem_$$"
source "$(dirname "$0")/lib.sh"
start RATE_LIMIT_ENABLED=false
pid="$server_pid"
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
