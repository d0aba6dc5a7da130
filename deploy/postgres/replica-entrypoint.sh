#!/usr/bin/env bash
# Entrypoint of the streaming replica (docker-compose.yml service `postgres-replica`),
# for the official postgres image. On an empty data volume it clones the primary with
# pg_basebackup and marks the copy as a standby; then (and on every later start) it
# hands over to the image's own entrypoint, which finds an initialised data directory
# and starts PostgreSQL as a hot standby streaming from the primary.
set -euo pipefail
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD in deploy/compose.env}"
primary_host="${PRIMARY_HOST:-postgres}"
primary_port="${PRIMARY_PORT:-5432}"
replication_user="${REPLICATION_USER:-replicator}"
slot="${REPLICATION_SLOT:-replica_1}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA

# The password lives in a passfile outside the data volume, rewritten at every start
# from the environment: rotating it is a change of deploy/compose.env and a restart.
passdir="${PGPASS_DIR:-/var/lib/postgresql}"
passfile="$passdir/.pgpass"
install -d -o postgres -g postgres -m 0700 "$passdir"
printf '%s:%s:replication:%s:%s\n' "$primary_host" "$primary_port" "$replication_user" \
    "$(printf '%s' "$REPLICATION_PASSWORD" | sed 's/[\\:]/\\&/g')" > "$passfile"
chown postgres:postgres "$passfile"
chmod 0600 "$passfile"
export PGPASSFILE="$passfile"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "replica: cloning ${primary_host}:${primary_port} into $PGDATA"
    until pg_isready -h "$primary_host" -p "$primary_port" -q; do
        echo "replica: waiting for the primary"
        sleep 2
    done
    install -d -o postgres -g postgres -m 0700 "$PGDATA"
    # Refuse a half-written directory from an interrupted clone: start over.
    find "$PGDATA" -mindepth 1 -delete
    gosu postgres pg_basebackup --host="$primary_host" --port="$primary_port" \
        --username="$replication_user" --no-password --pgdata="$PGDATA" \
        --wal-method=stream --slot="$slot" --checkpoint=fast --verbose
    # Standby settings (instead of --write-recovery-conf, which would copy the
    # password into the data volume).
    gosu postgres touch "$PGDATA/standby.signal"
    cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=${primary_host} port=${primary_port} user=${replication_user} passfile=${passfile} application_name=${slot}'
primary_slot_name = '${slot}'
CONF
    echo "replica: clone done"
fi

exec docker-entrypoint.sh "$@"
