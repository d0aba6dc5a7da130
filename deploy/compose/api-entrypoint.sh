#!/bin/sh
# Entrypoint of the API containers of docker-compose.yml (services api-1..3 and
# migrate). It builds the PostgreSQL URLs from POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB, so the password is written once, in deploy/compose.env, then runs
# tenk-server with the given arguments (serve, migrate, ...).
#
#   TENK_DB_ROUTE=pgbouncer  DATABASE_URL through PgBouncer (the default; serving)
#   TENK_DB_ROUTE=direct     DATABASE_URL straight to the primary (migrations: sqlx
#                            holds a session-level advisory lock while it migrates,
#                            which transaction pooling cannot keep)
# DATABASE_READ_URLS always points at the streaming replica. A DATABASE_URL or
# DATABASE_READ_URLS already set in the environment wins.
set -eu
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/compose.env}"
: "${POSTGRES_DB:?set POSTGRES_DB}"

# The password goes into URLs verbatim: allow only characters that need no escaping.
case "$POSTGRES_PASSWORD" in
    *[!A-Za-z0-9._~-]*)
        echo "api-entrypoint: POSTGRES_PASSWORD may only hold A-Z a-z 0-9 . _ ~ - (try: openssl rand -hex 32)" >&2
        exit 2
        ;;
esac

credentials="${POSTGRES_USER}:${POSTGRES_PASSWORD}"
case "${TENK_DB_ROUTE:-pgbouncer}" in
    pgbouncer) primary="pgbouncer:6432" ;;
    direct) primary="postgres:5432" ;;
    *)
        echo "api-entrypoint: TENK_DB_ROUTE must be pgbouncer or direct" >&2
        exit 2
        ;;
esac
export DATABASE_URL="${DATABASE_URL:-postgres://${credentials}@${primary}/${POSTGRES_DB}}"
export DATABASE_READ_URLS="${DATABASE_READ_URLS:-postgres://${credentials}@postgres-replica:5432/${POSTGRES_DB}}"
exec tenk-server "$@"
