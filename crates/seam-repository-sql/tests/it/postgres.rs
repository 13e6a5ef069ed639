//! The PostgreSQL repositories, each test on a fresh database.

use seam_repository_sql::{PostgresRepositories, PostgresRepositoryConfig};
use seam_sql::Backend;

crate::support::backend_tests! {
    backend: Backend::Postgres,
    repositories: PostgresRepositories,
    config: PostgresRepositoryConfig,
    other: Backend::Sqlite,
    other_url: "sqlite::memory:",
}
