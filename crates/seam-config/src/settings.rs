//! The configuration of the Seam services.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use seam_health::HealthConfig;
use seam_telemetry::TelemetryConfig;
use serde::{Deserialize, Serialize};

use crate::auth::AuthSettings;
use crate::integrations::{CacheSettings, EmailSettings, QueueSettings};
use crate::loader::Validate;
use crate::payments::{AlertsSettings, PaymentsSettings};
use crate::storage::StorageSettings;
use crate::webhooks::WebhookSettings;

/// Everything the Seam services read from configuration.
///
/// Serialising it (for the start-up log, say) shows every secret as `[REDACTED]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where local state lives when nothing else is configured: the SQLite database,
    /// e-mails written to files, uploaded files.
    pub data_dir: PathBuf,
    /// The HTTP API.
    pub server: ServerSettings,
    /// The order worker.
    pub worker: WorkerSettings,
    /// The relational database.
    pub database: DatabaseSettings,
    /// Logs, traces and metrics.
    pub telemetry: TelemetryConfig,
    /// Background health checks.
    pub health: HealthConfig,
    /// The message queue.
    pub queue: QueueSettings,
    /// Outgoing e-mail.
    pub email: EmailSettings,
    /// The read-through cache.
    pub cache: CacheSettings,
    /// Authentication: protected routes, Seam's token issuer, trusted issuers.
    pub auth: AuthSettings,
    /// Uploaded files.
    pub storage: StorageSettings,
    /// Inbound webhooks.
    pub webhooks: WebhookSettings,
    /// The payment provider and the breaker guarding it.
    pub payments: PaymentsSettings,
    /// Who is paged, and when.
    pub alerts: AlertsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerSettings::default(),
            worker: WorkerSettings::default(),
            database: DatabaseSettings::default(),
            telemetry: TelemetryConfig::default(),
            health: HealthConfig::default(),
            queue: QueueSettings::default(),
            email: EmailSettings::default(),
            cache: CacheSettings::default(),
            auth: AuthSettings::default(),
            storage: StorageSettings::default(),
            webhooks: WebhookSettings::default(),
            payments: PaymentsSettings::default(),
            alerts: AlertsSettings::default(),
        }
    }
}

impl Settings {
    /// Where the file e-mail backend writes: `email.dir`, or `<data_dir>/outbox-mail`.
    pub fn email_dir(&self) -> PathBuf {
        self.email
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox-mail"))
    }

    /// The database URL to connect to: the configured one, or for SQLite without one,
    /// `seam.db` in [`Settings::data_dir`].
    ///
    /// Call on validated settings: a Postgres backend without a URL gives `None`.
    pub fn database_url(&self) -> Option<SecretString> {
        match (&self.database.url, self.database.backend) {
            (Some(url), _) => Some(url.clone()),
            (None, DatabaseBackend::Sqlite) => Some(SecretString::from(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("seam.db").display()
            ))),
            (None, DatabaseBackend::Postgres) => None,
        }
    }

    /// The settings as JSON with secrets redacted, for the start-up log.
    pub fn redacted_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| format!("<unprintable: {error}>"))
    }
}

impl Validate for Settings {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.data_dir.as_os_str().is_empty() {
            problems.push("`data_dir`: must not be empty".to_owned());
        }
        problems.extend(self.server.problems());
        problems.extend(self.worker.problems());
        problems.extend(self.database.problems());
        problems.extend(self.queue.problems());
        problems.extend(self.email.problems());
        problems.extend(self.cache.problems());
        problems.extend(self.auth.problems());
        problems.extend(self.storage.problems());
        problems.extend(self.webhooks.problems());
        problems.extend(self.payments.problems());
        problems.extend(self.alerts.problems());
        if let Err(problem) = self.health.validate() {
            problems.push(problem);
        }
        if self.telemetry.service_name.trim().is_empty() {
            problems.push("`telemetry.service_name`: must not be empty".to_owned());
        }
        if self.telemetry.otlp.enabled && !self.telemetry.otlp.endpoint.starts_with("http") {
            problems.push(format!(
                "`telemetry.otlp.endpoint`: expected an http:// or https:// URL, found {:?}",
                self.telemetry.otlp.endpoint
            ));
        }
        if self.server.port != 0
            && self.server.port == self.worker.port
            && self.server.host == self.worker.host
        {
            problems.push(format!(
                "`worker.port`: must differ from `server.port` (both are {})",
                self.server.port
            ));
        }
        problems
    }
}

/// The HTTP API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The address to listen on.
    pub host: IpAddr,
    /// The port to listen on; 0 picks a free one.
    pub port: u16,
    /// The longest a request may take before it is answered 408/503.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// The largest request body accepted, in bytes (larger: 413).
    pub body_limit_bytes: usize,
    /// How long shutdown waits for in-flight requests.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerSettings {
    /// The socket address to bind.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.request_timeout.is_zero() {
            problems.push("`server.request_timeout`: must be greater than zero".to_owned());
        }
        if self.body_limit_bytes == 0 {
            problems.push("`server.body_limit_bytes`: must be greater than zero".to_owned());
        }
        problems
    }
}

