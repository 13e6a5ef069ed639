//! seam-queue-sql against the real databases: the queue conformance suite on a fresh
//! PostgreSQL database and a fresh SQLite file per test, plus what only this adapter does.
//! Needs Postgres on 127.0.0.1:5432 (`make services`).

#[macro_use]
mod support;

mod conformance;
mod sql;
mod unique;
