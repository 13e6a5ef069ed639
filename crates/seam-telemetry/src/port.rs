//! The standard metrics and span of a call through a port.
//!
//! Every adapter records its calls the same way, so dashboards work across adapters:
//!
//! - `seam_port_calls_total{port, adapter, op, outcome}`: a counter;
//! - `seam_port_call_seconds{port, adapter, op, outcome}`: a histogram of durations;
//!
//! where `outcome` is `ok` or the [`ErrorKind`] name of the failure
//! (`transient`, `not_found`, ...).
//!
//! ```
//! use seam_core::ErrorKind;
//! use seam_telemetry::PortMetrics;
//!
//! const METRICS: PortMetrics = PortMetrics::new("email", "smtp");
//!
//! # async fn send() -> Result<(), ErrorKind> { Ok(()) }
//! # async fn example() -> Result<(), ErrorKind> {
//! METRICS.call("send", send()).await
//! # }
//! ```

use std::future::Future;
use std::time::Instant;

use seam_core::{Classify, ErrorKind};
use tracing::Instrument;

/// The name of the call counter.
pub const CALLS_TOTAL: &str = "seam_port_calls_total";
/// The name of the call-duration histogram.
pub const CALL_SECONDS: &str = "seam_port_call_seconds";

/// How a port call ended, as recorded in the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The call succeeded.
    Ok,
    /// The call failed with this kind.
    Failed(ErrorKind),
}

impl Outcome {
    /// The label value: `ok` or the error kind's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed(kind) => kind.as_str(),
        }
    }

    /// The outcome of a result.
    pub fn of<T, E: Classify>(result: &Result<T, E>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(error) => Self::Failed(error.kind()),
        }
    }
}

/// Records the standard metrics and span for calls of one adapter of one port.
///
/// Cheap to copy and `const`-constructible, so an adapter can hold it in a `const`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMetrics {
    port: &'static str,
    adapter: &'static str,
}

impl PortMetrics {
    /// Metrics for `adapter` (e.g. `"smtp"`) of `port` (e.g. `"email"`).
    pub const fn new(port: &'static str, adapter: &'static str) -> Self {
        Self { port, adapter }
    }

    /// The port name.
    pub const fn port(&self) -> &'static str {
        self.port
    }

    /// The adapter name.
    pub const fn adapter(&self) -> &'static str {
        self.adapter
    }

    /// Runs `call` inside a `port_call` span and records its outcome and duration.
    ///
    /// Failures are logged at `debug` (the caller decides whether a failure is worth
    /// more); the span carries `port`, `adapter`, `op` and, on completion, `outcome`.
    pub async fn call<T, E, F>(&self, op: &'static str, call: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Classify + std::fmt::Display,
    {
        let span = tracing::debug_span!(
            "port_call",
            port = self.port,
            adapter = self.adapter,
            op,
            outcome = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = call.instrument(span.clone()).await;
        let outcome = Outcome::of(&result);
        span.record("outcome", outcome.as_str());
        if let Err(error) = &result {
            tracing::debug!(
                parent: &span,
                error.message = %error,
                error.kind = %error.kind(),
                "port call failed"
            );
        }
        self.record(op, outcome, started.elapsed().as_secs_f64());
        result
    }

    /// Records one call that was timed elsewhere.
    pub fn record(&self, op: &'static str, outcome: Outcome, seconds: f64) {
        let labels = [
            ("port", self.port),
            ("adapter", self.adapter),
            ("op", op),
            ("outcome", outcome.as_str()),
        ];
        metrics::counter!(CALLS_TOTAL, &labels).increment(1);
        metrics::histogram!(CALL_SECONDS, &labels).record(seconds);
    }
}
