-- Every operator action, written in the same transaction as its effect.
create table audit_log (
    audit_id bigint generated always as identity primary key,
    actor_id uuid not null references users (user_id),
    action text not null,
    -- what the action touched: "user:<uuid>" or "session:<id>"
    target text not null,
    ip text not null,
    request_id text not null,
    created_at timestamptz not null default now()
);

-- The example resource users copy: posts owned by their author.
create table posts (
    post_id uuid primary key,
    author_id uuid not null references users (user_id) on delete cascade,
    title text not null,
    body text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- List order (newest first, id as tie-break) for keyset pagination.
create index posts_created_at_idx on posts (created_at desc, post_id desc);
-- Title search is a case-insensitive substring match.
create index posts_title_lower_idx on posts (lower(title) text_pattern_ops);
