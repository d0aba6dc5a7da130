#!/usr/bin/env python3
"""End-to-end: a real tenk-server, scraped by a real Prometheus, fires the real alerts.

    python3 alerts/e2e_check.py          (or: bash alerts/e2e_check.sh)

Starts ONE tenk-server (binary from $TENK_SERVER_BIN, default
/var/tmp/tenk-target/debug/tenk-server) on a free 127.0.0.1 port, with a random OPS_TOKEN,
a fresh database tenk_e2e_<random> and REDIS_URL=redis://127.0.0.1:1/0 (nothing listens
there, so /api/health/redis answers 503 and tenk_redis_up is 0). Starts `prometheus` on a
free 127.0.0.1 port with a temporary folder holding
  - prometheus.yml: derived from alerts/prometheus.yml (its job "tenk", with the bearer
    token in a credentials file and the test server as the only target; scrape and
    evaluation every 1s; no alerting section, so no Alertmanager ever gets test alerts);
  - tenk.rules.e2e.yml: a copy of alerts/tenk.rules.yml with every `for:` set to 1s and
    every range window of minutes or more ([5m]) set to [15s]. The real file is not changed.
Then drives a bounded loop of GET /api/health (200) and GET /api/health/redis (503) and
polls Prometheus's HTTP API (all within 50 s of the start) until:
  - up{job="tenk"} of the test server is 1;
  - Prometheus loaded every rule of the copy and evaluated each without error (rule health);
  - every rule expression of the copy runs through /api/v1/query without error;
  - TenkHighErrorRate and TenkRedisDown are firing for the test server;
  - TenkInstanceDown and TenkDatabaseDown are not (the database is up).
Always stops both processes (by their own handle), drops the database and removes the
temporary folder, even on failure or Ctrl-C. Prints one PASS/FAIL line per check and
finally `e2e_check: N passed, M failed`; exits 1 if anything failed.

TENK_E2E_RULES=path  use another rules file as the source of the test copy (e.g. to try a
                     rule change, or to see this check fail on a broken threshold).
TENK_E2E_KEEP=1      keep the temporary folder (logs, configs) and print its path.
Needs: prometheus, promtool, psql on PATH; PostgreSQL on 127.0.0.1:5432 (user postgres,
trust auth). Python 3.11+ and PyYAML.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import tenkcfg as cfg
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from tenkops import free_port  # noqa: E402

DEFAULT_BIN = "/var/tmp/tenk-target/debug/tenk-server"
BUDGET = 50.0  # seconds for everything up to the last assertion; cleanup comes after
INTERVAL = "1s"  # scrape and rule evaluation interval of the test Prometheus
FOR = "1s"  # every `for:` of the test rules
WINDOW = "15s"  # every range window of a minute or more
MAX_PAIRS = 150  # traffic: at most 150 x (GET /api/health + GET /api/health/redis)
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", "postgres"]

T0 = time.monotonic()
passed = 0
failed = 0


def report(name: str, ok: bool, detail: str = "") -> bool:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS  {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL  {name}", flush=True)
        if detail:
            print("\n".join("      " + line for line in detail.rstrip().splitlines()), flush=True)
    return ok


def left() -> float:
    return BUDGET - (time.monotonic() - T0)


def tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


# ------------------------------------------------------------------ the test rules copy

_FOR = re.compile(r"^([ \t]*for:[ \t]*)(\S+)([ \t]*(#.*)?)$", re.M)
# A range selector or subquery whose range is in minutes or longer: [5m], [1h], [1h30m], [5m:30s].
_LONG_RANGE = re.compile(r"\[(\d+[smhdwy])*\d+[mhdwy](\d+[smhdwy])*(?=[\]:])")


def test_rules_text(src: str) -> str:
    out = _FOR.sub(lambda m: f"{m.group(1)}{FOR}{m.group(3)}", src)
    out = _LONG_RANGE.sub(f"[{WINDOW}", out)
    # `[5m` must be gone everywhere a range could hide (`ms` is milliseconds, fine).
    rest = re.findall(r"\[\s*\d+[mhdwy](?!s)[^\]]*\]", out)
    if rest:
        raise ValueError(f"range windows left unshortened: {rest}")
    return out


def prometheus_config(token_file: Path, rules_file: Path, target: str) -> dict:
    """alerts/prometheus.yml's job "tenk", pointed at the test server; 1s intervals."""
    real = cfg.load_yaml(cfg.ALERTS_DIR / "prometheus.yml")
    jobs = [j for j in real.get("scrape_configs", []) if j.get("job_name") == "tenk"]
    if len(jobs) != 1:
        raise ValueError('alerts/prometheus.yml: expected exactly one scrape job "tenk"')
    job = {k: v for k, v in jobs[0].items() if k not in ("scrape_interval", "scrape_timeout")}
    auth = job.get("authorization") or {}
    if auth.get("type", "Bearer") != "Bearer" or "credentials_file" not in auth:
        raise ValueError("alerts/prometheus.yml: job tenk has no Bearer authorization with a credentials_file")
    job["authorization"] = {**auth, "credentials_file": str(token_file)}
    job["static_configs"] = [{"targets": [target]}]
    # JSON is YAML: Prometheus reads this file as it is.
    return {
        "global": {"scrape_interval": INTERVAL, "scrape_timeout": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(rules_file)],
        "scrape_configs": [job],
    }


