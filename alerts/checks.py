#!/usr/bin/env python3
"""Checks of tenk's alert rules, rule tests, routes, dashboard and provisioning: the
agreements no single tool (promtool, amtool, tsc) can see. What thresholds.toml says is
not checked here but generated (alerts/generate.py, whose --check alerts/check.sh runs).

    python3 alerts/checks.py [CHECK ...]     default: all checks
    python3 alerts/checks.py route-cases     print "<receiver> <label=value>..." per
                                             routes.test case, for alerts/check.sh

CHECKs
  rule-tests  tenk.rules.test.yml tests every alert: fires, is pending one evaluation
              before (ALERTS{alertstate="pending"}), and has a silent case; its input
              series use only known metric names
  routes      routes.test has a case for every alert, carrying the rule's own labels,
              naming receivers that exist in alertmanager.yml
  metrics     every metric referenced by the rules and the dashboard is in
              exported_metrics.txt (histogram series only through _bucket/_sum/_count)
  dashboard   datasource and instance variables, unique ids, a grid without overlaps,
              every query selecting job="tenk" and instance=~"$instance"
  wiring      prometheus.yml, alertmanager.yml and the Grafana provisioning files agree
              with each other and with the rules and the dashboard

Prints one PASS or FAIL line per check (FAIL lines say what differs) and exits 1 if any
check failed. Python 3.11+ and PyYAML; works from any working directory.
"""

from __future__ import annotations

import re
import sys

import tenkcfg as cfg
from generate import seconds
from metric_names import uses as metric_uses

DS_VAR = "${datasource}"
DS_UID = "prometheus"


def rules_by_alert() -> tuple[dict[str, dict], list[str]]:
    out, errors = {}, []
    for r in cfg.load_rules():
        if "alert" not in r:
            continue
        if r["alert"] in out:
            errors.append(f"{cfg.RULES.name}: alert {r['alert']} is defined twice")
        out[r["alert"]] = r
    return out, errors


# ------------------------------------------------------------------------------ checks


def check_rule_tests() -> list[str]:
    errors: list[str] = []
    doc = cfg.load_yaml(cfg.RULE_TESTS)
    name = cfg.RULE_TESTS.name
    if cfg.RULES.name not in (doc.get("rule_files") or []):
        errors.append(f"{name}: rule_files does not include {cfg.RULES.name}")
    step = seconds(doc.get("evaluation_interval", "1m"))
    known = set(cfg.load_exported()) | cfg.SYNTHETIC
    groups = doc.get("tests") or []
    for gi, g in enumerate(groups):
        for s in g.get("input_series") or []:
            raw = re.match(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)", s["series"])
            if not raw or cfg.base_name(raw.group(1)) not in known:
                errors.append(f"{name}: test {gi + 1}: input series of unknown metric: {s['series']!r}")

    rules, errs = rules_by_alert()
    errors += errs
    for alert, rule in rules.items():
        fr = seconds(rule.get("for", "0s"))
        if fr == 0:
            errors.append(f"{cfg.RULES.name} {alert}: no `for`: every tenk alert waits before firing")
        fires = pending = silent = False
        for g in groups:
            entries = [(seconds(a["eval_time"]), a.get("exp_alerts") or [])
                       for a in (g.get("alert_rule_test") or []) if a.get("alertname") == alert]
            if not entries:
                continue
            firing_at = {t for t, exp in entries if exp}
            quiet_at = {t for t, exp in entries if not exp}
            if firing_at:
                fires = True
                if min(firing_at) < fr:
                    errors.append(f"{name}: {alert} expected firing at {min(firing_at)}s, before its for ({fr}s)")
            # pending: quiet at t1, firing at t1 + one evaluation, ALERTS says pending at t1
            for t1 in quiet_at:
                if t1 + step not in firing_at:
                    continue
                for q in g.get("promql_expr_test") or []:
                    samples = q.get("exp_samples") or []
                    if (seconds(q["eval_time"]) == t1 and f'alertname="{alert}"' in cfg.squash(q["expr"])
                            and samples and all('alertstate="pending"' in s["labels"] for s in samples)):
                        pending = True
            # silent: a group where it never fires after `for`, or an input instance that
            # never appears among the firing alerts
            if not firing_at and any(t >= fr for t in quiet_at):
                silent = True
            inputs = {m for s in g.get("input_series") or [] for m in re.findall(r'instance="([^"]*)"', s["series"])}
            fired = {str((a.get("exp_labels") or {}).get("instance")) for _t, exp in entries for a in exp}
            if firing_at and inputs - fired:
                silent = True
        for ok, what in ((fires, "a firing case"),
                         (pending, ("a pending case (no alert at t, firing at t + one evaluation, "
                                    "ALERTS{alertstate=\"pending\"} at t)")),
                         (silent, "a silent case (below the threshold, never firing)")):
            if not ok:
                errors.append(f"{name}: {alert} has no {what}")
    return errors


