//! The webhook counters: received, verified and rejected (with the reason), per provider.

use http::HeaderMap;

use crate::{Provider, Verified, VerifyError, WebhookVerifier};

/// Requests that reached a verifier: `seam_webhooks_received_total{provider}`.
pub const RECEIVED_TOTAL: &str = "seam_webhooks_received_total";
/// Requests whose signature verified: `seam_webhooks_verified_total{provider}`.
pub const VERIFIED_TOTAL: &str = "seam_webhooks_verified_total";
/// Requests refused: `seam_webhooks_rejected_total{provider, reason}`, where `reason` is
/// [`VerifyError::reason`].
pub const REJECTED_TOTAL: &str = "seam_webhooks_rejected_total";

/// Counts one verification's result, and logs a rejection (at `debug`: a flood of
/// forged requests must not flood the logs; the counter is what alerts).
pub fn record(provider: Provider, result: &Result<Verified, VerifyError>) {
    let name = provider.as_str();
    metrics::counter!(RECEIVED_TOTAL, "provider" => name).increment(1);
    match result {
        Ok(_) => metrics::counter!(VERIFIED_TOTAL, "provider" => name).increment(1),
        Err(error) => {
            metrics::counter!(REJECTED_TOTAL, "provider" => name, "reason" => error.reason())
                .increment(1);
            tracing::debug!(provider = name, reason = error.reason(), error.message = %error, "webhook rejected");
        }
    }
}

/// Verifies with `verifier` and [`record`]s the result: what an endpoint calls.
pub fn verify_and_record(
    verifier: &dyn WebhookVerifier,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Verified, VerifyError> {
    let result = verifier.verify(headers, body);
    record(verifier.provider(), &result);
    result
}