# ------------------------------------------------------------------ HTTP helpers


def http_get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def prom(base: str, path: str, **params) -> dict:
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    status, body = http_get(url)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {"status": "error", "error": body[:300].decode(errors="replace")}
    if status != 200 and doc.get("status") != "error":
        doc = {"status": "error", "error": f"HTTP {status}"}
    return doc


def wait_for(name: str, probe, sleep: float = 0.5) -> bool:
    """Poll probe() -> (ok, detail) until ok or the budget is spent; report the outcome."""
    detail = ""
    while True:
        try:
            ok, detail = probe()
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            ok, detail = False, f"{type(e).__name__}: {e}"
        if ok:
            return report(name, True)
        if left() <= 0:
            return report(name, False, f"not true within {BUDGET:.0f}s: {detail}")
        time.sleep(min(sleep, max(left(), 0.05)))


# ------------------------------------------------------------------ processes


def stop(proc: subprocess.Popen | None, grace: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server(binary: str, tmp: Path, db_url: str, token: str) -> tuple[subprocess.Popen, str]:
    # A minimal environment: the caller's METRICS_ADDR, DATABASE_READ_URLS, APP_ENV... must
    # not change what is tested.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ") if k in os.environ}
    env.update(HOST="127.0.0.1", PORT="0", LOG_FORMAT="json", LOG_LEVEL="info", DATABASE_URL=db_url,
               REDIS_URL=UNREACHABLE_REDIS, REDIS_KEY_PREFIX=f"tenk-e2e-{secrets.token_hex(4)}:",
               OPS_TOKEN=token, SHUTDOWN_TIMEOUT="3s")
    log = tmp / "server.log"
    with log.open("w") as f:
        proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
    deadline = time.monotonic() + min(30, max(left(), 1))
    while time.monotonic() < deadline:
        for line in tail(log, 1_000_000).splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("message") == "listening" and rec.get("addr"):
                return proc, rec["addr"]
        if proc.poll() is not None:
            raise RuntimeError(f"tenk-server exited with {proc.returncode}:\n{tail(log)}")
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"tenk-server logged no 'listening' line in time:\n{tail(log)}")


def start_prometheus(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("w") as f:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + min(30, max(left(), 1))
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{tail(log)}")
        try:
            if http_get(f"{base}/-/ready", timeout=2)[0] == 200:
                return proc, base
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"prometheus not ready in time:\n{tail(log)}")


class Traffic(threading.Thread):
    """At most MAX_PAIRS x (GET /api/health, GET /api/health/redis); stops by itself."""

    def __init__(self, server: str):
        super().__init__(daemon=True)
        self.server = server
        self.halt = threading.Event()
        self.statuses: dict[str, dict[int, int]] = {}

    def run(self) -> None:
        for _ in range(MAX_PAIRS):
            for path in ("/api/health", "/api/health/redis"):
                if self.halt.is_set():
                    return
                try:
                    code = http_get(f"http://{self.server}{path}", timeout=5)[0]
                except (urllib.error.URLError, OSError):
                    code = 0
                per = self.statuses.setdefault(path, {})
                per[code] = per.get(code, 0) + 1
            self.halt.wait(0.05)

    def summary(self) -> str:
        return "; ".join(f"{p}: " + ", ".join(f"{n} x {c}" for c, n in sorted(s.items()))
                         for p, s in self.statuses.items())


