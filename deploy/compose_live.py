#!/usr/bin/env python3
"""The Python half of deploy/compose-live.sh (stdlib only; the HTTP helpers, result
lines and parallel calls are ops/tenkops.py's):

    python3 deploy/compose_live.py healthchecks --socket S --project P
        Runs the health checks of the project's containers through podman's API
        (GET /libpod/containers/{id}/healthcheck), since without systemd nothing else
        does: every 2 s while a container is not healthy, then at its own interval.
    python3 deploy/compose_live.py check --socket S --project P --http URL
        --prometheus URL --alertmanager URL --mail URL
        The assertions of the live run, one PASS/FAIL line each, then
        `compose-live: N passed, M failed`. Exit status 1 on any failure.

Every wait is a poll with a deadline; nothing sleeps out a TTL.
"""

from __future__ import annotations

import argparse
import http.client as httpclient
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ops"))
sys.path.insert(0, str(ROOT / "deploy"))

from tenkops import PASSWORD, Results, http, parallel  # noqa: E402

API_REPLICAS = ("api-1", "api-2", "api-3")
STOPPED = "api-3"  # the replica stopped to raise TenkInstanceDown
LOAD_CLIENTS = 4  # GET loops through nginx while it stops


# --- podman's API on its unix socket --------------------------------------------------


class UnixConnection(httpclient.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Podman:
    def __init__(self, socket_path: str, project: str):
        self.socket_path, self.project = socket_path, project

    def call(self, method: str, path: str, timeout: float = 30) -> tuple[int, object]:
        connection = UnixConnection(self.socket_path, timeout)
        try:
            connection.request(method, "/v4.0.0/libpod" + path)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def containers(self) -> dict[str, dict]:
        """The project's containers by compose service name (all states)."""
        filters = urllib.parse.quote(json.dumps({"label": [f"com.docker.compose.project={self.project}"]}))
        status, listed = self.call("GET", f"/containers/json?all=true&filters={filters}")
        if status != 200 or not isinstance(listed, list):
            raise RuntimeError(f"podman API: listing containers answered {status}: {listed}")
        return {c["Labels"].get("com.docker.compose.service", c["Names"][0]): c for c in listed}

    def inspect(self, ident: str) -> dict:
        status, body = self.call("GET", f"/containers/{ident}/json")
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"podman API: inspect {ident} answered {status}")
        return body


