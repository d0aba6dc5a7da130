"""Readers shared by alerts/checks.py and alerts/metric_names.py (Python 3.11+ stdlib only).

- load_yaml():      a strict reader for the YAML subset that tenk's alert files use
                    (Python's stdlib has no YAML). Anything outside the subset is an
                    error naming file and line, never a silent misreading.
- promql_metrics(): the metric names a PromQL expression selects.
- the paths of alerts/ and dashboards/, so every script works from any working directory.

The YAML subset: block mappings and block sequences (indented with spaces), plain,
'single-' and "double-quoted" scalars, block scalars (| |- > >-), empty flow
collections ([] {}) and flow sequences of scalars ([a, 'b']), and # comments.
Not supported: anchors/aliases, tags, multi-document streams, flow mappings with
content, multi-line flow or quoted scalars, complex keys.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ALERTS_DIR = Path(__file__).resolve().parent
REPO_DIR = ALERTS_DIR.parent
DASHBOARDS_DIR = REPO_DIR / "dashboards"

THRESHOLDS = ALERTS_DIR / "thresholds.toml"
RULES = ALERTS_DIR / "tenk.rules.yml"
RULE_TESTS = ALERTS_DIR / "tenk.rules.test.yml"
ROUTES_TEST = ALERTS_DIR / "routes.test"
EXPORTED = ALERTS_DIR / "exported_metrics.txt"
DASHBOARD = DASHBOARDS_DIR / "tenk-overview.json"


# --------------------------------------------------------------------------- YAML subset


class YamlSubsetError(ValueError):
    pass


_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$")


class _Reader:
    def __init__(self, text: str, name: str):
        self.lines = text.split("\n")
        self.name = name
        self.i = 0

    def err(self, msg: str, line: int | None = None) -> YamlSubsetError:
        n = (self.i if line is None else line) + 1
        return YamlSubsetError(f"{self.name}:{n}: {msg}")

    # A line's content without its comment; None for blank and comment-only lines.
    def content(self, idx: int) -> tuple[int, str] | None:
        raw = self.lines[idx]
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise self.err("tab in indentation", idx)
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            return None
        return len(raw) - len(stripped), _strip_comment(stripped).rstrip()

    def peek(self) -> tuple[int, str] | None:
        while self.i < len(self.lines):
            c = self.content(self.i)
            if c is not None:
                return c
            self.i += 1
        return None

    def node(self, indent: int):
        ind, text = self.peek()  # type: ignore[misc]
        if ind != indent:
            raise self.err(f"expected indentation {indent}, found {ind}")
        if text == "-" or text.startswith("- "):
            return self.seq(indent)
        return self.mapping(indent)

    def seq(self, indent: int) -> list:
        items = []
        while True:
            p = self.peek()
            if p is None or p[0] < indent:
                return items
            ind, text = p
            if ind > indent:
                raise self.err("unexpected indentation in sequence")
            if not (text == "-" or text.startswith("- ")):
                return items  # a mapping key at the same indent ends the sequence
            rest = text[1:].lstrip(" ")
            if not rest:
                self.i += 1
                nxt = self.peek()
                if nxt is None or nxt[0] <= indent:
                    items.append(None)
                else:
                    items.append(self.node(nxt[0]))
            elif _is_key_line(rest):
                # "- key: value": a mapping whose first key sits after the dash.
                col = ind + (len(text) - len(rest))
                raw = self.lines[self.i]
                self.lines[self.i] = " " * col + raw[col:]
                items.append(self.mapping(col))
            else:
                self.i += 1
                items.append(self.scalar(rest))

    def mapping(self, indent: int) -> dict:
        out: dict = {}
        while True:
            p = self.peek()
            if p is None or p[0] < indent:
                return out
            ind, text = p
            if ind > indent:
                raise self.err("unexpected indentation in mapping")
            if text == "-" or text.startswith("- "):
                return out
            if not _is_key_line(text):
                raise self.err(f"expected 'key: value', found {text!r}")
            key, rest = _split_key(text)
            key = self.scalar(key) if key[:1] in "'\"" else key
            if key in out:
                raise self.err(f"duplicate key {key!r}")
            line = self.i
            self.i += 1
            if rest == "":
                nxt = self.peek()
                if nxt is not None and (nxt[0] > indent or (nxt[0] == indent and (nxt[1] == "-" or nxt[1].startswith("- ")))):
                    out[key] = self.node(nxt[0])
                else:
                    out[key] = None
            elif rest[0] in "|>":
                out[key] = self.block_scalar(rest, indent, line)
            else:
                self.i = line
                out[key] = self.scalar(rest)
                self.i = line + 1

    def block_scalar(self, header: str, parent: int, line: int) -> str:
        if header not in ("|", "|-", ">", ">-"):
            raise self.err(f"unsupported block scalar header {header!r}", line)
        body: list[str] = []
        block_indent = None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip() == "":
                body.append("")
                self.i += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if ind <= parent:
                break
            if block_indent is None:
                block_indent = ind
            if ind < block_indent:
                raise self.err("block scalar line less indented than its first line")
            body.append(raw[block_indent:])
            self.i += 1
        while body and body[-1] == "":
            body.pop()
            self.i -= 1  # leave trailing blank lines to the caller (harmless)
        if header[0] == "|":
            text = "\n".join(body)
        else:  # folded: lines of a paragraph joined by spaces, blank lines become newlines
            paragraphs, cur = [], []
            for b in body:
                if b == "":
                    paragraphs.append(" ".join(cur))
                    cur = []
                else:
                    cur.append(b)
            paragraphs.append(" ".join(cur))
            text = "\n".join(paragraphs)
        return text if header.endswith("-") else text + "\n"

    def scalar(self, text: str):
        text = text.strip()
        if text.startswith('"'):
            val, end = _double_quoted(text, self)
            if text[end:].strip():
                raise self.err(f"text after closing quote: {text!r}")
            return val
        if text.startswith("'"):
            m = re.match(r"'((?:[^']|'')*)'", text)
            if not m or text[m.end():].strip():
                raise self.err(f"bad single-quoted scalar {text!r}")
            return m.group(1).replace("''", "'")
        if text.startswith("["):
            if not text.endswith("]"):
                raise self.err(f"unsupported flow sequence {text!r}")
            inner = text[1:-1].strip()
            return [self.scalar(part) for part in _split_flow(inner, self)] if inner else []
        if text.startswith("{"):
            if text.replace(" ", "") != "{}":
                raise self.err(f"unsupported flow mapping {text!r}")
            return {}
        if text[0] in "&*!%@`":
            raise self.err(f"unsupported YAML syntax {text!r}")
        if text in ("null", "~"):
            return None
        if text in ("true", "false"):
            return text == "true"
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        return text


def _strip_comment(s: str) -> str:
    quote, i = None, 0
    while i < len(s):
        ch = s[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1  # skip the escaped character
            elif ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or s[i - 1] in " [,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or s[i - 1] == " "):
            return s[:i]
        i += 1
    return s


def _is_key_line(text: str) -> bool:
    try:
        _split_key(text)
        return True
    except ValueError:
        return False


def _split_key(text: str) -> tuple[str, str]:
    if text[0] in "'\"":
        q = text[0]
        end = text.index(q, 1) + 1
        if text[end:end + 1] != ":" or text[end + 1:end + 2] not in ("", " "):
            raise ValueError
        return text[:end], text[end + 1:].strip()
    m = re.match(r"^([^\s'\"\[\]{}#,][^:#]*?):(?: +(.*))?$", text)
    if not m:
        raise ValueError
    return m.group(1), (m.group(2) or "").strip()


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "/": "/"}


def _double_quoted(text: str, r: _Reader) -> tuple[str, int]:
    out, i = [], 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1:i + 2]
            if nxt not in _ESCAPES:
                raise r.err(f"unsupported escape \\{nxt} in {text!r}")
            out.append(_ESCAPES[nxt])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise r.err(f"unterminated double-quoted scalar {text!r}")


def _split_flow(inner: str, r: _Reader) -> list[str]:
    parts, cur, quote = [], [], None
    for ch in inner:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch in "[]{}":
            raise r.err(f"nested flow collection in [{inner}]")
        elif ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (x.strip() for x in parts) if p]


def load_yaml(path: Path):
    text = path.read_text(encoding="utf-8")
    r = _Reader(text, str(path))
    p = r.peek()
    if p is None:
        return None
    if p[1] == "---" or p[1].startswith("%"):
        raise r.err("document markers / directives are not supported")
    value = r.node(p[0])
    if r.peek() is not None:
        raise r.err("content after the end of the document (bad indentation?)")
    return value


# --------------------------------------------------------------------------- loaders


def load_thresholds(path: Path = THRESHOLDS) -> list[dict]:
    with path.open("rb") as f:
        return tomllib.load(f).get("threshold", [])


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
