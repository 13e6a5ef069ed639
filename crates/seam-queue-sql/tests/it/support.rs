//! A migrated, isolated database per test and a queue over it.

use std::time::Duration;

use seam_queue::conformance::{self, Timing};
use seam_queue_sql::{SqlQueue, SqlQueueConfig};
use seam_sql::{Database, SqlConfig};
use seam_testkit::{TestPostgres, TestSqlite};

/// The visibility timeout of the queues under test: short, so redelivery is quick, yet
/// long enough that a loaded machine does not redeliver before the suite looks.
pub(crate) const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(2);

/// A migrated database, removed by [`TestDb::cleanup`] (or, on panic, when dropped).
pub(crate) struct TestDb {
    pub(crate) db: Database,
    guard: Guard,
}

enum Guard {
    Postgres(Box<TestPostgres>),
    Sqlite(TestSqlite),
}

impl TestDb {
    pub(crate) async fn postgres() -> Self {
        seam_testkit::init_test_logging();
        let server = TestPostgres::new().await;
        let db = Database::connect(&SqlConfig::new(server.url()))
            .await
            .expect("connect to the test database");
        db.migrate_up().await.expect("migrate");
        Self {
            db,
            guard: Guard::Postgres(Box::new(server)),
        }
    }

    pub(crate) async fn sqlite() -> Self {
        seam_testkit::init_test_logging();
        let file = TestSqlite::new().await;
        let db = Database::connect(&SqlConfig::new(file.url()))
            .await
            .expect("open the test database");
        db.migrate_up().await.expect("migrate");
        Self {
            db,
            guard: Guard::Sqlite(file),
        }
    }

    /// A queue with the conformance bindings and the short test timeouts.
    pub(crate) fn queue(&self) -> SqlQueue {
        SqlQueue::new(
            self.db.clone(),
            SqlQueueConfig {
                bindings: conformance::bindings(),
                visibility_timeout: VISIBILITY_TIMEOUT,
                poll_interval: Duration::from_millis(50),
            },
        )
        .expect("valid config")
    }

    pub(crate) fn timing() -> Timing {
        Timing::real(VISIBILITY_TIMEOUT)
    }

    pub(crate) async fn cleanup(self) {
        self.db.close().await;
        match self.guard {
            Guard::Postgres(server) => server.cleanup().await,
            Guard::Sqlite(file) => file.cleanup().await,
        }
    }
}

/// Generates `mod $scenario { postgres, sqlite }`: one test per backend, each running
/// `async fn $scenario(db: &TestDb)` on a fresh, migrated database.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = crate::support::TestDb::postgres().await;
                super::$scenario(&test).await;
                test.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let test = crate::support::TestDb::sqlite().await;
                super::$scenario(&test).await;
                test.cleanup().await;
            }
        }
    )+};
}
