"""A second PostgreSQL cluster as a streaming replica of a first one (both
made here with initdb and pg_basebackup, on loopback ports): reads reach the
replica, writes the primary, and with the replica stopped reads fall back to
the primary without an error."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
from tenkops import Cleanup, Cluster, Results, http, new_user, redis_prefix, start_server  # noqa: E402


def main():
    results = Results("replica")
    with Cleanup() as cleanup:
        primary = Cluster(cleanup)
        replica = Cluster(cleanup, primary=primary)
        results.check("the replica is in recovery (streaming from the primary)",
                      replica.query("postgres", "select pg_is_in_recovery()").strip() == "t")

        database = f"tenk_{uuid.uuid4().hex[:8]}"
        _, api_port = start_server({
            "DATABASE_URL": primary.url(database),
            "DATABASE_READ_URLS": replica.url(database),
            "REDIS_KEY_PREFIX": redis_prefix("engines"),
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
        on_replica = int(replica.query("postgres", f"select count(*) from pg_stat_activity where datname = '{database}'"))
        results.check(f"reads reach the replica ({on_replica} tenk connections open there)", on_replica >= 1)

        replica.stop("immediate")
        statuses = [http("GET", f"{base}/api/posts/{post['id']}", token=token)[0] for _ in range(20)]
        results.check("with the replica stopped, reads fall back to the primary with no error",
                      statuses == [200] * 20, f"{statuses}")
        _, health, _ = http("GET", f"{base}/api/health/database")
        results.check("health reports the replica down and the service degraded, not failed",
                      health["status"] == "degraded" and not health["replicas"][0]["up"], f"{health}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
