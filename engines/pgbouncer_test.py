"""The full API flow through PgBouncer in transaction mode (with
DB_STATEMENT_CACHE=0 and migrations run directly, as deploy/ does)."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

from common import PASSWORD, SERVER, Cleanup, Results, free_port, fresh_database, http, new_user, start_server, stop, wait_port


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
""")
        shutil.chown(temp, "postgres")
        for name in os.listdir(temp):
            shutil.chown(os.path.join(temp, name), "postgres")
        # PgBouncer refuses to run as root.
        bouncer = subprocess.Popen(["runuser", "-u", "postgres", "--", "pgbouncer", f"{temp}/pgbouncer.ini"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cleanup.add(lambda: stop(bouncer))
        wait_port(port)

        pooled = f"postgres://postgres@127.0.0.1:{port}/{database}"
        _, api_port = start_server({
            "DATABASE_URL": pooled,
            "DB_STATEMENT_CACHE": "0",
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
        status, _, _ = http("POST", f"{base}/api/auth/logout", token=token)
        results.check("through PgBouncer: logout -> 204", status == 204)
        status, _, _ = http("GET", f"{base}/api/users/me", token=token)
        results.check("through PgBouncer: the logged-out token -> 401", status == 401)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
