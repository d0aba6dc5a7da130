#!/usr/bin/env bash
# The scale-out engines, run for real on loopback: nginx in front of three
# tenk instances, PgBouncer in transaction mode, and a streaming replica.
# Needs the debug tenk-server (cargo build -p tenk-server) and installs
# nginx and pgbouncer from apt when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v pgbouncer >/dev/null || need+=(pgbouncer)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
status=0
for test in nginx_test pgbouncer_test replica_test redis_test; do
  printf '\n-- %s\n' "$test"
  PYTHONDONTWRITEBYTECODE=1 python3 "$here/$test.py" || status=1
done
exit $status
