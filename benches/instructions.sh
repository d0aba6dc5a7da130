#!/usr/bin/env bash
# The hot path's instruction budget: a regression guard that a noisy machine
# cannot break. tenk-server (release) runs under callgrind, uninstrumented
# until the measurement; after a warm-up, counting covers exactly N requests of
# one kind, over one keep-alive connection, and the instructions counted
# (the whole process: every thread, hyper, tokio, Redis client) are divided
# by N. Instruction counts do not depend on what else the machine is doing.
#
#   bash benches/instructions.sh            report only
#   bash benches/instructions.sh --check    fail if a path exceeds its budget
#                                           (benches/instructions.budget) by
#                                           more than MARGIN percent (10)
#   bash benches/instructions.sh --update   write the measured counts as budget
#   KEEP_PROFILE=DIR bash benches/instructions.sh
#                                           also keep the dumps, for callgrind_annotate
#
# The server runs with the production defaults that matter on this path:
# rate limiter on (budget raised so that it never says 429), app cache on,
# JSON access log at info. Accounts use cheap bcrypt so that login is quick
# under valgrind; login is not on the measured path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tenk-target}"
mode="${1:-report}"
requests="${REQUESTS:-400}"
margin="${MARGIN:-10}"
budget_file="benches/instructions.budget"
port="${PORT:-18580}"
database="tenk_instr_$$"
prefix="instr:$$:"
work="$(mktemp -d)"

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
# TENK_SERVER_BIN measures another build (an older commit, say) with the same requests.
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
  rm -rf "$work"
}
trap cleanup EXIT

env DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" PORT="$port" WORKERS=2 \
  REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=info LOG_FORMAT=json PASSWORD_HASH=bcrypt BCRYPT_ROUNDS=4 \
  RATE_LIMIT_ENABLED=true RATE_LIMIT_API=1000000/1s RATE_LIMIT_PUBLIC=1000000/1s \
  RATE_LIMIT_AUTH=100000/1m \
  valgrind --tool=callgrind --instr-atstart=no --dump-instr=no \
  --callgrind-out-file="$work/callgrind.%p" "$binary" >"$work/server.log" 2>"$work/valgrind.log" &
pid=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/api/health" >/dev/null || { cat "$work/server.log" "$work/valgrind.log" >&2; exit 1; }

python3 - "$port" "$requests" "$pid" "$work" "$mode" "$budget_file" "$margin" <<'PY'
import glob, http.client, json, os, subprocess, sys

port, requests, pid, work, mode, budget_file, margin = sys.argv[1:]
requests, margin = int(requests), float(margin)

def call(connection, method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, data

connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
account = {"email": f"instr-{pid}@example.com", "password": "benchmark password 1", "name": "Instr"}
status, _ = call(connection, "POST", "/api/auth/register", account)
assert status == 201, status
status, data = call(connection, "POST", "/api/auth/login", {k: account[k] for k in ("email", "password")})
assert status == 200, status
token = json.loads(data)["access_token"]

def control(*args):
    subprocess.run(["callgrind_control", *args, pid], check=True, capture_output=True)

def measure(path, authenticated):
    for _ in range(100):  # warm-up: caches, connections, allocator
        status, _ = call(connection, "GET", path, token=token if authenticated else None)
        assert status == 200, (path, status)
    control("--instr=on")
    control("--zero")
    for _ in range(requests):
        status, _ = call(connection, "GET", path, token=token if authenticated else None)
        assert status == 200, (path, status)
    before = set(glob.glob(f"{work}/callgrind.*"))
    control("--dump")
    dumps = sorted(set(glob.glob(f"{work}/callgrind.*")) - before) or sorted(glob.glob(f"{work}/callgrind.*"))
    total = 0
    for dump in dumps:
        with open(dump) as text:
            for line in text:
                if line.startswith("summary:") or line.startswith("totals:"):
                    total = max(total, int(line.split()[1]))
                    break
        if os.environ.get("KEEP_PROFILE"):
            # KEEP_PROFILE=DIR keeps the dumps for callgrind_annotate.
            os.makedirs(os.environ["KEEP_PROFILE"], exist_ok=True)
            os.replace(dump, os.path.join(os.environ["KEEP_PROFILE"], path.strip("/").replace("/", "_") + ".callgrind"))
        else:
            os.remove(dump)
    return total // requests

paths = {"GET /api/health": ("/api/health", False), "GET /api/users/me (cached)": ("/api/users/me", True)}
measured = {name: measure(path, auth) for name, (path, auth) in paths.items()}

budget = {}
if os.path.exists(budget_file):
    for line in open(budget_file):
        line = line.strip()
        if line and not line.startswith("#"):
            name, count = line.rsplit("=", 1)
            budget[name.strip()] = int(count)

failed = False
print(f"instructions per request ({requests} requests each, callgrind, release build)")
for name, count in measured.items():
    limit = budget.get(name)
    note = ""
    if limit:
        growth = 100.0 * (count - limit) / limit
        note = f"budget {limit:,} ({growth:+.1f} %)"
        if growth > margin:
            note += f"  OVER the {margin:.0f} % margin"
            failed = True
    print(f"  {name:<28} {count:>12,}  {note}")

if mode == "--update":
    with open(budget_file, "w") as out:
        out.write("# Instructions per request, counted by benches/instructions.sh under callgrind.\n")
        out.write("# `bash benches/instructions.sh --check` fails when a path grows past its\n")
        out.write("# budget by more than MARGIN percent; rewrite with --update after a measured change.\n")
        for name, count in measured.items():
            out.write(f"{name} = {count}\n")
    print(f"wrote {budget_file}")
if mode == "--check" and failed:
    sys.exit(1)
PY
