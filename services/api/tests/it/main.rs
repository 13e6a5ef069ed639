//! End-to-end tests of the API: the application built on port 0, and the real binary.

mod app;
mod binary;
mod orders;
mod users;

use std::net::SocketAddr;

use seam_api::Application;
use seam_wiring::Settings;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Settings for a test: SQLite in a fresh folder, port 0, fast health checks.
pub(crate) fn sqlite_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.worker.port = 0;
    settings
}

/// Settings over a migrated and seeded SQLite database in `data_dir`.
pub(crate) async fn seeded_settings(data_dir: &std::path::Path) -> Settings {
    let settings = sqlite_settings(data_dir);
    let database = seam_sql::Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .expect("the SQLite database opens");
    database.migrate_up().await.expect("migrations apply");
    database.seed().await.expect("seed data loads");
    database.close().await;
    settings
}

/// A running application and what is needed to talk to it and stop it.
pub(crate) struct TestApp {
    pub(crate) address: SocketAddr,
    pub(crate) client: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub(crate) async fn spawn(settings: Settings) -> Self {
        seam_testkit::init_test_logging();
        let app = Application::build(settings).await.expect("the API builds");
        let address = app.local_addr();
        let shutdown = app.shutdown_token();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::new(),
            shutdown,
            task,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub(crate) async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent")
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the server task does not panic")
            .expect("the server stops cleanly");
    }
}