def route_cases() -> tuple[list[tuple[int, str, dict]], list[str]]:
    cases, errors = [], []
    for n, line in enumerate(cfg.ROUTES_TEST.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        receiver, *pairs = line.split()
        labels = {}
        for pair in pairs:
            k, sep, v = pair.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) or not v:
                errors.append(f"{cfg.ROUTES_TEST.name}:{n}: bad label {pair!r}")
            labels[k] = v
        cases.append((n, receiver, labels))
    return cases, errors


def check_routes() -> list[str]:
    cases, errors = route_cases()
    am = cfg.load_yaml(cfg.ALERTS_DIR / "alertmanager.yml")
    receivers = {r["name"] for r in am.get("receivers") or []}
    for n, receiver, _labels in cases:
        if receiver not in receivers:
            errors.append(f"{cfg.ROUTES_TEST.name}:{n}: receiver {receiver!r} is not in alertmanager.yml")
    rules, errs = rules_by_alert()
    errors += errs
    for alert, rule in rules.items():
        mine = [(n, lab) for n, _r, lab in cases if lab.get("alertname") == alert]
        if not mine:
            errors.append(f"{cfg.ROUTES_TEST.name}: no case for alert {alert}")
        for n, lab in mine:
            for k, v in (rule.get("labels") or {}).items():
                if lab.get(k) != str(v):
                    errors.append(f"{cfg.ROUTES_TEST.name}:{n}: {alert} case has {k}={lab.get(k)!r}, the rule has {k}={v!r}")
    return errors


def check_metrics() -> list[str]:
    errors = []
    exported = cfg.load_exported()
    for base, raw, where in metric_uses():
        if base in cfg.SYNTHETIC:
            continue
        if base not in exported:
            errors.append(f"{where}: {raw} is not in {cfg.EXPORTED.name}")
        elif raw != base and exported[base] != "histogram":
            errors.append(f"{where}: {raw}: {base} is a {exported[base]}, not a histogram")
        elif raw == base and exported[base] == "histogram":
            errors.append(f"{where}: {raw} is a histogram: query {raw}_bucket, _sum or _count")
    return errors


def check_dashboard() -> list[str]:
    errors = []
    dash = cfg.load_dashboard()
    d = cfg.DASHBOARD.name
    for key in ("uid", "title"):
        if not dash.get(key):
            errors.append(f"{d}: missing {key}")
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        errors.append(f"{d}: schemaVersion {dash.get('schemaVersion')!r}: Grafana 10+ dashboards are 36 or later")
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus" \
            or (ds.get("current") or {}).get("value") != DS_UID:
        errors.append(f"{d}: needs a 'datasource' variable of type datasource, query 'prometheus', default uid {DS_UID!r}")
    inst = variables.get("instance")
    if not inst or inst.get("type") != "query" or not inst.get("includeAll") or inst.get("allValue") != ".*":
        errors.append(f"{d}: needs an 'instance' query variable with includeAll and allValue '.*'")

    ids, boxes = set(), []
    for p in dash.get("panels", []) + [c for r in dash.get("panels", []) if r.get("type") == "row" for c in r.get("panels", [])]:
        pid, title = p.get("id"), p.get("title")
        if pid in ids:
            errors.append(f"{d}: panel id {pid} used twice")
        ids.add(pid)
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] < 0 or g["x"] + g["w"] > 24:
            errors.append(f"{d}: panel {title!r}: gridPos {g} outside the 24-column grid")
            continue
        for other_title, o in boxes:
            if g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]:
                errors.append(f"{d}: panels {title!r} and {other_title!r} overlap")
        boxes.append((title, g))
    for p in cfg.dashboard_panels(dash):
        title = p.get("title")
        if (p.get("datasource") or {}).get("uid") not in (DS_VAR, DS_UID):
            errors.append(f"{d}: panel {title!r}: datasource must be {DS_VAR} or {DS_UID}")
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{d}: panel {title!r} has no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errors.append(f"{d}: panel {title!r}: refIds {refs} not unique")
        for t in targets:
            expr = t.get("expr", "")
            where = f"{d}: panel {title!r} [{t.get('refId')}]"
            if (t.get("datasource") or {}).get("uid") not in (DS_VAR, DS_UID):
                errors.append(f"{where}: datasource must be {DS_VAR} or {DS_UID}")
            selectors = re.findall(r"\{[^}]*\}", expr)
            n_metrics = len(cfg.promql_metrics(expr))
            if not n_metrics or len(selectors) != n_metrics or not all(
                    'job="tenk"' in s and 'instance=~"$instance"' in s for s in selectors):
                errors.append(f"{where}: every metric must select {{job=\"tenk\", instance=~\"$instance\", ...}}: {expr}")
    return errors


