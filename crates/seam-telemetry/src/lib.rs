//! Telemetry for Seam services and adapters: logs, traces and metrics set up one way.
//!
//! - [`init`] installs the global `tracing` subscriber (env filter; pretty output for
//!   terminals, JSON for production), optionally an OTLP trace exporter, and the
//!   Prometheus metrics recorder. Keep the returned [`TelemetryGuard`] alive and call
//!   [`TelemetryGuard::shutdown`] on exit so buffered spans are flushed.
//! - [`prometheus`] gives the process-wide Prometheus handle and an axum route for
//!   `GET /metrics`.
//! - [`port`] records the standard port-call metrics (`seam_port_calls_total`,
//!   `seam_port_call_seconds`) and span around any adapter call, so adapters never
//!   hand-roll them.
//! - [`propagation`] carries W3C trace context (`traceparent`) across queues and HTTP.

mod config;
mod init;
pub mod port;
pub mod prometheus;
pub mod propagation;

pub use config::{LogConfig, LogFormat, OtlpConfig, TelemetryConfig};
pub use init::{TelemetryError, TelemetryGuard, init};
pub use port::{Outcome, PortMetrics};
