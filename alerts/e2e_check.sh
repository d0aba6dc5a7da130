#!/usr/bin/env bash
# End-to-end alert check: real tenk-server + real Prometheus (see e2e_check.py's docstring).
#   bash alerts/e2e_check.sh      TENK_SERVER_BIN=/path/to/tenk-server bash alerts/e2e_check.sh
PYTHONDONTWRITEBYTECODE=1 exec python3 "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/e2e_check.py" "$@"
