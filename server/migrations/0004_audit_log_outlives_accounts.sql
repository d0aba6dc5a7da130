-- Accounts can be deleted (issue 15). The audit log must outlive them, and
-- `create-admin` writes rows for the operator at the console (the nil
-- uuid), so actor_id names an account that may no longer exist.
alter table audit_log drop constraint if exists audit_log_actor_id_fkey;
