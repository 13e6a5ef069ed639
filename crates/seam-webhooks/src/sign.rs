//! Signing as each sender does: for tests of code that receives webhooks, for
//! simulators (a sandbox payment provider emitting Stripe-shaped events) and replays.
//!
//! Each function produces the header value the sender would, one signature per secret
//! given (as senders do while a secret is rolled).

use base64::Engine;
use seam_core::{ExposeSecret, SecretString};

use crate::Provider;
use crate::config::ConfigError;
use crate::mac::HmacKeys;
use crate::standard::{BASE64, decode_secret};

fn keys<'a>(
    provider: Provider,
    secrets: impl IntoIterator<Item = &'a [u8]>,
) -> Result<HmacKeys, ConfigError> {
    HmacKeys::new(secrets).ok_or_else(|| ConfigError::new(provider, "a signing secret is empty"))
}

/// The `Stripe-Signature` value for `body` sent at `timestamp`: `t=…,v1=…[,v1=…]`.
///
/// # Errors
///
/// [`ConfigError`] when a secret is empty.
pub fn stripe(
    secrets: &[SecretString],
    timestamp: i64,
    body: &[u8],
) -> Result<String, ConfigError> {
    let keys = keys(
        Provider::Stripe,
        secrets
            .iter()
            .map(|secret| secret.expose_secret().as_bytes()),
    )?;
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for tag in keys.sign(&[t.as_bytes(), b".", body]) {
        header.push_str(",v1=");
        header.push_str(&hex::encode(tag));
    }
    Ok(header)
}

/// The `webhook-signature` value for a Standard Webhooks delivery: `v1,<base64>[ v1,…]`.
///
/// # Errors
///
/// [`ConfigError`] when a secret is not `whsec_<base64>`.
pub fn standard_webhooks(
    secrets: &[SecretString],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, ConfigError> {
    let decoded = secrets
        .iter()
        .map(|secret| {
            decode_secret(secret.expose_secret()).ok_or_else(|| {
                ConfigError::new(Provider::StandardWebhooks, "a secret is not whsec_<base64>")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys = keys(
        Provider::StandardWebhooks,
        decoded.iter().map(Vec::as_slice),
    )?;
    let t = timestamp.to_string();
    Ok(keys
        .sign(&[id.as_bytes(), b".", t.as_bytes(), b".", body])
        .into_iter()
        .map(|tag| format!("v1,{}", BASE64.encode(tag)))
        .collect::<Vec<_>>()
        .join(" "))
}

/// The `X-Hub-Signature-256` value GitHub sends for `body`: `sha256=<hex>`.
///
/// # Errors
///
/// [`ConfigError`] when the secret is empty.
pub fn github(secret: &SecretString, body: &[u8]) -> Result<String, ConfigError> {
    let keys = keys(Provider::Github, [secret.expose_secret().as_bytes()])?;
    let tag = keys.sign(&[body]).into_iter().next().unwrap_or_default();
    Ok(format!("sha256={}", hex::encode(tag)))
}
