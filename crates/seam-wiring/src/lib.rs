//! The composition of the Seam services: the one place that turns [`Settings`] into
//! adapters by matching their backend enums.
//!
//! The API, the order worker and the `seam` CLI all start the same way, so that way
//! lives here rather than in three `main.rs` files:
//!
//! 1. [`load_settings`]: layered configuration, refused with a message naming the key;
//! 2. [`init_telemetry`]: logs, traces and the metrics recorder;
//! 3. [`connect_database`]: the configured database, with its health check;
//! 4. [`Infrastructure::build`]: all of the above plus the health registry;
//! 5. [`ops_router`]: `/health*` and `/metrics`; [`shutdown_signal`]: SIGTERM/Ctrl-C.

mod adapters;
pub mod alerts;
pub mod auth;
pub mod email_events;
pub mod oidc;
pub mod payments;
mod storage;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;

pub use adapters::{Adapters, QueuePorts};
pub use auth::AuthComponents;
pub use seam_config::{
    CacheBackend, ConfigError, ConfigLoader, DatabaseBackend, EmailBackend, QueueBackend, Settings,
};
pub use seam_config::{MirrorMode, MirrorSettings, StorageBackend, StorageSettings};
use seam_core::{Classify, ErrorKind, SystemClock};
use seam_health::HealthRegistry;
use seam_sql::{Database, SqlConfig};
use seam_telemetry::{TelemetryError, TelemetryGuard};
pub use storage::{
    Drained, FileStorage, MIRROR_MAX_DELIVERIES, MIRROR_MESSAGE_TYPE, MIRROR_QUEUE,
    MIRROR_ROUTING_KEY, MirrorDrainer, build_location,
};
use tokio_util::sync::CancellationToken;

/// A service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Telemetry could not be installed.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// The database could not be reached or prepared.
    #[error("database ({backend}): {source}")]
    Database {
        /// The configured backend.
        backend: &'static str,
        /// What went wrong.
        #[source]
        source: seam_sql::Error,
    },
    /// An adapter could not be built from its settings.
    #[error("{what}: {message}")]
    Adapter {
        /// Which adapter (and setting).
        what: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A listening socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl Classify for StartupError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(_) => ErrorKind::Invalid,
            Self::Telemetry(_) => ErrorKind::Invalid,
            Self::Database { source, .. } => source.kind(),
            Self::Bind { .. } => ErrorKind::Unavailable,
            Self::Adapter { .. } => ErrorKind::Unavailable,
        }
    }
}

/// Loads the settings from the layers described in [`seam_config`].
///
/// # Errors
///
/// [`ConfigError`] naming every wrong or missing key.
pub fn load_settings() -> Result<Settings, ConfigError> {
    ConfigLoader::from_env().load()
}

/// Installs logging, tracing and metrics for `service` (its name overrides
/// `telemetry.service_name` when that was left at its default).
///
/// # Errors
///
/// [`TelemetryError`] for a bad filter or OTLP endpoint, or when called twice.
pub fn init_telemetry(
    settings: &Settings,
    service: &str,
) -> Result<TelemetryGuard, TelemetryError> {
    let mut config = settings.telemetry.clone();
    if config.service_name == seam_telemetry::TelemetryConfig::default().service_name {
        config.service_name = service.to_owned();
    }
    seam_telemetry::init(&config)
}

/// The database configuration for `settings`, matched on its backend.
pub fn sql_config(settings: &Settings) -> SqlConfig {
    let database = &settings.database;
    let url = settings
        .database_url()
        .unwrap_or_else(|| seam_core::SecretString::from(String::new()));
    let mut config = SqlConfig {
        url,
        max_connections: database.max_connections,
        min_connections: database.min_connections,
        acquire_timeout: database.acquire_timeout,
        sqlite_busy_timeout: database.sqlite_busy_timeout,
    };
    match database.backend {
        // SQLite allows one writer at a time: a small pool avoids lock contention
        // that only turns into busy timeouts.
        DatabaseBackend::Sqlite => config.max_connections = config.max_connections.min(4),
        DatabaseBackend::Postgres => {}
    }
    config
}

/// Connects to the configured database.
///
/// # Errors
///
/// [`StartupError::Database`] when it cannot be reached or opened.
pub async fn connect_database(settings: &Settings) -> Result<Database, StartupError> {
    let backend = settings.database.backend.as_str();
    Database::connect(&sql_config(settings))
        .await
        .map_err(|source| StartupError::Database { backend, source })
}

/// What every Seam service runs on: settings, database and health checks.
#[derive(Debug, Clone)]
pub struct Infrastructure {
    /// The settings in force.
    pub settings: Arc<Settings>,
    /// The database.
    pub database: Database,
    /// The health checks, with the database registered.
    pub health: HealthRegistry,
}

