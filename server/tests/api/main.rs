//! Black-box tests of tenk-server over TCP, against the real PostgreSQL and
//! Redis. Each test gets its own database and its own Redis key prefix.

mod helpers;

mod config;
mod health;
mod problems;
