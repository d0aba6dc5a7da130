"""nginx in front of three tenk instances: revocation reaches every instance
within 100 ms, a rate limit is shared exactly, and killing an instance under
load loses no request beyond those in flight to it."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
from tenkops import Cleanup, Results, free_port, fresh_database, http, new_user, parallel, start_server, stop, wait_port  # noqa: E402

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream tenk {{
        least_conn;
{servers}
        keepalive 32;
        keepalive_timeout 5s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tenk;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
"""


def main():
    results = Results("nginx")
    with Cleanup() as cleanup:
        database = fresh_database(cleanup)
        env = {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_KEY_PREFIX": f"engines:{uuid.uuid4().hex}:",
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "RATE_LIMIT_AUTH": "30/5m",
            "RATE_LIMIT_API": "100000/1m",
            "RATE_LIMIT_PUBLIC": "1000000/1m",
        }
        instances = []
        for n in range(3):
            process, port = start_server({**env, "INSTANCE_ID": f"api-{n + 1}"}, cleanup)
            instances.append((process, port))
        temp = tempfile.mkdtemp(prefix="tenk-nginx-")
        for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"]:
            os.makedirs(os.path.join(temp, sub))
        lb_port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for _, port in instances)
        conf = os.path.join(temp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=temp, servers=servers, port=lb_port))
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", temp, "-g", "daemon off; user root;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cleanup.add(lambda: stop(nginx))
        cleanup.add(lambda: subprocess.run(["rm", "-rf", temp]))
        wait_port(lb_port)
        base = f"http://127.0.0.1:{lb_port}"

        # 1. Revocation through one instance reaches the other two.
        email, tokens = new_user(base)
        token = tokens["access_token"]
        for _, port in instances:
            for _ in range(2):  # fill each instance's session cache
                http("GET", f"http://127.0.0.1:{port}/api/users/me", token=token)
        status, _, _ = http("POST", f"http://127.0.0.1:{instances[0][1]}/api/auth/logout", token=token)
        revoked_at = time.monotonic()
        delays = []
        for _, port in instances:
            while True:
                status, _, _ = http("GET", f"http://127.0.0.1:{port}/api/users/me", token=token)
                if status == 401:
                    delays.append((time.monotonic() - revoked_at) * 1000)
                    break
                if time.monotonic() - revoked_at > 5:
                    delays.append(float("inf"))
                    break
                time.sleep(0.002)
        worst = max(delays)
        results.check(f"a revoked session is refused by all three instances within 100 ms (worst {worst:.1f} ms)",
                      worst <= 100, f"{delays}")
        print(f"      revocation delays per instance (ms): {', '.join(f'{d:.1f}' for d in delays)}")

        # 2. One rate limit, shared exactly across the three instances.
        # A client of its own (nginx appends the peer; tenk trusts 127.0.0.1 and
        # keys by the address before it), so earlier requests do not count.
        client = {"x-forwarded-for": "198.51.100.77"}
        calls = [lambda: http("POST", f"{base}/api/auth/refresh", {"refresh_token": "no.such"}, headers=client)[0]
                 for _ in range(60)]
        statuses = parallel(calls, workers=12)
        admitted = statuses.count(401)
        limited = statuses.count(429)
        results.check(f"60 requests through nginx against a 30/5m limit: {admitted} admitted, {limited} limited",
                      (admitted, limited) == (30, 30), f"{statuses}")

        # 3. Kill one instance under load: nginx routes around it.
        victim = instances[1][0]
        outcomes = []
        deadline = time.monotonic() + 3.0

        def worker():
            local = []
            while time.monotonic() < deadline and len(local) < 2000:
                try:
                    local.append(http("GET", f"{base}/api/health", timeout=5)[0])
                except Exception as error:  # a dropped connection counts as a failure
                    local.append(repr(error))
            return local

        def killer():
            time.sleep(1.0)
            victim.send_signal(signal.SIGKILL)
            return []

        for chunk in parallel([worker] * 8 + [killer], workers=9):
            outcomes.extend(chunk if isinstance(chunk, list) else [repr(chunk)])
        failures = [o for o in outcomes if o != 200]
        results.check(f"killing an instance under load: {len(outcomes)} requests, {len(failures)} failed (at most the 8 in flight)",
                      len(failures) <= 8 and len(outcomes) > 100, f"{failures[:5]}")
        status, _, _ = http("GET", f"{base}/api/health")
        results.check("after the kill, requests through nginx still succeed", status == 200)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
