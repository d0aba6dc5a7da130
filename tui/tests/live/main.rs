//! tenk-tui against real tenk-server processes (real PostgreSQL and Redis):
//! the poller, the admin client, `--once --json`, an instance that stops
//! and comes back, fleet mode against a real Prometheus and Alertmanager,
//! and the real binary driven in a pseudo-terminal (tmux).

mod admin;
mod down;
mod fleet;
mod once;
mod poller;
mod pty;
mod server;
