//! `[alerts]` to the alerts port, and the watcher that pages on conditions checked over
//! and over: a dead-letter queue above `alerts.dead_letter_threshold`, a health check
//! down for longer than `alerts.health_down_after`. (A payments breaker opening pages
//! through [`crate::payments`].)
//!
//! Each condition has its own dedup key (`dead-letters:{queue}`, `health:{check}`), and
//! [`ConditionAlert`] triggers it once per occurrence and resolves it when it clears, so
//! the same condition does not page twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use seam_alerts::condition::ConditionAlert;
use seam_alerts::{Alert, AlertService, InMemoryAlerts, LogAlerts, Severity};
use seam_alerts_pagerduty::PagerDutyConfig;
use seam_config::{AlertsBackend, Settings};
use seam_core::{HealthStatus, SharedClock};
use seam_health::HealthRegistry;
use seam_queue::DeadLetters;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::StartupError;

/// The alerts port `[alerts]` configures.
///
/// # Errors
///
/// [`StartupError::Adapter`] for a PagerDuty configuration its adapter refuses.
pub fn alert_service(settings: &Settings) -> Result<Arc<dyn AlertService>, StartupError> {
    let alerts = &settings.alerts;
    Ok(match alerts.backend {
        AlertsBackend::Log => Arc::new(LogAlerts::new()),
        AlertsBackend::Memory => Arc::new(InMemoryAlerts::new()),
        AlertsBackend::Pagerduty => {
            let key =
                alerts
                    .pagerduty
                    .routing_key
                    .clone()
                    .ok_or_else(|| StartupError::Adapter {
                        what: "alerts.pagerduty",
                        message: "`alerts.pagerduty.routing_key` is required".to_owned(),
                    })?;
            let mut config = PagerDutyConfig::new(key);
            if let Some(url) = &alerts.pagerduty.base_url {
                config.base_url.clone_from(url);
            }
            Arc::new(config.build().map_err(|error| StartupError::Adapter {
                what: "alerts.pagerduty",
                message: error.to_string(),
            })?)
        }
    })
}

/// Pages on dead letters piling up and on health checks staying down.
#[derive(Debug)]
pub struct AlertWatcher {
    alerts: Arc<dyn AlertService>,
    dead_letters: Arc<dyn DeadLetters>,
    health: HealthRegistry,
    clock: SharedClock,
    source: String,
    queues: Vec<String>,
    threshold: usize,
    health_down_after: std::time::Duration,
    interval: std::time::Duration,
    dead_letter_conditions: BTreeMap<String, ConditionAlert>,
    health_conditions: tokio::sync::Mutex<BTreeMap<String, ConditionAlert>>,
}

impl AlertWatcher {
    /// A watcher of `settings.alerts`' queues over these ports.
    pub fn new(
        settings: &Settings,
        alerts: Arc<dyn AlertService>,
        dead_letters: Arc<dyn DeadLetters>,
        health: HealthRegistry,
        clock: SharedClock,
    ) -> Self {
        let config = &settings.alerts;
        let threshold = usize::try_from(config.dead_letter_threshold).unwrap_or(usize::MAX);
        let dead_letter_conditions = config
            .dead_letter_queues
            .iter()
            .map(|queue| {
                let alert = Alert::new(
                    format!("dead-letters:{queue}"),
                    Severity::Error,
                    format!("more than {threshold} dead letters in queue `{queue}`"),
                    config.source.clone(),
                )
                .with_component("queue")
                .with_detail("queue", queue.clone())
                .with_detail("threshold", threshold);
                (
                    queue.clone(),
                    ConditionAlert::new(alerts.clone(), alert, clock.clone()),
                )
            })
            .collect();
        Self {
            alerts,
            dead_letters,
            health,
            clock,
            source: config.source.clone(),
            queues: config.dead_letter_queues.clone(),
            threshold,
            health_down_after: config.health_down_after,
            interval: config.check_interval,
            dead_letter_conditions,
            health_conditions: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// One round of checks: each watched queue's dead letters against the threshold
    /// (listing at most threshold + 1), and each health check's status. Failures to
    /// read a queue or to reach the pager are logged and tried again next round.
    pub async fn check_once(&self) {
        for queue in &self.queues {
            let Some(condition) = self.dead_letter_conditions.get(queue) else {
                continue;
            };
            match self
                .dead_letters
                .list(queue, self.threshold.saturating_add(1))
                .await
            {
                Ok(letters) => {
                    let above = letters.len() > self.threshold;
                    if let Err(error) = condition.check(above).await {
                        tracing::warn!(queue, error.message = %error, "dead-letter alert not sent");
                    }
                }
                Err(error) => {
                    tracing::warn!(queue, error.message = %error, "cannot count dead letters");
                }
            }
        }
        let report = self.health.report();
        let mut conditions = self.health_conditions.lock().await;
        for check in &report.checks {
            // Breakers page through their own events (`breaker:{name}`).
            if check.name.starts_with("breaker:") {
                continue;
            }
            let condition = conditions.entry(check.name.clone()).or_insert_with(|| {
                let alert = Alert::new(
                    format!("health:{}", check.name),
                    if check.critical {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    format!("dependency `{}` is down", check.name),
                    self.source.clone(),
                )
                .with_component(check.name.clone());
                ConditionAlert::new(self.alerts.clone(), alert, self.clock.clone())
                    .after(self.health_down_after)
            });
            if let Err(error) = condition.check(check.status == HealthStatus::Down).await {
                tracing::warn!(check = %check.name, error.message = %error, "health alert not sent");
            }
        }
    }

    /// Checks every `alerts.check_interval` until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            self.check_once().await;
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.clock.sleep(self.interval) => {}
            }
        }
    }

