//! The PagerDuty adapter against a local mock of the Events API v2 (wiremock).

mod api;
mod conformance;
mod metrics;

use seam_alerts_pagerduty::{PagerDutyAlerts, PagerDutyConfig};
use wiremock::MockServer;

/// A well-formed (fake) integration key.
pub(crate) const ROUTING_KEY: &str = "R0ut1ngKeyF0rTest5Only0123456789";

/// The adapter pointed at `server`.
pub(crate) fn adapter(server: &MockServer) -> PagerDutyAlerts {
    PagerDutyConfig {
        base_url: server.uri(),
        ..PagerDutyConfig::new(ROUTING_KEY.into())
    }
    .build()
    .unwrap()
}