/// The order worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// The address of the worker's operations server (health and metrics).
    pub host: IpAddr,
    /// The port of the operations server; 0 picks a free one.
    pub port: u16,
    /// How many messages are processed at once.
    pub concurrency: usize,
    /// How long shutdown waits for in-flight work.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// How long outbox rows claimed by a relay stay reserved for it: after a crash, its
    /// rows are published by another relay once this has passed. Longer than a publish
    /// takes; short enough that a crash delays events little.
    #[serde(with = "humantime_serde")]
    pub relay_lease: Duration,
    /// Outbox rows a relay claims per round.
    pub relay_batch: u32,
    /// The delay before a failed message is delivered again; doubled each time (with
    /// jitter) up to `retry_max_delay`.
    #[serde(with = "humantime_serde")]
    pub retry_base_delay: Duration,
    /// The longest delay between two deliveries of a failing message.
    #[serde(with = "humantime_serde")]
    pub retry_max_delay: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8081,
            concurrency: 4,
            shutdown_timeout: Duration::from_secs(30),
            relay_lease: Duration::from_secs(10),
            relay_batch: 100,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
        }
    }
}

impl WorkerSettings {
    /// The socket address of the operations server.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.concurrency == 0 || self.concurrency > 1024 {
            problems.push(format!(
                "`worker.concurrency`: expected 1 to 1024, found {}",
                self.concurrency
            ));
        }
        if self.relay_lease < Duration::from_secs(1) {
            problems.push("`worker.relay_lease`: must be at least 1s".to_owned());
        }
        if self.relay_batch == 0 || self.relay_batch > 10_000 {
            problems.push(format!(
                "`worker.relay_batch`: expected 1 to 10000, found {}",
                self.relay_batch
            ));
        }
        if self.retry_base_delay.is_zero() {
            problems.push("`worker.retry_base_delay`: must be greater than zero".to_owned());
        }
        if self.retry_max_delay < self.retry_base_delay {
            problems.push(
                "`worker.retry_max_delay`: must be at least `worker.retry_base_delay`".to_owned(),
            );
        }
        problems
    }
}

/// Which relational database backs the repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseBackend {
    /// An embedded SQLite file: the default, needs nothing installed.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl DatabaseBackend {
    /// The name used in configuration.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The relational database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Which database.
    pub backend: DatabaseBackend,
    /// Its URL (`postgres://user:password@host/db` or `sqlite://path?mode=rwc`).
    /// Optional for SQLite, which defaults to `seam.db` under `data_dir`.
    pub url: Option<SecretString>,
    /// The most connections in the pool.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long to wait for a free connection before failing.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// How long a SQLite connection waits for another writer before failing (SQLite only).
    #[serde(with = "humantime_serde")]
    pub sqlite_busy_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            backend: DatabaseBackend::Sqlite,
            url: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

impl DatabaseSettings {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match (&self.url, self.backend) {
            (None, DatabaseBackend::Postgres) => problems.push(
                "`database.url`: required when `database.backend` is \"postgres\" \
                 (for example SEAM_DATABASE__URL=postgres://postgres@127.0.0.1:5432/seam)"
                    .to_owned(),
            ),
            (Some(url), backend) => {
                let url = url.expose_secret();
                let scheme_ok = match backend {
                    DatabaseBackend::Postgres => {
                        url.starts_with("postgres://") || url.starts_with("postgresql://")
                    }
                    DatabaseBackend::Sqlite => url.starts_with("sqlite:"),
                };
                if !scheme_ok {
                    let expected = match backend {
                        DatabaseBackend::Postgres => "postgres://…",
                        DatabaseBackend::Sqlite => "sqlite:…",
                    };
                    // Only the scheme is echoed: the rest may hold a password.
                    let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
                    problems.push(format!(
                        "`database.url`: expected a {expected} URL for backend \"{}\", found scheme {scheme:?}",
                        backend.as_str()
                    ));
                }
            }
            (None, DatabaseBackend::Sqlite) => {}
        }
        if self.max_connections == 0 {
            problems.push("`database.max_connections`: must be at least 1".to_owned());
        }
        if self.min_connections > self.max_connections {
            problems.push(format!(
                "`database.min_connections` ({}) must not exceed `database.max_connections` ({})",
                self.min_connections, self.max_connections
            ));
        }
        if self.sqlite_busy_timeout.is_zero() && self.backend == DatabaseBackend::Sqlite {
            problems.push("`database.sqlite_busy_timeout`: must be greater than zero".to_owned());
        }
        if self.acquire_timeout.is_zero() {
            problems.push("`database.acquire_timeout`: must be greater than zero".to_owned());
        }
        problems
    }
}
