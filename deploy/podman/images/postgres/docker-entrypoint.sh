#!/usr/bin/env bash
# Stand-in for the official postgres image's docker-entrypoint.sh, the part
# docker-compose.yml relies on (deploy/podman/images/postgres/Dockerfile):
#   - as root: own PGDATA and the socket folder, then run again as postgres (gosu);
#   - an empty PGDATA: initdb with POSTGRES_USER / POSTGRES_PASSWORD, `host all all all
#     scram-sha-256`, create POSTGRES_DB, run /docker-entrypoint-initdb.d/*.sh and *.sql
#     on a server that listens on the socket only, stop it;
#   - then exec the command (postgres -c ...).
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?the database is uninitialized and POSTGRES_PASSWORD is not set}"
    export POSTGRES_USER="${POSTGRES_USER:-postgres}"
    export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") -D "$PGDATA"
    printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    run_psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ "$POSTGRES_DB" != postgres ]; then
        "${run_psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                echo "entrypoint: running $f"
                if [ -x "$f" ]; then
                    "$f"
                else
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql)
                echo "entrypoint: running $f"
                "${run_psql[@]}" --dbname "$POSTGRES_DB" -f "$f"
                ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "entrypoint: PostgreSQL init process complete; ready for start up"
fi

exec "$@"
