"""tenk on Redis Sentinel (one primary, one replica, a failover) and on a
6-node Redis Cluster (3 primaries, 3 replicas, failovers): sessions, rate
limits and revocation pub/sub keep working without a restart."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
from tenkops import Cleanup, Results, eventually, free_port, fresh_database, http, new_user, parallel, start_server, stop, wait_port  # noqa: E402


def redis_cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


def redis_server(cleanup, directory, port, *extra):
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", directory, *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cleanup.add(lambda: stop(process))
    wait_port(port)
    return process


def sentinel(results):
    with Cleanup() as cleanup:
        root = tempfile.mkdtemp(prefix="tenk-sentinel-")
        cleanup.add(lambda: shutil.rmtree(root, ignore_errors=True))
        a, b, s = free_port(), free_port(), free_port()
        redis_server(cleanup, root, a)
        redis_server(cleanup, root, b, "--replicaof", "127.0.0.1", str(a))
        conf = os.path.join(root, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {s}\nbind 127.0.0.1\ndir {root}\n"
                    f"sentinel monitor tenk 127.0.0.1 {a} 1\n"
                    "sentinel down-after-milliseconds tenk 1000\nsentinel failover-timeout tenk 5000\n")
        watcher = subprocess.Popen(["redis-server", conf, "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cleanup.add(lambda: stop(watcher))
        wait_port(s)
        eventually(lambda: "slave0" in redis_cli(a, "INFO", "replication"))
        database = fresh_database(cleanup)
        _, port = start_server({
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_SENTINELS": f"127.0.0.1:{s}",
            "REDIS_SENTINEL_MASTER": "tenk",
            "REDIS_KEY_PREFIX": f"engines:{uuid.uuid4().hex}:",
            "RATE_LIMIT_AUTH": "100000/5m",
        }, cleanup)
        base = f"http://127.0.0.1:{port}"
        _, health, _ = http("GET", f"{base}/api/health/redis")
        results.check("sentinel: /api/health/redis says mode sentinel and up",
                      health.get("mode") == "sentinel" and health.get("up"), f"{health}")
        _, tokens = new_user(base)
        token = tokens["access_token"]
        results.check("sentinel: a session works", http("GET", f"{base}/api/users/me", token=token)[0] == 200)

        redis_cli(s, "SENTINEL", "FAILOVER", "tenk")
        moved = eventually(lambda: redis_cli(s, "SENTINEL", "get-master-addr-by-name", "tenk").endswith(str(b)))
        results.check("sentinel: the failover promoted the replica", moved)
        works = eventually(lambda: http("GET", f"{base}/api/users/me", token=token)[0] == 200
                           and http("POST", f"{base}/api/posts", {"title": "after failover", "body": ""}, token=token)[0] == 201,
                           seconds=10)
        results.check("sentinel: after the failover the old session still works and writes succeed (no restart)", works)
        _, health, _ = http("GET", f"{base}/api/health/redis")
        results.check("sentinel: health is up again", health.get("up"), f"{health}")
        status, _, _ = http("POST", f"{base}/api/auth/logout", token=token)
        results.check("sentinel: logout on the new primary ends the session",
                      status == 204 and http("GET", f"{base}/api/users/me", token=token)[0] == 401)


def cluster(results):
    with Cleanup() as cleanup:
        root = tempfile.mkdtemp(prefix="tenk-cluster-")
        cleanup.add(lambda: shutil.rmtree(root, ignore_errors=True))
        # A cluster node also listens on its port + 10000 (the cluster bus).
        ports = []
        while len(ports) < 6:
            port = free_port()
            if port < 55000 and port not in ports:
                ports.append(port)
        for port in ports:
            node_dir = os.path.join(root, str(port))
            os.makedirs(node_dir)
            redis_server(cleanup, node_dir, port, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                         "--cluster-node-timeout", "2000")
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        results.check("cluster: 6 nodes formed a healthy cluster",
                      eventually(lambda: "cluster_state:ok" in redis_cli(ports[0], "CLUSTER", "INFO")))
        database = fresh_database(cleanup)
        env = {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_CLUSTER_NODES": ",".join(f"redis://127.0.0.1:{p}" for p in ports),
            "REDIS_KEY_PREFIX": f"engines:{uuid.uuid4().hex}:",
            "RATE_LIMIT_AUTH": "10/5m",
        }
        _, port_a = start_server(env, cleanup)
        _, port_b = start_server(env, cleanup)
        a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        _, health, _ = http("GET", f"{a}/api/health/redis")
        results.check("cluster: /api/health/redis says mode cluster and up",
                      health.get("mode") == "cluster" and health.get("up"), f"{health}")
        # The rate limit: 20 requests across both instances, exactly 10 admitted.
        client = {"x-forwarded-for": "198.51.100.9"}
        statuses = parallel([lambda i=i: http("POST", f"{a if i % 2 else b}/api/auth/refresh",
                                              {"refresh_token": "no.such"}, headers=client)[0]
                             for i in range(20)], workers=10)
        # The peer is 127.0.0.1 either way (no trusted proxies): one key.
        results.check(f"cluster: a rate limit shared by two instances admits exactly 10 of 20 ({statuses.count(401)})",
                      statuses.count(401) == 10 and statuses.count(429) == 10, f"{statuses}")
        env["RATE_LIMIT_AUTH"] = "100000/5m"
        _, port_c = start_server(env, cleanup)
        c = f"http://127.0.0.1:{port_c}"
        # Instance d connects now (a health check), then sits out the failover.
        _, port_d = start_server(env, cleanup)
        d = f"http://127.0.0.1:{port_d}"
        http("GET", f"{d}/api/health/redis")
        _, tokens = new_user(c)
        token = tokens["access_token"]
        for _ in range(2):
            http("GET", f"{b}/api/users/me", token=token)
        http("POST", f"{c}/api/auth/logout", token=token)
        refused = eventually(lambda: http("GET", f"{b}/api/users/me", token=token)[0] == 401, seconds=1, every=0.01)
        results.check("cluster: a logout on one instance is refused by another (pub/sub across the cluster)", refused)

        _, tokens = new_user(c)
        token = tokens["access_token"]
        # Fail over every primary under light load: each replica takes over its slots.
        replicas = [p for p in ports if "role:slave" in redis_cli(p, "INFO", "replication")]
        load = []
        stop_load = time.time() + 6

        def light_load():
            while time.time() < stop_load:
                load.append(http("GET", f"{c}/api/users/me", token=token)[0])
                time.sleep(0.05)
            return load

        def fail_over():
            for port in replicas:
                redis_cli(port, "CLUSTER", "FAILOVER")
            return []

        parallel([light_load, fail_over], workers=2)
        # A manual failover that times out (5 s in Redis, more likely when
        # all three run at once on a busy machine) is not retried by Redis:
        # ask again for each replica not promoted 6 s after its last request.
        asked = {port: time.time() for port in replicas}

        def all_promoted():
            pending = [p for p in replicas if "role:master" not in redis_cli(p, "INFO", "replication")]
            for port in pending:
                if time.time() - asked[port] > 6:
                    redis_cli(port, "CLUSTER", "FAILOVER")
                    asked[port] = time.time()
            return not pending

        promoted = eventually(all_promoted, seconds=30)
        results.check(f"cluster: the {len(replicas)} replicas were promoted", promoted and len(replicas) == 3)
        # Instance d saw none of the failover: its slot map still names the
        # demoted primaries, and the promoted ones never ran tenk's scripts.
        logins = parallel([lambda: new_user(d) for _ in range(6)], workers=3)
        failed = [repr(outcome) for outcome in logins if isinstance(outcome, Exception)]
        results.check("cluster: right after the failover, logins on an instance with a stale slot map work",
                      not failed, f"{failed}")
        print(f"      during the failovers: {len(load)} requests, {sum(1 for s in load if s != 200)} not 200")
        healthy = eventually(lambda: "cluster_state:ok" in redis_cli(ports[0], "CLUSTER", "INFO"))
        works = eventually(lambda: http("GET", f"{c}/api/users/me", token=token)[0] == 200
                           and http("GET", f"{b}/api/auth/sessions", token=token)[0] == 200, seconds=15)
        results.check("cluster: after failing over the primaries, no session is lost", healthy and works)
        results.check("cluster: new logins work after the failover", new_user(c)[1].get("access_token") is not None)


def main():
    results = Results("redis")
    for scenario in (sentinel, cluster):
        try:
            scenario(results)
        except Exception as error:
            results.check(f"{scenario.__name__} ran to the end", False, repr(error))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
