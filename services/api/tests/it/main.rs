//! End-to-end tests of the API: the application built on port 0, and the real binary.

mod app;
mod auth;
mod binary;
mod files;
mod orders;
mod payments;
mod signin;
mod users;
mod webhooks;

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

/// An access token for an admin, signed by the issuer `settings` configure (the
/// development key under the data folder, which the application then uses too).
pub(crate) fn admin_token(settings: &Settings) -> String {
    let mut request = seam_wiring::auth::TokenRequest::new("test-admin");
    request.roles.insert(seam_api::ADMIN_ROLE.to_owned());
    let token = seam_wiring::auth::issue_token(settings, &request).expect("a token is issued");
    seam_core::ExposeSecret::expose_secret(&token.token).clone()
}

/// A client sending `Authorization: Bearer <token>` with every request.
pub(crate) fn authorized_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value: reqwest::header::HeaderValue = format!("Bearer {token}")
        .parse()
        .expect("a token is a header value");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("the HTTP client builds")
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
        let token = admin_token(&settings);
        let app = Application::build(settings).await.expect("the API builds");
        let address = app.local_addr();
        let shutdown = app.shutdown_token();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: authorized_client(&token),
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
