#!/usr/bin/env python3
"""Checks against real, throw-away Prometheus and Alertmanager processes on 127.0.0.1.

    python3 alerts/live_check.py prometheus     every dashboard query returns data
    python3 alerts/live_check.py alertmanager   alertmanager.yml's inhibitions work

prometheus: writes 30 minutes of made-up samples for every metric of
  exported_metrics.txt (labelled as ARCHITECTURE.md's metrics table says, job="tenk", two instances) as
  OpenMetrics, backfills them with `promtool tsdb create-blocks-from openmetrics`, starts
  `prometheus` on that TSDB, and runs every panel query of dashboards/tenk-overview.json
  (with $instance = .* and $__rate_interval = 1m): each must succeed and return at least
  one finite value. Also loads tenk.rules.yml, so Prometheus itself parses the rules.
alertmanager: starts `prometheus-alertmanager` with alertmanager.yml, posts a set of
  alerts through its API and checks which ones are inhibited (the table EXPECT below).

Both use a temporary folder and free ports, stop the processes they started (by their
own handle), and print what went wrong on failure (exit 1). Python 3.11+ and PyYAML.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import tenkcfg as cfg
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from tenkops import free_port  # noqa: E402

INSTANCES = ["127.0.0.1:8080", "127.0.0.1:8081"]
STEP = 15  # seconds between samples, like prometheus.yml's scrape_interval
SPAN = 30 * 60  # seconds of history

# Label sets per metric (besides job and instance), as ARCHITECTURE.md's metrics table says.
HTTP = [{"method": "GET", "route": "/api/users/me", "status": "200"},
        {"method": "POST", "route": "/api/auth/login", "status": "401"},
        {"method": "POST", "route": "/api/auth/login", "status": "500"}]
TIERS = [{"tier": t} for t in ("auth", "api", "public", "otp")]
POOLS = [{"pool": p} for p in ("primary", "replica")]
FIXTURE: dict[str, list[dict]] = {
    "http_server_request_duration_seconds": HTTP,
    "http_server_requests_in_flight": [{}],
    "tenk_http_requests_shed_total": [{"bound": "in_flight"}, {"bound": "connections"}],
    "tenk_sessions_active": [{}],
    "tenk_sessions_created_total": [{}],
    "tenk_sessions_revoked_total": [{"reason": "logout"}, {"reason": "admin"}],
    "tenk_session_lookup_duration_seconds": [{"cache": "hit"}, {"cache": "miss"}],
    "tenk_db_pool_connections": [{**p, "state": s} for p in POOLS for s in ("idle", "in_use")],
    "tenk_db_pool_max_connections": POOLS,
    "tenk_db_pool_timeouts_total": POOLS,
    "tenk_db_up": [{}],
    "tenk_redis_up": [{}],
    "tenk_redis_command_duration_seconds": [{}],
    "tenk_rate_limit_rejected_total": TIERS,
    "tenk_rate_limit_fallback_total": TIERS,
    "tenk_auth_attempts_total": [{"method": m, "result": r} for m in ("password", "otp") for r in ("success", "failure")],
    "tenk_app_cache_requests_total": [{"result": "hit"}, {"result": "miss"}],
    "tenk_mail_send_failures_total": [{}],
    "process_resident_memory_bytes": [{}],
    "process_cpu_seconds_total": [{}],
    "process_start_time_seconds": [{}],
    "process_open_fds": [{}],
    "tenk_memory_limit_bytes": [{}],
    "tenk_cpu_cores": [{}],
    "tenk_build_info": [{"version": "0.1.0"}],
}
GAUGE_VALUES = {"tenk_sessions_active": 1234, "tenk_db_pool_max_connections": 20,
                "tenk_memory_limit_bytes": 2 * 1024**3, "tenk_cpu_cores": 2,
                "process_resident_memory_bytes": 300 * 1024**2, "process_open_fds": 64}
BUCKETS = [(0.01, 0.5), (0.05, 0.8), (0.1, 0.9), (0.2, 0.97), (0.5, 0.99), (1.0, 1.0), ("+Inf", 1.0)]


def labels(d: dict) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def openmetrics(end: int) -> str:
    times = list(range(end - SPAN, end + 1, STEP))
    exported = cfg.load_exported()
    out: list[str] = []

    def series(name: str, lab: dict, values) -> None:
        out.append(f"# TYPE {name} unknown")
        out.extend(f"{name}{labels(lab)} {v} {t}" for t, v in zip(times, values, strict=True))

    for i, inst in enumerate(INSTANCES):
        base = {"job": "tenk", "instance": inst}
        series("up", base, [1] * len(times))
        for name, sets in FIXTURE.items():
            kind = exported[name]
            for j, extra in enumerate(sets):
                lab = {**base, **extra}
                rate = 10 + 3 * i + j  # events per second, different per series
                if kind == "counter":
                    series(name, lab, [rate * k * STEP for k in range(len(times))])
                elif kind == "histogram":
                    for le, share in BUCKETS:
                        series(f"{name}_bucket", {**lab, "le": le}, [round(rate * share) * k * STEP for k in range(len(times))])
                    series(f"{name}_count", lab, [rate * k * STEP for k in range(len(times))])
                    series(f"{name}_sum", lab, [rate * 0.03 * k * STEP for k in range(len(times))])
                elif name == "process_start_time_seconds":
                    series(name, lab, [end - SPAN - 3600] * len(times))
                elif name.endswith("_up") or name == "tenk_build_info":
                    series(name, lab, [1] * len(times))
                elif name == "tenk_db_pool_connections":
                    series(name, lab, [5 + j] * len(times))
                else:
                    series(name, lab, [GAUGE_VALUES.get(name, 7)] * len(times))
    out.append("# EOF")
    return "\n".join(out) + "\n"


def wait_ready(url: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"not ready after {seconds}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def check_prometheus(tmp: Path) -> list[str]:
    missing = set(cfg.load_exported()) ^ set(FIXTURE)
    if missing:
        return [f"FIXTURE and exported_metrics.txt differ: {sorted(missing)}"]
    end = int(time.time()) // STEP * STEP - 60
    (tmp / "data.om").write_text(openmetrics(end))
    tsdb = tmp / "tsdb"
    r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(tmp / "data.om"), str(tsdb)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return [f"promtool tsdb create-blocks-from failed:\n{r.stdout}{r.stderr}"]
    shutil.copy(cfg.RULES, tmp / cfg.RULES.name)
    (tmp / "prometheus.yml").write_text(
        f"global: {{scrape_interval: {STEP}s, evaluation_interval: {STEP}s}}\nrule_files: [{cfg.RULES.name}]\n")
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("w") as logf:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tsdb}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d"],
            stdout=logf, stderr=subprocess.STDOUT, cwd=tmp)
    errors = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/-/ready", proc, log)
        rules = get_json(f"{base}/api/v1/rules")["data"]["groups"]
        n_rules = sum(len(g["rules"]) for g in rules)
        if n_rules != len(cfg.load_rules()):
            errors.append(f"Prometheus loaded {n_rules} rules, tenk.rules.yml has {len(cfg.load_rules())}")
        n = 0
        for panel in cfg.dashboard_panels(cfg.load_dashboard()):
            for t in panel.get("targets", []):
                expr = t["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*")
                n += 1
                where = f"panel {panel.get('title')!r} [{t.get('refId')}]"
                try:
                    q = urllib.parse.urlencode({"query": expr, "time": end})
                    res = get_json(f"{base}/api/v1/query?{q}")
                except urllib.error.HTTPError as e:
                    errors.append(f"{where}: HTTP {e.code}: {e.read().decode(errors='replace')}\n      {expr}")
                    continue
                values = [float(s["value"][1]) for s in res["data"]["result"]] if res["data"]["resultType"] == "vector" else []
                if not any(math.isfinite(v) for v in values):
                    errors.append(f"{where}: no finite value (got {values})\n      {expr}")
        if n == 0:
            errors.append("the dashboard has no queries")
        elif not errors:
            print(f"{n} dashboard queries answered by Prometheus; {n_rules} rules loaded")
    finally:
        stop(proc)
    return errors


# Alerts posted to Alertmanager, and whether each must come out inhibited.
A, B = "127.0.0.1:8080", "127.0.0.1:8081"
EXPECT = [
    # :8080 is down: everything else about :8080 is silenced ...
    ({"alertname": "TenkInstanceDown", "severity": "page", "instance": A, "job": "tenk"}, False),
    ({"alertname": "TenkHighCpu", "severity": "warning", "threshold": "HighCpu", "instance": A}, True),
    ({"alertname": "TenkRedisDown", "severity": "page", "instance": A, "job": "tenk"}, True),
    # ... but not the same alert of another instance,
    ({"alertname": "TenkHighCpu", "severity": "warning", "threshold": "HighCpu", "instance": B}, False),
    # nor the cluster-wide one (no instance label),
    ({"alertname": "TenkManySessions", "severity": "warning", "threshold": "ManySessions", "job": "tenk"}, False),
    # :8081's database is down: its saturated pool is a consequence, its DB-down page is not
    ({"alertname": "TenkDatabaseDown", "severity": "page", "instance": B, "job": "tenk"}, False),
    ({"alertname": "TenkDbPoolSaturated", "severity": "warning", "threshold": "DbPoolSaturated",
      "instance": B, "pool": "primary"}, True),
    # Redis is up on :8081, so its rate-limiter fallback is reported
    ({"alertname": "TenkRateLimiterDegraded", "severity": "warning", "instance": B, "tier": "auth"}, False),
]


def check_alertmanager(tmp: Path) -> list[str]:
    port = free_port()
    log = tmp / "alertmanager.log"
    with log.open("w") as logf:
        proc = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={cfg.ALERTS_DIR / 'alertmanager.yml'}",
             f"--storage.path={tmp / 'am'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="],
            stdout=logf, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/-/ready", proc, log)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        body = json.dumps([{"labels": lab, "annotations": {"summary": "live_check"}, "startsAt": now, "endsAt": later}
                           for lab, _ in EXPECT]).encode()
        req = urllib.request.Request(f"{base}/api/v2/alerts", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).close()
        # The inhibitor learns about new alerts asynchronously: poll for a few seconds.
        deadline = time.monotonic() + 10
        while True:
            got = {json.dumps(a["labels"], sort_keys=True): bool(a["status"]["inhibitedBy"])
                   for a in get_json(f"{base}/api/v2/alerts")}
            errors = []
            for lab, want in EXPECT:
                have = got.get(json.dumps(lab, sort_keys=True))
                if have is None:
                    errors.append(f"{lab['alertname']} {lab.get('instance', '')}: not found in Alertmanager")
                elif have != want:
                    state = {True: "inhibited", False: "not inhibited"}
                    errors.append(f"{lab['alertname']} {lab.get('instance', '')}: {state[have]}, expected {state[want]}")
            if not errors or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not errors:
            print(f"{len(EXPECT)} alerts posted; {sum(w for _, w in EXPECT)} inhibited as expected, the others not")
        return errors
    finally:
        stop(proc)


def main(argv: list[str]) -> int:
    checks = {"prometheus": check_prometheus, "alertmanager": check_alertmanager}
    if len(argv) != 1 or argv[0] not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix=f"tenk-live-{argv[0]}-") as d:
        try:
            errors = checks[argv[0]](Path(d))
        except Exception as e:  # a process that did not start is a failure with its log
            errors = [f"{type(e).__name__}: {e}"]
    for e in errors:
        print(f"FAIL: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
