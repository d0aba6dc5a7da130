#!/usr/bin/env bash
# Validates tenk's alerting and dashboard files with the real tools, checks that the files
# generated from thresholds.toml are current, and checks what no tool sees (checks.py).
#
#   bash alerts/check.sh        (from any directory)
#   bash alerts/check.sh -v     also show the output of passing steps
#   TENK_CHECK_LIVE=0 bash alerts/check.sh   skip the two steps that start a Prometheus
#                                            and an Alertmanager on 127.0.0.1
#
# Needs: promtool, amtool, prometheus, prometheus-alertmanager (Debian: apt-get install -y
# prometheus prometheus-alertmanager), python3 >= 3.11 with PyYAML (Debian: python3-yaml), node + npm (runs `npm ci` in
# dashboards/schema-check when its node_modules is missing).
# Prints one PASS/FAIL line per step (a FAIL shows the tool's output, indented), then
# "check.sh: N passed, M failed"; exits 1 if any step failed. Every step runs, even after
# a failure, so one run shows everything that is wrong.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # keep alerts/ free of __pycache__

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"   # alerts/
repo="$(dirname "$here")"
schema="$repo/dashboards/schema-check"
verbose=0
[[ "${1:-}" == "-v" ]] && verbose=1

passed=0
failed=0

# step NAME COMMAND...: run COMMAND, record and print PASS/FAIL.
step() {
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then
    passed=$((passed + 1))
    echo "PASS  $name"
    if [[ $verbose == 1 && -n "$out" ]]; then printf '%s\n' "$out" | sed 's/^/      /'; fi
  else
    failed=$((failed + 1))
    echo "FAIL  $name"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
}

# --- tools ---------------------------------------------------------------------------
missing=()
for tool in promtool amtool prometheus prometheus-alertmanager python3 node npm; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "FAIL  tools: missing ${missing[*]} (apt-get install -y prometheus prometheus-alertmanager nodejs npm)"
  echo "check.sh: 0 passed, 1 failed"
  exit 1
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "FAIL  tools: python3 >= 3.11 needed (tomllib)"
  echo "check.sh: 0 passed, 1 failed"
  exit 1
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "FAIL  tools: python3 has no PyYAML (apt-get install -y python3-yaml)"
  echo "check.sh: 0 passed, 1 failed"
  exit 1
fi

# --- Prometheus: rules, their unit tests, the server config ---------------------------
step "promtool check rules tenk.rules.yml" promtool check rules "$here/tenk.rules.yml"
step "promtool test rules tenk.rules.test.yml (fires / pending / silent per alert)" \
  promtool test rules "$here/tenk.rules.test.yml"
step "promtool check config prometheus.yml" promtool check config "$here/prometheus.yml"

# --- Alertmanager: config and routing --------------------------------------------------
step "amtool check-config alertmanager.yml" amtool check-config "$here/alertmanager.yml"
step "routes.test covers every alert with the rule's labels" python3 "$here/checks.py" routes
route_test() {  # route_test RECEIVER LABEL=VALUE...
  local receiver="$1"; shift
  amtool config routes test --config.file="$here/alertmanager.yml" --verify.receivers="$receiver" "$@"
}
if cases="$(python3 "$here/checks.py" route-cases 2>&1)"; then
  while read -r receiver labels; do
    [[ -z "$receiver" ]] && continue
    # shellcheck disable=SC2086  # labels are name=value words without spaces
    step "amtool config routes test: ${labels%% *} -> $receiver" route_test "$receiver" $labels
  done <<<"$cases"
else
  step "read routes.test" false
  printf '%s\n' "$cases" | sed 's/^/      /'
fi

# --- one source of thresholds; consistency of rules, tests, dashboard, wiring ----------
step "tenk.rules.yml, k8s PrometheusRule, dashboard threshold steps = generate.py of thresholds.toml" \
  python3 "$here/generate.py" --check
step "tenk.rules.test.yml tests every alert (fires, pending, silent)" python3 "$here/checks.py" rule-tests
step "dashboard variables, ids, grid, instance/job selectors" python3 "$here/checks.py" dashboard
step "prometheus.yml / alertmanager.yml / Grafana provisioning agree" python3 "$here/checks.py" wiring

# --- metric names: everything queried is exported ---------------------------------------
metric_names_exported() {
  local names exported unknown
  names="$(python3 "$here/metric_names.py")"
  [[ -n "$names" ]] || { echo "metric_names.py printed nothing"; return 1; }
  exported="$(sed 's/#.*//' "$here/exported_metrics.txt" | awk 'NF { print $1 }' | sort -u)"
  unknown="$(comm -23 <(sort -u <<<"$names") <(printf '%s\n' "$exported"))"
  if [[ -n "$unknown" ]]; then
    echo "not in exported_metrics.txt:"
    printf '%s\n' "$unknown"
    return 1
  fi
  echo "$(wc -l <<<"$names") metric names, all exported"
}
step "metric_names.py: every name is in exported_metrics.txt" metric_names_exported
step "metric types: histograms only via _bucket/_sum/_count" python3 "$here/checks.py" metrics

# --- dashboard against the @grafana/schema types ------------------------------------------
schema_check() {
  cd "$schema"
  if [[ ! -x node_modules/.bin/tsc ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  node generate.mjs
  node_modules/.bin/tsc --noEmit --strict -p .
}
step "dashboards/*.json type-check as @grafana/schema Dashboard (tsc --noEmit --strict)" schema_check

# --- live: a real Prometheus and Alertmanager on 127.0.0.1 ----------------------------------
if [[ "${TENK_CHECK_LIVE:-1}" != 0 ]]; then
  step "every dashboard query returns data from a test Prometheus" python3 "$here/live_check.py" prometheus
  step "Alertmanager inhibitions silence what they should, and only that" python3 "$here/live_check.py" alertmanager
fi

echo "check.sh: $passed passed, $failed failed"
((failed == 0))
