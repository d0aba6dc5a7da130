-- When the address was proven (a verification link or a one-time code);
-- null until then. REQUIRE_VERIFIED_EMAIL decides whether null may log in.
alter table users add column email_verified_at timestamptz;
