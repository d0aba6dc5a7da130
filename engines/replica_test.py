"""A second PostgreSQL cluster as a streaming replica of a first one (both
made here with initdb and pg_basebackup, on loopback ports): reads reach the
replica, writes the primary, and with the replica stopped reads fall back to
the primary without an error."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from common import Cleanup, Results, free_port, http, new_user, start_server

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]


def as_postgres(*command, **kwargs):
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)


def query(port, database, sql):
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database,
                          "-Atc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def pg_ctl(data, action, port=None):
    args = [f"{BIN}/pg_ctl", "-D", data, "-w", "-l", f"{data}.log"]
    if port:
        args += ["-o", f"-p {port} -k {os.path.dirname(data)} -c listen_addresses=127.0.0.1"]
    as_postgres(*args, action) if action != "stop" else as_postgres(*args, "-m", "immediate", action)


def main():
    results = Results("replica")
    with Cleanup() as cleanup:
        root = tempfile.mkdtemp(prefix="tenk-replica-")
        shutil.chown(root, "postgres")
        cleanup.add(lambda: shutil.rmtree(root, ignore_errors=True))
        primary, replica = os.path.join(root, "primary"), os.path.join(root, "replica")
        primary_port, replica_port = free_port(), free_port()
        as_postgres(f"{BIN}/initdb", "-D", primary, "-A", "trust", "-U", "postgres")
        with open(os.path.join(primary, "pg_hba.conf"), "a") as f:
            f.write("host replication all 127.0.0.1/32 trust\n")
        pg_ctl(primary, "start", primary_port)
        cleanup.add(lambda: pg_ctl(primary, "stop"))
        as_postgres(f"{BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
                    "-D", replica, "-R", "-X", "stream")
        pg_ctl(replica, "start", replica_port)
        replica_running = [True]
        cleanup.add(lambda: replica_running[0] and pg_ctl(replica, "stop"))
        results.check("the replica is in recovery (streaming from the primary)",
                      query(replica_port, "postgres", "select pg_is_in_recovery()") == "t")

        database = f"tenk_{uuid.uuid4().hex[:8]}"
        _, api_port = start_server({
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{primary_port}/{database}",
            "DATABASE_READ_URLS": f"postgres://postgres@127.0.0.1:{replica_port}/{database}",
            "REDIS_KEY_PREFIX": f"engines:{uuid.uuid4().hex}:",
            "RATE_LIMIT_AUTH": "100000/5m",
        }, cleanup)
        base = f"http://127.0.0.1:{api_port}"
        deadline = time.time() + 15
        while time.time() < deadline:
            _, health, _ = http("GET", f"{base}/api/health/database")
            if health and health["replicas"] and health["replicas"][0]["up"]:
                break
            time.sleep(0.5)
        results.check("the replica is up in /api/health/database", health["replicas"][0]["up"], f"{health}")

        _, tokens = new_user(base)
        token = tokens["access_token"]
        status, post, _ = http("POST", f"{base}/api/posts", {"title": "written", "body": ""}, token=token)
        results.check("a write succeeds (it went to the primary: the replica is read-only)", status == 201, f"{status} {post}")
        time.sleep(0.5)  # replication catches up
        statuses = [http("GET", f"{base}/api/posts/{post['id']}", token=token)[0] for _ in range(20)]
        results.check("reads succeed and see the replicated row", statuses == [200] * 20, f"{statuses}")
        on_replica = int(query(replica_port, "postgres",
                               f"select count(*) from pg_stat_activity where datname = '{database}'"))
        results.check(f"reads reach the replica ({on_replica} tenk connections open there)", on_replica >= 1)

        pg_ctl(replica, "stop")
        replica_running[0] = False
        statuses = [http("GET", f"{base}/api/posts/{post['id']}", token=token)[0] for _ in range(20)]
        results.check("with the replica stopped, reads fall back to the primary with no error",
                      statuses == [200] * 20, f"{statuses}")
        _, health, _ = http("GET", f"{base}/api/health/database")
        results.check("health reports the replica down and the service degraded, not failed",
                      health["status"] == "degraded" and not health["replicas"][0]["up"], f"{health}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
