//! Test harness: required-service checks, isolated databases, test log capture. Dev-dependency only.
//!
//! - [`require_service`] / [`require_service_async`] (and [`require_postgres`],
//!   [`require_redis`], [`require_rabbitmq`]): a test that needs a server it cannot reach
//!   **fails**, with a message naming the server, its address and the command that starts
//!   it. Tests never skip silently.
//! - Where the servers are: [`postgres_url`], [`redis_url`], [`amqp_url`], overridable with
//!   `SEAM_TEST_POSTGRES_URL`, `SEAM_TEST_REDIS_URL`, `SEAM_TEST_AMQP_URL`.
//! - Isolation: [`TestPostgres`] (a fresh database per test, dropped afterwards even on
//!   panic) and [`TestSqlite`] (a fresh file in a temporary folder), so tests run in
//!   parallel and repeatedly.
//! - [`init_test_logging`]: logs in test output only with `TEST_LOG=1`.
//!
//! ```no_run
//! // In a `#[tokio::test]`:
//! async fn saves_a_user() {
//!     seam_testkit::init_test_logging();
//!     let db = seam_testkit::TestPostgres::new().await;
//!     // ... use db.url() or db.pool() ...
//!     db.cleanup().await;
//! }
//! ```

mod logging;
mod postgres;
pub mod process;
mod services;
mod sqlite;
pub mod storage;
pub mod stripe_mock;

pub use logging::{TEST_LOG_ENV, init_test_logging};
pub use postgres::{TEST_DATABASE_PREFIX, TestPostgres, postgres_database_exists};
pub use services::{
    AMQP_URL_ENV, CONNECT_TIMEOUT, DEFAULT_AMQP_URL, DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL,
    POSTGRES_URL_ENV, REDIS_URL_ENV, amqp_url, postgres_url, redis_url, require_postgres,
    require_rabbitmq, require_redis, require_service, require_service_async, url_address,
};
pub use sqlite::TestSqlite;
