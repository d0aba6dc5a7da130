#!/usr/bin/env bash
# Does an answer's timing tell which accounts exist? Login with an unknown
# email against a wrong password for a real account (both verify one hash),
# and a one-time-code request for an unknown against a known address (both
# store a code). N of each, interleaved, one at a time; median and p90 per
# case, and the ratio of medians. The API tests assert the mechanism
# (one hash verification per login, a stored code for every address); this
# measures the time, which a test on a shared machine cannot do reliably.
#
#   bash benches/enumeration_timing.sh           (N=60; PostgreSQL and Redis on 127.0.0.1)
#   bash benches/enumeration_timing.sh --check   (also exit 1 when a ratio leaves 1/3..3)
#   N=20 TENK_SERVER_BIN=/path/to/tenk-server bash benches/enumeration_timing.sh
set -euo pipefail
count="${N:-60}"
port="${PORT:-18591}"
database="tenk_enumtiming_$$"
check="${1:-}"
source "$(dirname "$0")/lib.sh"
# No rate limits, and the code mails go to the log: only the work of each
# path is measured. Each account is tried once, below the login throttle.
start RATE_LIMIT_ENABLED=false MAIL_TRANSPORT=log
pid="$server_pid"
python3 - "$port" "$pid" "$count" "$check" <<'PY'
import http.client, json, statistics, sys, time
port, pid, count, check = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def call(path, body):
    started = time.perf_counter()
    connection.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    response = connection.getresponse(); response.read()
    return response.status, time.perf_counter() - started
password = "correct horse battery staple"
known = [f"known-{pid}-{i}@example.com" for i in range(count)]
for email in known:
    assert call("/api/auth/register", {"email": email, "password": password, "name": "Known"})[0] == 201
times = {case: [] for case in ("login unknown", "login wrong password", "code unknown", "code known")}
for i, email in enumerate(known):
    unknown = f"unknown-{pid}-{i}@example.com"
    for case, path, body, expected in (
        ("login unknown", "/api/auth/login", {"email": unknown, "password": password}, 401),
        ("login wrong password", "/api/auth/login", {"email": email, "password": "wrong " + password}, 401),
        ("code unknown", "/api/auth/otp/request", {"email": unknown}, 202),
        ("code known", "/api/auth/otp/request", {"email": email}, 202),
    ):
        status, elapsed = call(path, body)
        assert status == expected, (case, status)
        times[case].append(elapsed)
print("| case | median | p90 | ratio of medians |")
print("| --- | ---: | ---: | ---: |")
failed = False
for probe, baseline in (("login unknown", "login wrong password"), ("code unknown", "code known")):
    ratio = statistics.median(times[probe]) / statistics.median(times[baseline])
    failed |= not (1 / 3 <= ratio <= 3)
    for case, shown in ((baseline, "1"), (probe, f"{ratio:.2f}")):
        ms = sorted(t * 1000 for t in times[case])
        print(f"| {case} | {statistics.median(ms):.2f} ms | {ms[int(len(ms) * 0.9)]:.2f} ms | {shown} |")
sys.exit(1 if failed and check == "--check" else 0)
PY
