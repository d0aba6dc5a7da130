#!/bin/sh
# Writes PgBouncer's auth file from the environment (deploy/compose.env), then runs
# PgBouncer in the foreground. The password lands in neither the repository nor an
# image layer: only in the running container's /run/pgbouncer (mode 0700, user postgres).
set -eu
: "${POSTGRES_USER:?set POSTGRES_USER in deploy/compose.env}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/compose.env}"
auth_dir=/run/pgbouncer
umask 077
mkdir -p "$auth_dir"
# userlist.txt format: "user" "password", with any " doubled.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
printf '%s %s\n' "$(quote "$POSTGRES_USER")" "$(quote "$POSTGRES_PASSWORD")" > "$auth_dir/userlist.txt"
exec pgbouncer "${PGBOUNCER_INI:-/etc/pgbouncer/pgbouncer.ini}"
