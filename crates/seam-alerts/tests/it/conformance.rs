//! The port's own adapters pass the suite every adapter runs.

use seam_alerts::conformance;
use seam_alerts::{InMemoryAlerts, LogAlerts};

#[tokio::test]
async fn in_memory_adapter_passes_the_conformance_suite() {
    let alerts = InMemoryAlerts::new();
    conformance::run_all(&alerts, &alerts).await;
    assert!(
        alerts.open_incidents().is_empty(),
        "the suite resolves what it opens"
    );
}

#[tokio::test]
async fn log_adapter_passes_the_conformance_suite() {
    let alerts = LogAlerts::new();
    conformance::run_all(&alerts, &alerts).await;
    assert!(!alerts.incidents().incidents().is_empty());
}