# ------------------------------------------------------------------ the checks


def alerts_firing(base: str, instance: str) -> dict[str, str]:
    doc = prom(base, "/api/v1/alerts")
    if doc.get("status") != "success":
        raise ValueError(f"/api/v1/alerts: {doc.get('error')}")
    return {a["labels"]["alertname"]: a["state"] for a in doc["data"]["alerts"]
            if a["labels"].get("instance") == instance}


def run_checks(tmp: Path, binary: str, rules_src: Path, db_url: str, token: str, state: dict) -> None:
    # 1. the test copy of the rules
    try:
        text = test_rules_text(rules_src.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        report(f"test rules copy of {rules_src.name}", False, str(e))
        return
    rules_file = tmp / "tenk.rules.e2e.yml"
    rules_file.write_text(text, encoding="utf-8")
    r = subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True)
    if not report(f"test rules copy (for: {FOR}, windows [{WINDOW}]) passes promtool check rules",
                  r.returncode == 0, r.stdout + r.stderr):
        return
    rules = cfg.load_rules(rules_file)

    # 2. the server
    try:
        state["server"], addr = start_server(binary, tmp, db_url, token)
    except (OSError, RuntimeError) as e:
        report(f"tenk-server starts ({binary})", False, str(e))
        return
    report(f"tenk-server listening on {addr}", True)
    health = http_get(f"http://{addr}/api/health")[0]
    redis = http_get(f"http://{addr}/api/health/redis")[0]
    unauth = http_get(f"http://{addr}/metrics")[0]
    good = http_get(f"http://{addr}/metrics", {"Authorization": f"Bearer {token}"})
    if not report("server: /api/health 200, /api/health/redis 5xx, /metrics 401 without the token, 200 with it",
                  (health, redis // 100, unauth, good[0]) == (200, 5, 401, 200),
                  f"got {health}, {redis}, {unauth}, {good[0]}"):
        return

    # 3. Prometheus
    token_file = tmp / "ops_token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    (tmp / "prometheus.yml").write_text(json.dumps(prometheus_config(token_file, rules_file, addr), indent=2))
    r = subprocess.run(["promtool", "check", "config", str(tmp / "prometheus.yml")], capture_output=True, text=True)
    if not report("test prometheus.yml (from alerts/prometheus.yml) passes promtool check config",
                  r.returncode == 0, r.stdout + r.stderr):
        return
    try:
        state["prometheus"], base = start_prometheus(tmp)
    except (OSError, RuntimeError) as e:
        report("prometheus starts", False, str(e))
        return
    report(f"prometheus ready on {base.removeprefix('http://')}", True)

    # 4. traffic, in the background while we poll
    traffic = state["traffic"] = Traffic(addr)
    traffic.start()

    def target_up():
        doc = prom(base, "/api/v1/query", query=f'up{{job="tenk", instance="{addr}"}}')
        res = doc.get("data", {}).get("result", [])
        if doc.get("status") != "success" or not res:
            return False, f"no up series yet ({doc.get('error', 'empty result')})"
        targets = prom(base, "/api/v1/targets").get("data", {}).get("activeTargets", [])
        err = "; ".join(t.get("lastError", "") for t in targets if t.get("lastError"))
        return res[0]["value"][1] == "1", f"up = {res[0]['value'][1]} {err}"

    wait_for(f'up{{job="tenk", instance="{addr}"}} == 1 (bearer token from a credentials file)', target_up)

    def rules_healthy():
        doc = prom(base, "/api/v1/rules")
        loaded = [r for g in doc["data"]["groups"] for r in g["rules"]]
        if len(loaded) != len(rules):
            return False, f"Prometheus loaded {len(loaded)} rules, the copy has {len(rules)}"
        bad = [f"{r['name']}: {r.get('lastError')}" for r in loaded if r.get("health") == "err"]
        if bad:
            return False, "\n".join(bad)
        unknown = [r["name"] for r in loaded if r.get("health") != "ok"]
        return not unknown, f"not evaluated yet: {unknown}"

    wait_for(f"Prometheus loaded all {len(rules)} rules and evaluated each with health ok", rules_healthy)

    errors = []
    for rule in rules:
        doc = prom(base, "/api/v1/query", query=rule["expr"])
        if doc.get("status") != "success":
            errors.append(f"{rule.get('alert') or rule.get('record')}: {doc.get('errorType')}: {doc.get('error')}")
    report(f"every rule expression of the copy ({len(rules)}) runs through /api/v1/query", not errors,
           "\n".join(errors))

    # For the failure message: the 5xx ratio, i.e. TenkHighErrorRate's expr without "> threshold".
    ratio_expr = next((r["expr"].rsplit(">", 1)[0] for r in rules if r.get("alert") == "TenkHighErrorRate"), "vector(0)")

    seen: list[float] = []

    def firing(name: str):
        def probe():
            got = alerts_firing(base, addr)
            ratio = prom(base, "/api/v1/query", query=ratio_expr)
            seen.extend(float(s["value"][1]) for s in ratio.get("data", {}).get("result", []))
            peak = f"{max(seen):.3f}" if seen else "none yet"
            return (got.get(name) == "firing",
                    f"{name} is {got.get(name, 'inactive')}; highest 5xx ratio seen {peak}; active alerts {got}")
        return probe

    wait_for("TenkHighErrorRate is firing for the test server", firing("TenkHighErrorRate"))
    wait_for("TenkRedisDown is firing for the test server (tenk_redis_up 0)", firing("TenkRedisDown"))
    traffic.halt.set()
    try:
        got = alerts_firing(base, addr)
        silent = {n: got[n] for n in ("TenkInstanceDown", "TenkDatabaseDown") if n in got}
        report("TenkInstanceDown and TenkDatabaseDown are not active (server and database are up)",
               not silent, f"active: {silent}")
    except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
        report("TenkInstanceDown and TenkDatabaseDown are not active", False, str(e))
    traffic.join(timeout=10)
    print(f"      traffic: {traffic.summary()}", flush=True)


def main() -> int:
    binary = os.environ.get("TENK_SERVER_BIN", DEFAULT_BIN)
    rules_src = Path(os.environ.get("TENK_E2E_RULES", cfg.RULES))
    missing = [t for t in ("prometheus", "promtool", "psql") if shutil.which(t) is None]
    if not os.access(binary, os.X_OK):
        missing.append(binary)
    if missing:
        report("tools", False, f"missing: {' '.join(missing)}")
        print(f"e2e_check: {passed} passed, {failed} failed")
        return 1
    real_rules_sum = hashlib.sha256(cfg.RULES.read_bytes()).hexdigest()

    # SIGTERM / SIGHUP run the cleanup too (Ctrl-C already does, as KeyboardInterrupt).
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    tmp = Path(tempfile.mkdtemp(prefix="tenk-e2e-"))
    db = f"tenk_e2e_{secrets.token_hex(6)}"
    token = secrets.token_urlsafe(32)
    state: dict = {}
    try:
        run_checks(tmp, binary, rules_src, f"postgres://postgres@127.0.0.1:5432/{db}", token, state)
    except KeyboardInterrupt as e:
        report("interrupted", False, str(e))
    except Exception as e:  # an unexpected error is a failure, and cleanup still runs
        report("unexpected error", False, f"{type(e).__name__}: {e}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # do not let a second Ctrl-C skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if state.get("traffic"):
            state["traffic"].halt.set()
            state["traffic"].join(timeout=10)
        stop(state.get("prometheus"))
        server = state.get("server")
        stop(server)
        if server is not None and server.returncode not in (0, -signal.SIGTERM):
            print(f"      (tenk-server exited with {server.returncode})")
        if failed or os.environ.get("TENK_E2E_KEEP") == "1":
            for name in ("server.log", "prometheus.log"):
                if (tmp / name).exists() and failed:
                    lines = [ln for ln in tail(tmp / name, 20000).splitlines()
                             if "cache invalidation channel lost" not in ln]  # twice a second without Redis
                    print(f"      --- last lines of {name}:\n" + "\n".join("      " + ln for ln in lines[-8:]))
        r = subprocess.run(PSQL + ["-c", f'drop database if exists "{db}" with (force)'],
                           capture_output=True, text=True, timeout=30)
        report(f"cleanup: database {db} dropped", r.returncode == 0, r.stdout + r.stderr)
        if os.environ.get("TENK_E2E_KEEP") == "1":
            print(f"      kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        report("alerts/tenk.rules.yml itself is unchanged",
               hashlib.sha256(cfg.RULES.read_bytes()).hexdigest() == real_rules_sum)
    print(f"      took {time.monotonic() - T0:.1f}s")
    print(f"e2e_check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
