//! SQL connection pools, embedded reversible migrations and seed data for PostgreSQL and SQLite.
