//! The Seam order worker as a library: [`Worker::build`] then
//! [`Worker::run_until_stopped`]. `main.rs` only loads settings and telemetry.
//!
//! The worker serves its own operations endpoints (`/health*`, `/metrics`) on
//! `worker.host:worker.port`, so an orchestrator can probe it like the API.

use std::net::SocketAddr;
use std::time::Duration;

use seam_wiring::{Infrastructure, Settings, StartupError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A built worker, with its operations server bound.
#[derive(Debug)]
pub struct Worker {
    listener: TcpListener,
    infrastructure: Infrastructure,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
}

impl Worker {
    /// Connects the dependencies the settings name and binds the operations server.
    ///
    /// # Errors
    ///
    /// [`StartupError`] when a dependency cannot be set up or the port is taken.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let infrastructure = Infrastructure::build(settings).await?;
        let worker = &infrastructure.settings.worker;
        let listener = seam_wiring::bind(worker.address()).await?;
        Ok(Self {
            listener,
            shutdown_timeout: worker.shutdown_timeout,
            infrastructure,
            shutdown: CancellationToken::new(),
        })
    }

    /// The address of the operations server.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Cancelling this token shuts the worker down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the shutdown token is cancelled, then lets in-flight work finish (up
    /// to `worker.shutdown_timeout`) and closes the database.
    ///
    /// # Errors
    ///
    /// An I/O error from the operations server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            listener,
            infrastructure,
            shutdown,
            shutdown_timeout,
        } = self;
        let health_task = infrastructure.spawn_health_checks(shutdown.child_token());
        let router = seam_wiring::ops_router(infrastructure.health.clone());
        tracing::info!(
            address = %listener.local_addr()?,
            concurrency = infrastructure.settings.worker.concurrency,
            "order worker running"
        );

        let result = seam_wiring::serve(listener, router, shutdown.clone(), shutdown_timeout).await;
        shutdown.cancel();
        infrastructure.close(health_task).await;
        tracing::info!("order worker stopped");
        result
    }
}
