-- Accounts. The email is stored as typed; uniqueness is case-insensitive
-- through the index on lower(email), which lookups use too.
create table users (
    user_id uuid primary key,
    email text not null,
    name text not null,
    -- a PHC string ($argon2id$...) or a bcrypt hash ($2b$...): never returned by any endpoint
    password_hash text not null,
    role text not null default 'user' check (role in ('user', 'admin')),
    status text not null default 'active' check (status in ('active', 'disabled')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_login_at timestamptz
);

create unique index users_email_key on users (lower(email));
