//! seam-repository-sql against real databases: the port's conformance suite, one test
//! per check, on a fresh PostgreSQL database (`TestPostgres`) and on a fresh SQLite file
//! (`TestSqlite`), plus what only a real database shows (a closed pool is
//! `Unavailable`, another backend is refused). Needs Postgres on 127.0.0.1:5432
//! (`make services`).

mod support;

mod email_events;
mod postgres;
mod sqlite;
mod webhook_events;
