#!/usr/bin/env bash
# The fault suite: tenk-server under a constant write + read load, on its own
# PostgreSQL cluster (initdb + pg_ctl, side port) and its own Redis (side
# port, no persistence), while each fault is injected in turn. Loopback only;
# the shared 127.0.0.1:5432 / :6379 services are never touched. Prints a
# Markdown table (also written to $FAULTS_REPORT when set) and exits non-zero
# on any failed assertion. Needs the debug server (cargo build -p tenk-server),
# root (the cluster runs as the postgres user through runuser), redis-server
# and PostgreSQL's binaries under /usr/lib/postgresql/*/bin.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TENK_SERVER_BIN="${TENK_SERVER_BIN:-${CARGO_TARGET_DIR:-/var/tmp/tenk-target}/debug/tenk-server}"
command -v redis-server >/dev/null || { echo "faults: redis-server is missing" >&2; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "faults: PostgreSQL's initdb is missing" >&2; exit 1; }
[ -x "$TENK_SERVER_BIN" ] || { echo "faults: $TENK_SERVER_BIN is missing: cargo build -p tenk-server" >&2; exit 1; }
PYTHONDONTWRITEBYTECODE=1 exec python3 -u "$here/suite.py"