impl Infrastructure {
    /// Connects what the settings name and registers their health checks. The checks
    /// run once before this returns, so readiness is meaningful from the first request.
    ///
    /// # Errors
    ///
    /// [`StartupError`] when a dependency cannot be set up.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // The recorder must exist before anything records, or start-up metrics are lost
        // (`init_telemetry` installs it too; this covers services built without it).
        seam_telemetry::prometheus::handle();
        let settings = with_sandbox_webhook_secret(settings);
        let database = connect_database(&settings).await?;
        let health = HealthRegistry::new(settings.health.clone(), SystemClock::shared());
        health.register(Arc::new(database.clone()));
        health.check_all().await;
        Ok(Self {
            settings: Arc::new(settings),
            database,
            health,
        })
    }

    /// Starts the periodic health checks until `cancel` fires.
    pub fn spawn_health_checks(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        self.health.spawn(cancel)
    }
}

/// With the embedded payment sandbox posting its events to this API and no
/// `[webhooks.stripe]` endpoint configured, a random endpoint secret for this process
/// only, so the sandbox's signed events verify with nothing configured (`make run`).
///
/// The sandbox runs inside the API process and posts to that same process, so a secret
/// nobody else knows is exactly right; a shipped default secret would be accepted by
/// every deployment that forgot to configure its own.
fn with_sandbox_webhook_secret(mut settings: Settings) -> Settings {
    // Only when the sandbox posts to this very server (not to port 0 in tests, nor to
    // another deployment).
    let own_port = format!(":{}/", settings.server.port);
    let sandbox_posts = settings.payments.backend == seam_config::PaymentsBackend::Sandbox
        && settings.server.port != 0
        && settings.payments.sandbox.webhook_url.contains(&own_port);
    if sandbox_posts && settings.webhooks.stripe.is_none() {
        let secret = format!(
            "whsec_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        settings.webhooks.stripe = Some(seam_config::WebhookEndpointSettings {
            secrets: vec![secret.into()],
            ..seam_config::WebhookEndpointSettings::default()
        });
        tracing::info!(
            "payment sandbox: /webhooks/stripe verifies its events with a secret generated for this process"
        );
    }
    settings
}

/// `GET /health`, `/health/live`, `/health/ready` and `/metrics`.
pub fn ops_router<S: Clone + Send + Sync + 'static>(health: HealthRegistry) -> Router<S> {
    seam_health::router(health).merge(seam_telemetry::prometheus::router())
}

/// Binds a TCP listener, with an error naming the address.
///
/// # Errors
///
/// [`StartupError::Bind`] when the address is in use or not available.
pub async fn bind(address: std::net::SocketAddr) -> Result<tokio::net::TcpListener, StartupError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| StartupError::Bind { address, source })
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error.message = %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error.message = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Cancels `token` when [`shutdown_signal`] completes.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then stops accepting
/// connections and waits for in-flight requests, at most `grace`.
///
/// # Errors
///
/// An I/O error from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let graceful = shutdown.clone();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move { graceful.cancelled().await });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result,
        () = shutdown.cancelled() => {
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(grace = ?grace, "in-flight work did not finish in time; stopping anyway");
                    Ok(())
                }
            }
        }
    }
}

impl Infrastructure {
    /// Waits for the background health task (cancel its token first) and closes the
    /// database pool.
    pub async fn close(self, health_task: tokio::task::JoinHandle<()>) {
        if let Err(error) = health_task.await {
            tracing::warn!(error.message = %error, "health task ended abnormally");
        }
        self.database.close().await;
    }
}

#[cfg(test)]
mod sandbox_secret_tests {
    use super::*;

    #[test]
    fn the_sandbox_posting_to_this_server_gets_a_fresh_secret() {
        let settings = Settings::default();
        assert_eq!(settings.server.port, 8080);
        let first = with_sandbox_webhook_secret(settings.clone());
        let second = with_sandbox_webhook_secret(settings);
        let secret = |s: &Settings| {
            seam_core::ExposeSecret::expose_secret(
                &s.webhooks.stripe.as_ref().expect("an endpoint").secrets[0],
            )
            .clone()
        };
        assert!(secret(&first).starts_with("whsec_"));
        assert_ne!(secret(&first), secret(&second), "one secret per process");
    }

    #[test]
    fn configured_endpoints_other_servers_and_port_zero_are_left_alone() {
        let mut configured = Settings::default();
        configured.webhooks.stripe = Some(seam_config::WebhookEndpointSettings {
            secrets: vec!["whsec_configured".to_owned().into()],
            ..seam_config::WebhookEndpointSettings::default()
        });
        let kept = with_sandbox_webhook_secret(configured);
        assert_eq!(
            seam_core::ExposeSecret::expose_secret(&kept.webhooks.stripe.unwrap().secrets[0]),
            "whsec_configured"
        );

        let mut tests = Settings::default();
        tests.server.port = 0;
        assert!(with_sandbox_webhook_secret(tests).webhooks.stripe.is_none());

        let mut elsewhere = Settings::default();
        elsewhere.payments.sandbox.webhook_url = "http://127.0.0.1:9999/webhooks/stripe".into();
        assert!(
            with_sandbox_webhook_secret(elsewhere)
                .webhooks
                .stripe
                .is_none()
        );
    }
}
