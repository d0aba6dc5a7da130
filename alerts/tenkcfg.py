"""Readers shared by the alerts/ scripts (Python 3.11+ and PyYAML, as deploy/checks.py):

- load_yaml(), load_rules(), load_dashboard(), load_exported(): the files, parsed.
- promql_metrics(): the metric names a PromQL expression selects.
- the paths of alerts/ and dashboards/, so every script works from any working directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ALERTS_DIR = Path(__file__).resolve().parent
REPO_DIR = ALERTS_DIR.parent
DASHBOARDS_DIR = REPO_DIR / "dashboards"

RULES = ALERTS_DIR / "tenk.rules.yml"
RULE_TESTS = ALERTS_DIR / "tenk.rules.test.yml"
ROUTES_TEST = ALERTS_DIR / "routes.test"
EXPORTED = ALERTS_DIR / "exported_metrics.txt"
DASHBOARD = DASHBOARDS_DIR / "tenk-overview.json"


# --------------------------------------------------------------------------- loaders


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_rules(path: Path = RULES) -> list[dict]:
    """Every rule of every group, each with a '_group' key added."""
    doc = load_yaml(path)
    rules = []
    for g in doc["groups"]:
        for rule in g["rules"]:
            rules.append({**rule, "_group": g["name"]})
    return rules


def load_dashboard(path: Path = DASHBOARD) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def dashboard_panels(dash: dict) -> list[dict]:
    """All non-row panels, including those inside collapsed rows."""
    out = []
    for p in dash.get("panels", []):
        if p.get("type") == "row":
            out.extend(p.get("panels", []))
        else:
            out.append(p)
    return out


def load_exported(path: Path = EXPORTED) -> dict[str, str]:
    """exported_metrics.txt: `name type` per line, '#' comments -> {name: type}."""
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("counter", "gauge", "histogram"):
            raise ValueError(f"{path}:{n}: expected '<name> counter|gauge|histogram', got {line!r}")
        out[parts[0]] = parts[1]
    return out


# --------------------------------------------------------------------------- PromQL

_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
# Aggregation operators may be followed by `by (...)`/`without (...)` instead of '('.
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                 "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)[a-zA-Z]*")
# Series Prometheus makes itself: referenced by rules/dashboards, never exported by tenk.
SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped",
             "scrape_samples_post_metric_relabeling", "scrape_series_added"}


def _skip_string(expr: str, i: int) -> int:
    q = expr[i]
    i += 1
    while i < len(expr):
        if expr[i] == "\\" and q != "`":
            i += 2
            continue
        if expr[i] == q:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in PromQL: {expr!r}")


def _skip_until(expr: str, i: int, close: str) -> int:
    while i < len(expr):
        ch = expr[i]
        if ch in "\"'`":
            i = _skip_string(expr, i)
            continue
        if ch == close:
            return i + 1
        i += 1
    raise ValueError(f"missing {close!r} in PromQL: {expr!r}")


def promql_metrics(expr: str) -> list[str]:
    """Metric names selected by a PromQL expression (Grafana $variables allowed), in order.

    Skips strings, label matchers {...}, ranges [...], numbers and durations, function and
    aggregation names (an identifier followed by '(', or an aggregation followed by
    by/without), grouping lists (by/without/on/
    ignoring/group_left/group_right (...)) and keywords.
    """
    names, i, n = [], 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "\"'`":
            i = _skip_string(expr, i)
        elif ch == "{":
            i = _skip_until(expr, i + 1, "}")
        elif ch == "[":
            i = _skip_until(expr, i + 1, "]")
        elif ch == "$":
            m = re.match(r"\$(\{[^}]*\}|\w+)", expr[i:])
            i += m.end() if m else 1
        elif ch.isdigit() or (ch == "." and expr[i + 1:i + 2].isdigit()):
            i += _NUMBER.match(expr, i).end() - i
        elif ch.isalpha() or ch in "_:":
            m = _IDENT.match(expr, i)
            word, i = m.group(0), m.end()
            j = i
            while j < n and expr[j].isspace():
                j += 1
            nxt = expr[j:j + 1]
            low = word.lower()
            if low in _GROUPING:
                if nxt == "(":
                    i = _skip_until(expr, j + 1, ")")
            elif nxt == "(" or low in _KEYWORDS:
                continue
            elif low in _AGGREGATIONS and _IDENT.match(expr, j) and _IDENT.match(expr, j).group(0).lower() in ("by", "without"):
                continue
            else:
                names.append(word)
        else:
            i += 1
    return names


def base_name(name: str) -> str:
    """Histogram series name -> the histogram's name (strip _bucket/_sum/_count)."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


def squash(expr: str) -> str:
    """PromQL with all whitespace removed, for comparing two spellings of one expression."""
    return re.sub(r"\s+", "", expr)
