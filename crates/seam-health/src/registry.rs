//! The registry of checks and their latest results.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use futures::future::join_all;
use seam_core::{Health, HealthCheck, HealthStatus, SharedClock};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::HealthConfig;

/// How one check is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// A critical dependency that is down makes the service not ready (503 on
    /// `/health/ready`); a non-critical one only degrades the overall status.
    pub critical: bool,
    /// Overrides [`HealthConfig::degraded_after`] for this check.
    pub degraded_after: Option<Duration>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            critical: true,
            degraded_after: None,
        }
    }
}

impl CheckOptions {
    /// Options for a dependency the service can work without.
    pub fn non_critical() -> Self {
        Self {
            critical: false,
            degraded_after: None,
        }
    }
}

/// The latest known state of one dependency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// The check's name.
    pub name: String,
    /// The latest status (`down` until the first check has run).
    pub status: HealthStatus,
    /// Whether the service is unready while this check is down.
    pub critical: bool,
    /// The check's own explanation, if it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long the latest check took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The explanation of the latest failure (down or degraded), kept after recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the latest check finished (RFC 3339), if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// Since when the status has been what it is (RFC 3339), if checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    #[serde(skip)]
    since_time: Option<SystemTime>,
}

impl CheckReport {
    /// How long the dependency has been in its current status, as of `now`.
    pub fn status_for(&self, now: SystemTime) -> Option<Duration> {
        self.since_time
            .and_then(|since| now.duration_since(since).ok())
    }
}

/// The state of every dependency, and the service's overall status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// Down when a critical dependency is down; degraded when anything is impaired;
    /// up otherwise.
    pub status: HealthStatus,
    /// One entry per registered check, sorted by name.
    pub checks: Vec<CheckReport>,
}

impl HealthReport {
    /// The report of the check called `name`.
    pub fn check(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|check| check.name == name)
    }
}

struct Entry {
    check: Arc<dyn HealthCheck>,
    options: CheckOptions,
}

struct Inner {
    config: HealthConfig,
    clock: SharedClock,
    entries: RwLock<Vec<Arc<Entry>>>,
    reports: RwLock<BTreeMap<String, CheckReport>>,
}

/// A set of named health checks and their latest results. Cheap to clone (shared).
#[derive(Clone)]
pub struct HealthRegistry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("config", &self.inner.config)
            .field("report", &self.report())
            .finish()
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Writers only replace whole values, so a poisoned lock still holds consistent data.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

