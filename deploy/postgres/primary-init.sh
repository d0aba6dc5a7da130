#!/usr/bin/env bash
# Runs once, when the primary's data volume is initialised (mounted into
# /docker-entrypoint-initdb.d of the postgres image): creates the replication role
# and the replica's slot, and lets the role connect for replication.
set -euo pipefail
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD in deploy/compose.env}"
replication_user="${REPLICATION_USER:-replicator}"
slot="${REPLICATION_SLOT:-replica_1}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=role="$replication_user" --set=password="$REPLICATION_PASSWORD" --set=slot="$slot" <<'SQL'
CREATE ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'password';
-- The slot keeps the WAL the replica has not received yet (bounded by
-- max_slot_wal_keep_size, so a replica that is gone for good cannot fill the disk).
SELECT pg_create_physical_replication_slot(:'slot');
SQL

# Replication connections need their own pg_hba line ("all" does not cover them).
echo "host replication ${replication_user} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
