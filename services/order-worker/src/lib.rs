//! The Seam order worker as a library: [`Worker::build`] then
//! [`Worker::run_until_stopped`]. `main.rs` only loads settings and telemetry.
//!
//! The worker runs:
//! - the outbox relay, publishing committed events with confirms;
//! - a consumer of `orders` (`order.created` -> reserve stock, confirm or reject);
//! - a consumer of `order-emails` (`order.confirmed` / `order.rejected` -> e-mail);
//! - its operations server (`/health*`, `/metrics`) on `worker.host:worker.port`.
//!
//! Shutdown (SIGTERM, Ctrl-C) stops taking messages, lets the ones in hand finish
//! (up to `worker.shutdown_timeout`), then exits.

pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use seam_orders::{
    ConsumerLoop, EMAILS_QUEUE, ORDERS_QUEUE, OrderService, OutboxRelay, RelayConfig, RetrySchedule,
};
use seam_wiring::{Adapters, Infrastructure, Settings, StartupError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A built worker, with its operations server bound.
#[derive(Debug)]
pub struct Worker {
    listener: TcpListener,
    infrastructure: Infrastructure,
    adapters: Adapters,
    service: Arc<OrderService>,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
    webhooks: seam_wiring::webhooks::WebhookComponents,
    payment_events: Option<Arc<dyn webhooks::PaymentEvents>>,
}

impl Worker {
    /// Connects the dependencies the settings name and binds the operations server.
    ///
    /// # Errors
    ///
    /// [`StartupError`] when a dependency cannot be set up or the port is taken.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let infrastructure = Infrastructure::build(settings).await?;
        let adapters = Adapters::build(&infrastructure.settings, &infrastructure.database).await?;
        // The worker cannot work without its queue: a broker outage makes it unready.
        adapters.register_health(&infrastructure.health, true);
        let service = Arc::new(adapters.order_service(&infrastructure.settings)?);
        let worker = &infrastructure.settings.worker;
        let listener = seam_wiring::bind(worker.address()).await?;
        let webhooks = seam_wiring::webhooks::WebhookComponents::build(
            &infrastructure.settings,
            &infrastructure.database,
        )
        .await?;
        // Stripe events from the `webhooks` queue are applied by the payments use case.
        // `apply_payment_event` never calls the provider, so the worker needs neither its
        // breaker nor that breaker's health check (the API owns those).
        let (provider, provider_name) = seam_wiring::payments::provider(&infrastructure.settings)?;
        let payments = seam_orders::Payments::new(
            adapters.repositories.orders.clone(),
            seam_wiring::payments::order_payments(&infrastructure.database)?,
            provider,
            provider_name,
            seam_wiring::alerts::alert_service(&infrastructure.settings)?,
            infrastructure.settings.alerts.source.clone(),
            seam_core::SystemClock::shared(),
        );
        let payment_events: Arc<dyn webhooks::PaymentEvents> =
            Arc::new(webhooks::NotifyingPayments::new(payments, service.clone()));
        Ok(Self {
            webhooks,
            payment_events: Some(payment_events),
            listener,
            shutdown_timeout: worker.shutdown_timeout,
            infrastructure,
            adapters,
            service,
            shutdown: CancellationToken::new(),
        })
    }

    /// The address of the operations server.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Where Stripe payment events from the `webhooks` queue are applied: by default the
    /// `[payments]` use case; tests put a fake here.
    #[must_use]
    pub fn with_payment_events(mut self, sink: Arc<dyn webhooks::PaymentEvents>) -> Self {
        self.payment_events = Some(sink);
        self
    }

    /// Cancelling this token shuts the worker down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the shutdown token is cancelled, then lets in-flight messages finish
    /// (up to `worker.shutdown_timeout`) and closes the database.
    ///
    /// # Errors
    ///
    /// An I/O error from the operations server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            listener,
            infrastructure,
            adapters,
            service,
            shutdown,
            shutdown_timeout,
            webhooks,
            payment_events,
        } = self;
        let settings = &infrastructure.settings;
        let health_task = infrastructure.spawn_health_checks(shutdown.child_token());
        let work = shutdown.child_token();
        let mut tasks = tokio::task::JoinSet::new();

        let relay = OutboxRelay::new(
            adapters.repositories.outbox.clone(),
            adapters.queue.publisher.clone(),
            RelayConfig {
                lease: settings.worker.relay_lease,
                batch: settings.worker.relay_batch,
                ..RelayConfig::default()
            },
        );
        tasks.spawn(relay.run(work.clone()));
        let schedule = RetrySchedule {
            max_attempts: settings.queue.max_attempts,
            base_delay: settings.worker.retry_base_delay,
            max_delay: settings.worker.retry_max_delay,
        };
        for queue in [ORDERS_QUEUE, EMAILS_QUEUE] {
            let consumer = Arc::new(ConsumerLoop::new(
                adapters.queue.consumer.clone(),
                queue,
                service.clone(),
                schedule,
            ));
            tasks.spawn(consumer.run(settings.worker.concurrency, work.clone()));
        }
        if let Some(payments) = payment_events {
            let handler = Arc::new(
                webhooks::WebhookHandler::new(
                    webhooks.events.clone(),
                    payments,
                    schedule.max_attempts,
                )
                .with_email_events(
                    seam_wiring::email_events::EmailEventStores::sql(&infrastructure.database),
                ),
            );
            let consumer = Arc::new(ConsumerLoop::new(
                webhooks.queue.consumer.clone(),
                seam_webhooks::ingest::WEBHOOKS_QUEUE,
                handler,
                schedule,
            ));
            tasks.spawn(consumer.run(settings.worker.concurrency, work.clone()));
        } else {
            tracing::warn!("no payment events sink: webhook events wait in the `webhooks` queue");
        }
        // Pages on dead letters piling up and on dependencies down for too long.
        match seam_wiring::alerts::alert_service(settings) {
            Ok(alerts) => {
                let watcher = seam_wiring::alerts::AlertWatcher::new(
                    settings,
                    alerts,
                    adapters.queue.dead_letters.clone(),
                    infrastructure.health.clone(),
                    seam_core::SystemClock::shared(),
                );
                tasks.spawn(watcher.run(work.clone()));
            }
            Err(error) => {
                tracing::error!(error.message = %error, "alerts are off: the alerts backend cannot be built");
            }
        }
        if let Some(redis) = webhooks.queue.redis.clone() {
            tasks.spawn(webhooks::report_lag(
                redis,
                Duration::from_secs(5),
                work.clone(),
            ));
        }
        tracing::info!(
            address = %listener.local_addr()?,
            concurrency = settings.worker.concurrency,
            queue = ?settings.queue.backend,
            "order worker running"
        );

        let router = seam_wiring::ops_router(infrastructure.health.clone());
        let result = seam_wiring::serve(listener, router, shutdown.clone(), shutdown_timeout).await;
        shutdown.cancel();
        // The loops check for cancellation between messages: wait for the ones in hand.
        let drained = tokio::time::timeout(shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(timeout = ?shutdown_timeout, "in-flight messages did not finish in time; they will be delivered again");
            tasks.abort_all();
        }
        // Adapters may hold pool connections (the Postgres outbox listener): release them
        // before closing the pool, which waits for every connection to come back.
        drop(service);
        drop(adapters);
        infrastructure.close(health_task).await;
        tracing::info!("order worker stopped");
        result
    }
}
