//! Integration tests of seam-telemetry.

mod port_metrics;
mod prometheus;
mod propagation;