def check_wiring() -> list[str]:
    errors = []
    prom = cfg.load_yaml(cfg.ALERTS_DIR / "prometheus.yml")
    if cfg.RULES.name not in (prom.get("rule_files") or []):
        errors.append(f"prometheus.yml: rule_files does not load {cfg.RULES.name}")
    jobs = {j.get("job_name"): j for j in prom.get("scrape_configs") or []}
    job = jobs.get("tenk")
    if not job:
        errors.append("prometheus.yml: no scrape job 'tenk' (rules and dashboard select job=\"tenk\")")
    else:
        if job.get("metrics_path", "/metrics") != "/metrics":
            errors.append("prometheus.yml: job tenk must scrape /metrics")
        cred = (job.get("authorization") or {}).get("credentials_file")
        if not cred or not (cfg.ALERTS_DIR / cred).is_file():
            errors.append("prometheus.yml: job tenk needs authorization.credentials_file, an existing file")
    am_targets = [t for a in (prom.get("alerting") or {}).get("alertmanagers") or []
                  for s in a.get("static_configs") or [] for t in s.get("targets") or []]
    if "127.0.0.1:9093" not in am_targets:
        errors.append("prometheus.yml: alerting does not point at the Alertmanager on 127.0.0.1:9093")
    scrape = (prom.get("global") or {}).get("scrape_interval", "1m")

    prov = cfg.DASHBOARDS_DIR / "provisioning"
    dsdoc = cfg.load_yaml(prov / "datasources" / "prometheus.yml")
    dss = [x for x in dsdoc.get("datasources") or [] if x.get("uid") == DS_UID]
    if dsdoc.get("apiVersion") != 1 or len(dss) != 1:
        errors.append(f"provisioning/datasources/prometheus.yml: needs apiVersion 1 and one data source with uid {DS_UID!r}")
    else:
        ds = dss[0]
        if ds.get("type") != "prometheus" or not str(ds.get("url", "")).startswith("http"):
            errors.append("provisioning/datasources/prometheus.yml: type must be prometheus, with an http(s) url")
        ti = (ds.get("jsonData") or {}).get("timeInterval")
        if ti is None or seconds(ti) != seconds(scrape):
            errors.append(f"provisioning/datasources/prometheus.yml: jsonData.timeInterval {ti!r}"
                          f" != prometheus.yml scrape_interval {scrape!r}")
    dbdoc = cfg.load_yaml(prov / "dashboards" / "tenk.yml")
    provs = dbdoc.get("providers") or []
    if dbdoc.get("apiVersion") != 1 or not provs or any(
            p.get("type") != "file" or not (p.get("options") or {}).get("path") for p in provs):
        errors.append("provisioning/dashboards/tenk.yml: needs apiVersion 1 and file providers with options.path")
    return errors


CHECKS = {
    "rule-tests": check_rule_tests,
    "routes": check_routes,
    "metrics": check_metrics,
    "dashboard": check_dashboard,
    "wiring": check_wiring,
}


def main(argv: list[str]) -> int:
    if argv == ["route-cases"]:
        cases, errors = route_cases()
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1
        for _n, receiver, labels in cases:
            print(receiver, *(f"{k}={v}" for k, v in labels.items()))
        return 0
    names = argv or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for n in names:
        try:
            errors = CHECKS[n]()
        except Exception as e:  # a file that cannot be read is a failure, not a crash
            errors = [f"{type(e).__name__}: {e}"]
        if errors:
            failed += 1
            for e in errors:
                print(f"FAIL  {n}: {e}")
        else:
            print(f"PASS  {n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
