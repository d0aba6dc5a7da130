#!/usr/bin/env bash
# What CI runs for loadtest/: format, lints, unit tests, and the smoke test
# (tests/smoke.rs: a few seconds of seed-mix, a two-step capacity search
# after a short warm-up and a brief overload run, with 50 users against a
# real tenk-server; zero errors and a complete report, no timing). Needs PostgreSQL and Redis on 127.0.0.1, as the
# workspace tests do.
#
#   bash loadtest/smoke.sh
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tenk-target}"
# The server under test: the workspace's debug build (CI has built it already
# for the workspace tests; this is then a no-op).
(cd .. && cargo build -q -p tenk-server)
export TENK_SERVER_BIN="${TENK_SERVER_BIN:-$CARGO_TARGET_DIR/debug/tenk-server}"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