def exec_in(container_id: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", "exec", container_id, *argv], capture_output=True, text=True, timeout=timeout)


# --- healthchecks ------------------------------------------------------------------------


def run_healthchecks(podman: Podman) -> None:
    due: dict[str, float] = {}
    none: set[str] = set()  # containers without a health check
    intervals: dict[str, float] = {}
    lock = threading.Lock()

    def check(ident: str, name: str) -> None:
        try:
            status, body = podman.call("GET", f"/containers/{ident}/healthcheck", timeout=60)
        except Exception as exc:  # noqa: BLE001 - any failure: check again in 2 s
            # Not only OSError: http.client's IncompleteRead or BadStatusLine
            # escaped once and, raised on a pool thread, left the container
            # "in flight" for an hour, so compose up waited for it forever.
            print(f"{name}: {exc!r}", flush=True)
            status, body = 0, None
        health = body.get("Status") if isinstance(body, dict) else None
        with lock:
            if status == 409 or (isinstance(body, dict) and "no defined healthcheck" in str(body.get("message", ""))):
                none.add(ident)
                return
            wait = intervals.get(ident, 10.0) if health == "healthy" else 2.0
            due[ident] = time.monotonic() + wait
        if health != "healthy":
            print(f"{time.strftime('%H:%M:%S')} {name}: {health or status}", flush=True)

    with ThreadPoolExecutor(max_workers=6) as pool:
        while True:
            try:
                containers = podman.containers()
            except (OSError, RuntimeError) as exc:
                print(f"listing containers: {exc}", flush=True)
                time.sleep(2)
                continue
            now = time.monotonic()
            for name, container in containers.items():
                ident = container["Id"]
                if container.get("State") != "running" or ident in none:
                    continue
                with lock:
                    if due.get(ident, 0) > now:
                        continue
                    due[ident] = now + 3600  # in flight
                    if ident not in intervals:
                        try:
                            config = podman.inspect(ident).get("Config", {}).get("Healthcheck") or {}
                            intervals[ident] = max(2.0, (config.get("Interval") or 10_000_000_000) / 1e9)
                        except (OSError, RuntimeError):
                            intervals[ident] = 10.0
                pool.submit(check, ident, name)
            time.sleep(1)


# --- the checks ----------------------------------------------------------------------------


def poll(deadline_s: float, attempt, interval: float = 0.5):
    """Calls attempt() until it returns a truthy value or the deadline passes; returns
    (value, seconds taken) with the last value."""
    started = time.monotonic()
    value = None
    while True:
        try:
            value = attempt()
        except (OSError, ValueError, KeyError, httpclient.HTTPException):
            value = None  # not up yet: try again until the deadline
        if value or time.monotonic() - started > deadline_s:
            return value, time.monotonic() - started
        time.sleep(interval)


def header(headers: dict, name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def get_json(url: str, timeout: float = 10) -> object:
    status, body, _ = http("GET", url, timeout=timeout)
    if status != 200:
        raise ValueError(f"{url}: {status}")
    return body


def rules_in_file() -> int:
    text = (ROOT / "alerts" / "tenk.rules.yml").read_text(encoding="utf-8")
    return len(re.findall(r"^\s*- (?:alert|record):", text, re.M))


def check_context(results: Results) -> None:
    """What buildah (podman build) sent for the full build, read back from the planner
    stage built by compose-live.sh, against BuildKit's reading of .dockerignore."""
    import checks  # noqa: PLC0415  (deploy/checks.py; its context needs no PyYAML)

    patterns = checks.dockerignore_patterns()
    # The files on disk, as a builder sees them (git-ignored ones too); .git, target
    # and node_modules are never sent (.dockerignore's last lines), so not walked.
    on_disk = []
    for folder, folders, files in os.walk(ROOT):
        folders[:] = [f for f in folders if f not in (".git", "target", "node_modules")]
        on_disk += [str((Path(folder) / f).relative_to(ROOT)) for f in files]
    expected = sorted(f for f in on_disk if checks.in_context(f, patterns))
    done = subprocess.run(["podman", "run", "--rm", "--entrypoint", "find", "localhost/tenk-live/context:check",
                           "/src", "-type", "f", "-printf", "%P\\n"], capture_output=True, text=True, timeout=60)
    actual = sorted(done.stdout.split())
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    results.check(f"buildah's build context (podman build, .dockerignore) = BuildKit's: {len(actual)} files",
                  done.returncode == 0 and not missing and not extra,
                  f"only BuildKit: {missing[:5]}, only buildah: {extra[:5]} {done.stderr.strip()}")


def run_checks(args: argparse.Namespace) -> int:
    results = Results("compose-live")
    try:
        checks_through_nginx(args, results)
    except Exception as exc:  # an unexpected answer: one failure, then the count
        results.check(f"the checks stopped early: {type(exc).__name__}: {exc}", False)
    return results.finish()


def checks_through_nginx(args: argparse.Namespace, results: Results) -> None:
    podman = Podman(args.socket, args.project)
    base = args.http.rstrip("/")

    def timed(label: str, started: float) -> str:
        return f"{label} ({time.monotonic() - started:.1f}s)"

    check_context(results)

    # 1. Every service is up: running, healthy where it has a check; migrate done.
    # `compose up` waits only for what something depends on; a leaf such as
    # nginx may still be starting, so it gets up to 90 s to turn healthy.
    expected = {"nginx", *API_REPLICAS, "migrate", "postgres", "postgres-replica", "pgbouncer", "redis",
                "prometheus", "alertmanager", "mailpit"}
    deadline = time.monotonic() + 90
    while True:
        containers = podman.containers()
        states = {}
        for name, container in sorted(containers.items()):
            details = podman.inspect(container["Id"])
            state = details.get("State", {})
            health = (state.get("Health") or state.get("Healthcheck") or {}).get("Status", "")
            states[name] = f"{state.get('Status')}{'/' + health if health else ''}"
            if name == "migrate":
                states[name] += f" (exit {state.get('ExitCode')})"
        bad = {n: s for n, s in states.items()
               if n != "migrate" and not (s == "running/healthy" or (n == "mailpit" and s == "running"))}
        up = (set(states) == expected and not bad and states.get("migrate", "").startswith("exited")
              and states["migrate"].endswith("(exit 0)"))
        if up or time.monotonic() > deadline:
            break
        time.sleep(1)
    results.check(f"{len(states)} services up: every one running, healthy where it has a health check; "
                  f"migrate {states.get('migrate')}", up,
                  f"missing {sorted(expected - set(states))}, not healthy {bad}")
    ids = {name: c["Id"] for name, c in containers.items()}

    # 2. Readiness on every replica (each asked inside its container: a replica
    # that just started may still be finding PostgreSQL and Redis, and nginx
    # sends it traffic all the same), then through nginx (PostgreSQL through
    # PgBouncer, the replica, Redis).
    started = time.monotonic()

    def ready_on(name: str) -> bool:
        done = exec_in(ids[name], "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                       "http://127.0.0.1:8080/api/health/ready")
        return done.stdout.strip() == "200"

    replicas_ready = {}
    for name in API_REPLICAS:
        ok, _ = poll(60, lambda name=name: ready_on(name))
        replicas_ready[name] = f"{time.monotonic() - started:.1f}s" if ok else "never"
    results.check(f"every replica ready (asked directly): {replicas_ready}",
                  "never" not in replicas_ready.values(), f"{replicas_ready}")
    started = time.monotonic()
    ready, _ = poll(60, lambda: http("GET", f"{base}/api/health/ready")[0] == 200)
    status, body, _ = http("GET", f"{base}/api/health/ready")
    results.check(timed("GET /api/health/ready through nginx: 200", started), bool(ready) and status == 200,
                  f"{status} {body}")

    # 3. nginx balances over the three replicas (the health body names the instance).
    seen = {}
    for _ in range(30):
        status, body, _ = http("GET", f"{base}/api/health")
        if status == 200 and isinstance(body, dict):
            seen[body.get("instance_id")] = seen.get(body.get("instance_id"), 0) + 1
    results.check(f"nginx spreads 30 GETs over every replica: {dict(sorted(seen.items()))}",
                  set(seen) == set(API_REPLICAS), f"{seen}")

    # 4. Register: 201, and the verification mail reaches the catcher over SMTP.
    email = f"live-{uuid.uuid4().hex[:12]}@example.com"
    status, body, _ = http("POST", f"{base}/api/auth/register", {"email": email, "password": PASSWORD, "name": "Live"})
    results.check(f"POST /api/auth/register: {status}", status == 201, f"{body}")
    started = time.monotonic()

    def mail_for() -> list:
        listing = get_json(f"{args.mail.rstrip('/')}/api/v1/messages")
        return [m for m in listing.get("messages", []) if any(t.get("Address") == email for t in m.get("To", []))]

    mails, _ = poll(30, mail_for)
    results.check(timed(f"the registration mail reached the catcher (SMTP mailpit:1025): "
                        f"{(mails or [{}])[0].get('Subject', 'none')!r}", started), bool(mails))

    # 5. The token of that mail confirms the address (production refuses a password
    # login before), then login and a post, read back through nginx (from the replica).
    message = get_json(f"{args.mail.rstrip('/')}/api/v1/message/{mails[0]['ID']}") if mails else {}
    found = re.search(r"token is (\S+)", message.get("Text", ""))
    status, body, _ = http("POST", f"{base}/api/auth/verify-email", {"token": found.group(1) if found else ""})
    results.check(f"POST /api/auth/verify-email with the mailed token: {status}", bool(found) and status == 204,
                  f"{body} {message.get('Text', '')[:200]!r}")
    status, tokens, _ = http("POST", f"{base}/api/auth/login", {"email": email, "password": PASSWORD})
    token = tokens.get("access_token") if status == 200 and isinstance(tokens, dict) else None
    results.check(f"POST /api/auth/login: {status}, an access token", bool(token), f"{tokens}")
    title = f"live {uuid.uuid4().hex[:8]}"
    status, post, _ = http("POST", f"{base}/api/posts", {"title": title, "body": "through nginx"}, token=token)
    post_id = post.get("id") if status == 201 and isinstance(post, dict) else None
    results.check(f"POST /api/posts: {status}", bool(post_id), f"{post}")
    started = time.monotonic()

    def read_post() -> dict | None:
        status, body, _ = http("GET", f"{base}/api/posts/{post_id}", token=token)
        return body if status == 200 else None

    read, _ = poll(20, read_post) if post_id else (None, 0)
    results.check(timed("GET /api/posts/{id} through nginx returns the post", started),
                  isinstance(read, dict) and read.get("title") == title, f"{read}")

    # 6. A revocation through nginx reaches every replica's session cache (each is
    # asked directly, inside its container, before and after the logout).
    def me_on(name: str) -> str:
        done = exec_in(ids[name], "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                       "-H", f"authorization: Bearer {token}", "http://127.0.0.1:8080/api/users/me")
        return done.stdout.strip()

    before = {name: [me_on(name), me_on(name)][-1] for name in API_REPLICAS}  # twice: the cache holds it
    results.check(f"GET /api/users/me on each replica before the logout: {before}",
                  set(before.values()) == {"200"}, f"{before}")
    status, _, _ = http("POST", f"{base}/api/auth/logout", token=token)
    revoked_at = time.monotonic()
    delays = {}
    for name in API_REPLICAS:
        refused, _ = poll(10, lambda name=name: me_on(name) == "401", interval=0.05)
        delays[name] = f"{time.monotonic() - revoked_at:.2f}s" if refused else "never"
    results.check(f"logout through nginx ({status}): the session is refused (401) by every replica: {delays}",
                  status == 204 and "never" not in delays.values(), f"{delays}")

    # 7. One rate limit shared by the three replicas: a fresh client address (nginx
    # appends its peer, the API trusts the compose network and keys by the address
    # before it) gets exactly the auth tier's quota, whichever replica answers.
    client = {"x-forwarded-for": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
    first_at = time.monotonic()
    status, _, headers = http("POST", f"{base}/api/auth/refresh", {"refresh_token": "no.such"}, headers=client)
    policy = re.search(r";q=(\d+);w=(\d+)", header(headers, "ratelimit-policy"))
    remaining = re.search(r";r=(\d+)", header(headers, "ratelimit"))
    quota, window = (int(policy.group(1)), int(policy.group(2))) if policy else (0, 0)
    left = int(remaining.group(1)) if remaining else -1
    results.check(f"a fresh client address starts with the whole auth quota: q={quota} r={left}",
                  status == 401 and quota > 0 and left == quota - 1,
                  f"status {status}, RateLimit-Policy {header(headers, 'ratelimit-policy')!r}, "
                  f"RateLimit {header(headers, 'ratelimit')!r}")
    if left > 0:
        calls = [lambda: http("POST", f"{base}/api/auth/refresh", {"refresh_token": "no.such"}, headers=client)[0]
                 for _ in range(left + 10)]
        statuses = parallel(calls, workers=12)
        # GCRA gives a request back every window/quota seconds (6 s for 50/5m): on a
        # machine slow enough to take that long, that many more are admitted.
        regained = int((time.monotonic() - first_at) / (window / quota))
        admitted, limited = statuses.count(401), statuses.count(429)
        results.check(f"{len(calls)} more in parallel through nginx: {admitted} admitted, {limited} limited "
                      f"(want {left} and 10{f', {regained} regained' if regained else ''})",
                      (admitted, limited) == (left + regained, 10 - regained), f"{statuses}")
        logs = subprocess.run(["podman", "logs", "--since", "2m", ids["nginx"]], capture_output=True, text=True).stdout
        upstreams = {json.loads(line).get("upstream") for line in logs.splitlines()
                     if line.startswith("{") and '"/api/auth/refresh"' in line}
        results.check(f"those requests were served by {len(upstreams)} replicas (nginx's access log)",
                      len(upstreams) == len(API_REPLICAS), f"{upstreams}")

    # 8. The replica streams from the primary, and holds the post written through PgBouncer.
    def sql(service: str, query: str) -> str:
        done = exec_in(ids[service], "psql", "-X", "-A", "-t", "-U", "tenk", "-d", "tenk", "-c", query)
        return done.stdout.strip() if done.returncode == 0 else f"error: {done.stderr.strip()}"

    streaming = sql("postgres", "select application_name || ':' || state from pg_stat_replication")
    results.check(f"pg_stat_replication on the primary: {streaming}", streaming == "replica_1:streaming")
    recovery = sql("postgres-replica", "select pg_is_in_recovery()")
    on_replica = sql("postgres-replica", f"select title from posts where post_id = '{post_id}'") if post_id else ""
    results.check(f"the replica is a hot standby ({recovery}) holding the post",
                  recovery == "t" and on_replica == title, f"{on_replica!r}")

    # 9. Prometheus: every target up, the rules of alerts/tenk.rules.yml loaded.
    prometheus = args.prometheus.rstrip("/")
    started = time.monotonic()

    def targets_up() -> dict | None:
        active = get_json(f"{prometheus}/api/v1/targets?state=active")["data"]["activeTargets"]
        health = {t["labels"].get("instance"): t["health"] for t in active}
        return health if health and set(health.values()) == {"up"} else None

    health, _ = poll(60, targets_up, interval=1)
    if not health:
        active = get_json(f"{prometheus}/api/v1/targets?state=active")["data"]["activeTargets"]
        health = {t["labels"].get("instance"): f"{t['health']} {t.get('lastError', '')}" for t in active}
    results.check(timed(f"Prometheus: {len(health)} targets, every one up", started),
                  len(health) == 5 and set(health.values()) == {"up"}, f"{health}")
    groups = get_json(f"{prometheus}/api/v1/rules")["data"]["groups"]
    loaded = [rule for group in groups for rule in group["rules"]]
    errors = [rule["name"] for rule in loaded if rule.get("lastError")]
    results.check(f"Prometheus: {len(loaded)} rules loaded in {len(groups)} groups "
                  f"(alerts/tenk.rules.yml has {rules_in_file()}), none failing",
                  len(loaded) == rules_in_file() and not errors, f"{errors}")

    # 10. Stop a replica under a light load of GETs through nginx. nginx retries a GET
    # that meets the stopped replica on another one, except across the moment its
    # `resolve` drops the name from the upstream (the peers change under the request:
    # "no live upstreams"): at most one GET per client can fail, the one in flight then.
    load_stop = threading.Event()
    outcomes: list[tuple[float, int | str]] = []

    def load() -> None:
        while not load_stop.is_set():
            try:
                outcomes.append((time.monotonic(), http("GET", f"{base}/api/health", timeout=10)[0]))
            except OSError as exc:  # a dropped connection counts as a failure
                outcomes.append((time.monotonic(), repr(exc)))
            load_stop.wait(0.05)

    clients = [threading.Thread(target=load) for _ in range(LOAD_CLIENTS)]
    for client_thread in clients:
        client_thread.start()
    try:
        started, since = time.monotonic(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        done = subprocess.run(["podman", "stop", "-t", "40", ids[STOPPED]], capture_output=True, text=True, timeout=60)
        exit_code = podman.inspect(ids[STOPPED]).get("State", {}).get("ExitCode")
        results.check(timed(f"podman stop {STOPPED}: SIGTERM, drained, exit code {exit_code}", started),
                      done.returncode == 0 and exit_code == 0, done.stderr)
        stopped_at = time.monotonic()

        def nginx_dropped_it() -> bool:
            logs = subprocess.run(["podman", "logs", "--since", since, ids["nginx"]], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True).stdout
            return f"{STOPPED} could not be resolved" in logs

        dropped, _ = poll(40, nginx_dropped_it, interval=1)
        results.check(f"nginx's resolver drops {STOPPED} from the upstream ({time.monotonic() - stopped_at:.0f}s "
                      f"after the stop; valid=10s)", bool(dropped))
        time.sleep(2)  # the load goes on a little past the change
    finally:
        load_stop.set()
        for client_thread in clients:
            client_thread.join()
    failures = [(round(at - stopped_at, 1), status) for at, status in outcomes if status != 200]
    results.check(f"{len(outcomes)} GETs from {LOAD_CLIENTS} clients through nginx while {STOPPED} stopped: "
                  f"{len(failures)} failed (at most one per client)",
                  len(failures) <= LOAD_CLIENTS and len(outcomes) > 100, f"{failures[:10]}")
    statuses = [http("GET", f"{base}/api/health")[0] for _ in range(20)]
    results.check(f"then 20 GETs through nginx: {statuses.count(200)} answered 200",
                  statuses == [200] * 20, f"{statuses}")
    instance = f"{STOPPED}:8080"

    def prometheus_sees_down() -> bool:
        query = urllib.parse.quote(f'up{{instance="{instance}"}}')
        result = get_json(f"{prometheus}/api/v1/query?query={query}")
        return any(r["value"][1] == "0" for r in result["data"]["result"])

    down, _ = poll(60, prometheus_sees_down, interval=1)
    results.check(f"Prometheus sees up{{instance=\"{instance}\"}} == 0 ({time.monotonic() - stopped_at:.0f}s after the stop)",
                  bool(down))
    alertmanager = args.alertmanager.rstrip("/")

    def alert_received() -> dict | None:
        alerts = get_json(f"{alertmanager}/api/v2/alerts?filter=" + urllib.parse.quote('alertname="TenkInstanceDown"'))
        return next((a for a in alerts if a["labels"].get("instance") == instance), None)

    # `for: 1m` after the first failed scrape (every 15 s), then one evaluation (15 s).
    alert, _ = poll(180, alert_received, interval=2)
    results.check(f"Alertmanager received TenkInstanceDown for {instance} "
                  f"({time.monotonic() - stopped_at:.0f}s after the stop; the rule's `for` is 1m)",
                  bool(alert) and alert["labels"].get("severity") == "page", f"{alert}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    hc = sub.add_parser("healthchecks")
    hc.add_argument("--socket", required=True)
    hc.add_argument("--project", required=True)
    ck = sub.add_parser("check")
    for name in ("socket", "project", "http", "prometheus", "alertmanager", "mail"):
        ck.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    if args.command == "healthchecks":
        run_healthchecks(Podman(args.socket, args.project))
        return 0
    return run_checks(args)


if __name__ == "__main__":
    sys.exit(main())