impl HealthRegistry {
    /// An empty registry. Timing (latency, `since`) is read from `clock`; the periodic
    /// loop and per-check timeouts use Tokio's timer.
    pub fn new(config: HealthConfig, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                clock,
                entries: RwLock::new(Vec::new()),
                reports: RwLock::new(BTreeMap::new()),
            }),
        }
    }

    /// Registers a critical check. A check registered under a name already in use
    /// replaces the old one.
    pub fn register(&self, check: Arc<dyn HealthCheck>) {
        self.register_with(check, CheckOptions::default());
    }

    /// Registers a check with explicit options.
    pub fn register_with(&self, check: Arc<dyn HealthCheck>, options: CheckOptions) {
        let name = check.name().to_owned();
        let entry = Arc::new(Entry { check, options });
        {
            let mut entries = write(&self.inner.entries);
            entries.retain(|existing| existing.check.name() != name);
            entries.push(entry);
        }
        write(&self.inner.reports).insert(
            name.clone(),
            CheckReport {
                name,
                status: HealthStatus::Down,
                critical: options.critical,
                detail: Some("not checked yet".to_owned()),
                latency_ms: None,
                last_error: None,
                checked_at: None,
                since: None,
                consecutive_failures: 0,
                since_time: None,
            },
        );
    }

    /// Runs every check once, concurrently, each under the configured timeout, and
    /// stores the results.
    pub async fn check_all(&self) {
        let entries: Vec<Arc<Entry>> = read(&self.inner.entries).clone();
        let results = join_all(entries.iter().map(|entry| self.run_one(entry))).await;
        let mut reports = write(&self.inner.reports);
        for (entry, (health, latency)) in entries.iter().zip(results) {
            let name = entry.check.name();
            let Some(report) = reports.get_mut(name) else {
                continue;
            };
            self.apply(report, entry, health, latency);
        }
    }

    async fn run_one(&self, entry: &Entry) -> (Health, Duration) {
        let started = self.inner.clock.now();
        let outcome = tokio::time::timeout(self.inner.config.timeout, entry.check.check()).await;
        let latency = self.inner.clock.now().saturating_duration_since(started);
        let health = match outcome {
            Ok(health) => health,
            Err(_) => Health::down(format!(
                "check timed out after {}",
                humantime::format_duration(self.inner.config.timeout)
            )),
        };
        (health, latency)
    }

    fn apply(&self, report: &mut CheckReport, entry: &Entry, health: Health, latency: Duration) {
        let degraded_after = entry
            .options
            .degraded_after
            .unwrap_or(self.inner.config.degraded_after);
        let (status, detail) = match health.status {
            HealthStatus::Up if latency > degraded_after => (
                HealthStatus::Degraded,
                Some(format!(
                    "slow: answered in {} (degraded after {})",
                    humantime::format_duration(round_ms(latency)),
                    humantime::format_duration(degraded_after)
                )),
            ),
            status => (status, health.detail),
        };
        let now = self.inner.clock.system_time();
        let name = entry.check.name();
        if report.status != status || report.since_time.is_none() {
            match status {
                HealthStatus::Down => {
                    tracing::warn!(check = name, detail = ?detail, "dependency is down")
                }
                HealthStatus::Degraded => {
                    tracing::warn!(check = name, detail = ?detail, "dependency is degraded")
                }
                HealthStatus::Up if report.since_time.is_some() => {
                    tracing::info!(check = name, "dependency recovered")
                }
                HealthStatus::Up => tracing::debug!(check = name, "dependency is up"),
            }
            report.since_time = Some(now);
            report.since = Some(rfc3339(now));
        }
        if status == HealthStatus::Up {
            report.consecutive_failures = 0;
        } else {
            report.last_error.clone_from(&detail);
            if status == HealthStatus::Down {
                report.consecutive_failures = report.consecutive_failures.saturating_add(1);
            }
        }
        report.status = status;
        report.detail = detail;
        report.latency_ms = Some(latency.as_secs_f64() * 1000.0);
        report.checked_at = Some(rfc3339(now));

        let code = match status {
            HealthStatus::Up => 0.0,
            HealthStatus::Degraded => 1.0,
            HealthStatus::Down => 2.0,
        };
        metrics::gauge!("seam_health_status", "check" => name.to_owned()).set(code);
        metrics::histogram!("seam_health_check_seconds", "check" => name.to_owned())
            .record(latency.as_secs_f64());
    }

    /// The latest state of every dependency.
    pub fn report(&self) -> HealthReport {
        let checks: Vec<CheckReport> = read(&self.inner.reports).values().cloned().collect();
        let status = checks
            .iter()
            .map(|check| match (check.status, check.critical) {
                (HealthStatus::Down, false) => HealthStatus::Degraded,
                (status, _) => status,
            })
            .max()
            .unwrap_or(HealthStatus::Up);
        HealthReport { status, checks }
    }

    /// Whether the service should receive traffic: no critical dependency is down
    /// (one never checked counts as down).
    pub fn is_ready(&self) -> bool {
        read(&self.inner.reports)
            .values()
            .all(|check| !(check.critical && check.status == HealthStatus::Down))
    }

    /// The configuration in use.
    pub fn config(&self) -> &HealthConfig {
        &self.inner.config
    }

    /// Checks everything at once, then again every [`HealthConfig::interval`], until
    /// `cancel` fires.
    pub fn spawn(&self, cancel: CancellationToken) -> JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(registry.inner.config.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = ticker.tick() => registry.check_all().await,
                }
            }
            tracing::debug!("health checks stopped");
        })
    }
}

fn round_ms(duration: Duration) -> Duration {
    Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
