#!/usr/bin/env bash
# The scale-out engines, run for real on loopback: nginx in front of three
# tenk instances, PgBouncer in transaction mode, and a streaming replica.
# Needs the debug tenk-server (cargo build -p tenk-server); installs nginx
# from apt when missing, and pgbouncer.sh provides PgBouncer 1.21+.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
need=()
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
status=0
for test in nginx_test pgbouncer_test replica_test redis_test; do
  printf '\n-- %s\n' "$test"
  PYTHONDONTWRITEBYTECODE=1 python3 "$here/$test.py" || status=1
done
exit $status
