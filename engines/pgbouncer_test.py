"""The full API flow through PgBouncer in transaction mode, one request at a
time and then concurrently. sqlx sends Parse and Bind in separate round
trips, so transaction pooling needs PgBouncer 1.21+ tracking prepared
statements (`max_prepared_statements`); pgbouncer.sh provides one.
Migrations run against PostgreSQL directly (DB_MIGRATE_ON_START=false), as
deploy/ does."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
from tenkops import PASSWORD, SERVER, Cleanup, Results, free_port, fresh_database, http, new_user, parallel, start_server, stop, wait_port  # noqa: E402


def main():
    results = Results("pgbouncer")
    with Cleanup() as cleanup:
        database = fresh_database(cleanup)
        direct = f"postgres://postgres@127.0.0.1:5432/{database}"
        subprocess.run([SERVER, "migrate"], env={"DATABASE_URL": direct, "PATH": os.environ["PATH"]},
                       check=True, stdout=subprocess.DEVNULL, cwd="/tmp")
        temp = tempfile.mkdtemp(prefix="tenk-pgbouncer-")
        cleanup.add(lambda: shutil.rmtree(temp, ignore_errors=True))
        port = free_port()
        with open(os.path.join(temp, "userlist.txt"), "w") as f:
            f.write('"postgres" ""\n')
        with open(os.path.join(temp, "pgbouncer.ini"), "w") as f:
            f.write(f"""[databases]
{database} = host=127.0.0.1 port=5432 dbname={database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {temp}/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 8
logfile = {temp}/pgbouncer.log
pidfile = {temp}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
max_prepared_statements = 200
""")
        shutil.chown(temp, "postgres")
        for name in os.listdir(temp):
            shutil.chown(os.path.join(temp, name), "postgres")
        # PgBouncer refuses to run as root.
        binary = subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "pgbouncer.sh")],
                                check=True, capture_output=True, text=True).stdout.strip()
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[1]
        print(f"      PgBouncer {version} ({binary})")
        bouncer = subprocess.Popen(["runuser", "-u", "postgres", "--", binary, f"{temp}/pgbouncer.ini"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cleanup.add(lambda: stop(bouncer))
        wait_port(port)

        pooled = f"postgres://postgres@127.0.0.1:{port}/{database}"
        _, api_port = start_server({
            "DATABASE_URL": pooled,
            "DB_MIGRATE_ON_START": "false",
            "REDIS_KEY_PREFIX": f"engines:{uuid.uuid4().hex}:",
            "RATE_LIMIT_AUTH": "100000/5m",
        }, cleanup)
        base = f"http://127.0.0.1:{api_port}"

        email, tokens = new_user(base)
        token = tokens["access_token"]
        steps = [
            ("profile", "GET", "/api/users/me", None, 200),
            ("rename", "PATCH", "/api/users/me", {"name": "Through PgBouncer"}, 200),
            ("create a post", "POST", "/api/posts", {"title": "pooled", "body": "b"}, 201),
            ("list posts", "GET", "/api/posts?q=pool", None, 200),
            ("own sessions", "GET", "/api/auth/sessions", None, 200),
            ("database health", "GET", "/api/health/database", None, 200),
        ]
        post_id = None
        for label, method, path, body, expected in steps:
            status, answer, _ = http(method, base + path, body, token=token)
            results.check(f"through PgBouncer: {label} -> {expected}", status == expected, f"{status} {answer}")
            if label == "create a post" and isinstance(answer, dict):
                post_id = answer.get("id")
        for label, method, body, expected in [("read the post", "GET", None, 200),
                                               ("edit the post", "PATCH", {"body": "edited"}, 200),
                                               ("delete the post", "DELETE", None, 204)]:
            status, answer, _ = http(method, f"{base}/api/posts/{post_id}", body, token=token)
            results.check(f"through PgBouncer: {label} -> {expected}", status == expected, f"{status} {answer}")
        admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        subprocess.run([SERVER, "create-admin", "--email", admin_email],
                       env={"DATABASE_URL": direct, "TENK_ADMIN_PASSWORD": PASSWORD, "PATH": os.environ["PATH"]},
                       check=True, stdout=subprocess.DEVNULL, cwd="/tmp")
        _, admin, _ = http("POST", f"{base}/api/auth/login", {"email": admin_email, "password": PASSWORD})
        admin_token = admin["access_token"]
        status, found, _ = http("GET", f"{base}/api/admin/sessions?email={email}", token=admin_token)
        results.check("through PgBouncer: an admin finds the user's sessions (audited in a transaction)",
                      status == 200 and len(found) == 1, f"{status} {found}")
        status, audit, _ = http("GET", f"{base}/api/admin/audit", token=admin_token)
        results.check("through PgBouncer: the audit log shows it", status == 200 and audit["items"][0]["action"] == "sessions.search",
                      f"{status} {audit}")
        # Concurrently: many clients' statements interleave on few server
        # connections (8 in the pool), which is where transaction pooling breaks.
        status, post, _ = http("POST", f"{base}/api/posts", {"title": "shared", "body": ""}, token=token)
        calls = []
        for n in range(480):
            kind = n % 4
            if kind == 0:
                calls.append(lambda: http("GET", f"{base}/api/users/me", token=token)[0])
            elif kind == 1:
                calls.append(lambda: http("GET", f"{base}/api/posts/{post['id']}", token=token)[0])
            elif kind == 2:
                calls.append(lambda n=n: http("POST", f"{base}/api/posts", {"title": f"c{n}", "body": ""}, token=token)[0])
            else:
                calls.append(lambda n=n: http("GET", f"{base}/api/posts?q=c{n}", token=token)[0])
        statuses = parallel(calls, workers=24)
        failures = [s for s in statuses if s not in (200, 201)]
        results.check(f"through PgBouncer: 480 mixed requests from 24 clients at once, {len(failures)} failed",
                      not failures, f"{failures[:5]}")
        status, _, _ = http("POST", f"{base}/api/auth/logout", token=token)
        results.check("through PgBouncer: logout -> 204", status == 204)
        status, _, _ = http("GET", f"{base}/api/users/me", token=token)
        results.check("through PgBouncer: the logged-out token -> 401", status == 401)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
