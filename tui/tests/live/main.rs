//! tenk-tui against real tenk-server processes (real PostgreSQL and Redis):
//! the poller, the admin client, `--once --json`, an instance that stops,
//! and the real binary driven in a pseudo-terminal (tmux).

mod admin;
mod down;
mod once;
mod poller;
mod pty;
mod server;
