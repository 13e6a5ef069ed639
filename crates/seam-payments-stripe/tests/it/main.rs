//! Integration tests of the Stripe adapter against the testkit's mock Stripe: the
//! conformance suite, the exact requests sent, and the mapping of Stripe's errors.

mod api;
mod conformance;
mod errors;
mod logs;
mod metrics;
mod mock;

use std::time::Duration;

use seam_payments_stripe::{STRIPE_VERSION, StripeConfig, StripePayments};
use seam_testkit::stripe_mock::StripeMock;

/// A mock expecting the pinned version, and the adapter pointed at it.
pub(crate) async fn mock_and_adapter() -> (StripeMock, StripePayments) {
    let mock = StripeMock::builder()
        .stripe_version(STRIPE_VERSION)
        .start()
        .await;
    let adapter = adapter_for(&mock, Duration::from_secs(10));
    (mock, adapter)
}

pub(crate) fn adapter_for(mock: &StripeMock, timeout: Duration) -> StripePayments {
    StripeConfig {
        secret_key: mock.api_key().into(),
        base_url: mock.base_url().to_owned(),
        timeout,
    }
    .build()
    .unwrap()
}
