#!/usr/bin/env python3
"""Print every metric name that tenk's alert rules and dashboard query, one per line.

    python3 alerts/metric_names.py            # server metrics, sorted, unique
    python3 alerts/metric_names.py --all      # also Prometheus' own series (up, ...)
    python3 alerts/metric_names.py --where    # name<TAB>where it is used, one line per use

Sources: the `expr` of every rule in alerts/tenk.rules.yml and of every panel target in
dashboards/tenk-overview.json. Histogram series are reported by their base name
(http_server_request_duration_seconds_bucket -> http_server_request_duration_seconds).
Prometheus' own series (up, ALERTS, scrape_*) are left out unless --all: tenk does not
export them. A Rust test can compare this list with what the server's /metrics exports;
alerts/check.sh compares it with alerts/exported_metrics.txt.
Python 3.11+ and PyYAML; works from any working directory.
"""

from __future__ import annotations

import signal
import sys

import tenkcfg


def uses() -> list[tuple[str, str, str]]:
    """(base name, raw name, where) for every metric reference."""
    out = []
    for rule in tenkcfg.load_rules():
        name = rule.get("alert") or rule.get("record")
        for raw in tenkcfg.promql_metrics(str(rule["expr"])):
            out.append((tenkcfg.base_name(raw), raw, f"{tenkcfg.RULES.name}: {name}"))
    for panel in tenkcfg.dashboard_panels(tenkcfg.load_dashboard()):
        for t in panel.get("targets", []):
            for raw in tenkcfg.promql_metrics(t.get("expr", "")):
                out.append((tenkcfg.base_name(raw), raw,
                            f"{tenkcfg.DASHBOARD.name}: {panel.get('title')} [{t.get('refId')}]"))
    return out


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    unknown = [a for a in argv if a not in ("--all", "--where")]
    if unknown:
        print(__doc__, file=sys.stderr)
        return 2
    every = [u for u in uses() if "--all" in argv or u[0] not in tenkcfg.SYNTHETIC]
    if "--where" in argv:
        for base, _raw, where in every:
            print(f"{base}\t{where}")
    else:
        for name in sorted({u[0] for u in every}):
            print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