    /// [`run`](Self::run) as a task.
    pub fn spawn(self, cancel: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(cancel))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use seam_alerts::{AlertCall, InMemoryAlerts};
    use seam_core::{Health, HealthCheck, ManualClock};
    use seam_health::HealthConfig;
    use seam_queue::{Consumer, Envelope, MemoryQueue, MemoryQueueConfig, Publisher, QueueBinding};

    use super::*;

    /// A dependency the test takes down and brings back.
    struct Toggle(AtomicBool);

    #[async_trait]
    impl HealthCheck for Toggle {
        fn name(&self) -> &str {
            "cache"
        }

        async fn check(&self) -> Health {
            if self.0.load(Ordering::SeqCst) {
                Health::up()
            } else {
                Health::down("connection refused")
            }
        }
    }

    async fn dead_letter(queue: &MemoryQueue) {
        queue
            .publish(
                "order.created",
                &Envelope::new("order.created", serde_json::json!({})),
            )
            .await
            .unwrap();
        let delivery = queue
            .receive("orders", Duration::from_secs(1))
            .await
            .unwrap()
            .expect("a message");
        delivery.dead_letter("poison").await.unwrap();
    }

    fn triggers(alerts: &InMemoryAlerts, key: &str) -> usize {
        alerts
            .calls_for(key)
            .iter()
            .filter(|call| matches!(call, AlertCall::Trigger(_)))
            .count()
    }

    #[tokio::test]
    async fn dead_letters_above_the_threshold_and_long_outages_page_once() {
        let mut settings = Settings::default();
        settings.alerts.dead_letter_threshold = 2;
        settings.alerts.dead_letter_queues = vec!["orders".to_owned()];
        settings.alerts.health_down_after = Duration::from_secs(60);
        let clock = ManualClock::new();
        let queue = Arc::new(
            MemoryQueue::with_clock(
                MemoryQueueConfig::new(vec![QueueBinding::new("orders", "order.*")]),
                clock.shared(),
            )
            .unwrap(),
        );
        let health = HealthRegistry::new(HealthConfig::default(), clock.shared());
        let cache = Arc::new(Toggle(AtomicBool::new(false)));
        health.register(cache.clone());
        let alerts = Arc::new(InMemoryAlerts::new());
        let watcher = AlertWatcher::new(
            &settings,
            alerts.clone(),
            queue.clone(),
            health.clone(),
            clock.shared(),
        );

        // Two dead letters: at the threshold, no page.
        dead_letter(&queue).await;
        dead_letter(&queue).await;
        health.check_all().await;
        watcher.check_once().await;
        assert_eq!(triggers(&alerts, "dead-letters:orders"), 0);
        // Down, but not for long enough yet.
        assert_eq!(triggers(&alerts, "health:cache"), 0);

        // A third: above it, paged once however often it is checked.
        dead_letter(&queue).await;
        clock.advance(Duration::from_secs(61));
        health.check_all().await;
        watcher.check_once().await;
        watcher.check_once().await;
        assert_eq!(triggers(&alerts, "dead-letters:orders"), 1);
        assert_eq!(triggers(&alerts, "health:cache"), 1);

        // Purged and recovered: both resolved.
        queue.purge("orders").await.unwrap();
        cache.0.store(true, Ordering::SeqCst);
        health.check_all().await;
        watcher.check_once().await;
        assert!(alerts.open_incidents().is_empty(), "{:?}", alerts.calls());
    }
}
