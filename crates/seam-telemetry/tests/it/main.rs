//! Integration tests of seam-telemetry.

mod otlp;
mod port_metrics;
mod prometheus;
mod propagation;
