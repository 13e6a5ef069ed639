//! seam-sql against the real servers: PostgreSQL (a fresh database per test) and SQLite
//! (a fresh file per test). Most scenarios run on both backends through
//! [`on_both_backends!`]. Needs Postgres on 127.0.0.1:5432 (`make services`).

#[macro_use]
mod support;

mod connect;
mod errors;
mod health;
mod migrations;
mod seed;
