-- Idempotency keys (issue 14): the first reply to a write sent with an
-- `Idempotency-Key` header, written in the same transaction as the write, so
-- a write that was saved is always remembered and one that was not never is.
-- Keys are scoped per user; rows older than 24 hours are expired and purged.
create table idempotency_keys (
    user_id uuid not null references users (user_id) on delete cascade,
    key text not null,
    -- SHA-256 over the method, route, path id and canonical request body
    fingerprint bytea not null,
    -- the reply: HTTP status and JSON body (empty for 204)
    status smallint not null,
    body bytea not null,
    created_at timestamptz not null default now(),
    primary key (user_id, key)
);

-- The purge deletes by age.
create index idempotency_keys_created_at_idx on idempotency_keys (created_at);
