//! Every refusal leaves one precise `warn` line: reason, issuer and key id, never the token.

use std::sync::{Arc, Mutex};

use seam_auth::TokenValidator;
use seam_core::ManualClock;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::support::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn take(&self) -> String {
        let mut bytes = self.0.lock().unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        bytes.clear();
        text
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn each_refusal_is_one_warn_line_with_reason_issuer_and_kid() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    // A current-thread runtime polls everything here, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let mut wrong_aud = claims(&clock);
    wrong_aud["aud"] = json!("elsewhere");
    let mut untrusted = claims(&clock);
    untrusted["iss"] = json!("https://evil.example.test");
    let mut expired = claims(&clock);
    expired["exp"] = json!(now(&clock) - 3600);
    let cases = [
        (sign(RSA_A, "a", &wrong_aud), "wrong_audience", ISSUER, "a"),
        (
            sign(RSA_A, "a", &untrusted),
            "untrusted_issuer",
            "https://evil.example.test",
            "a",
        ),
        (sign(RSA_A, "a", &expired), "expired", ISSUER, "a"),
        (
            sign(RSA_A, "k-404", &claims(&clock)),
            "unknown_key",
            ISSUER,
            "k-404",
        ),
        (
            sign(RSA_B, "a", &claims(&clock)),
            "invalid_signature",
            ISSUER,
            "a",
        ),
        (
            raw_token(&json!({"alg": "none", "kid": "a"}), &claims(&clock), b""),
            "disallowed_algorithm",
            ISSUER,
            "a",
        ),
    ];
    buffer.take();
    for (token, reason, issuer, kid) in cases {
        validator.validate(&token).await.unwrap_err();
        let log = buffer.take();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("bearer token rejected"))
            .collect();
        assert_eq!(lines.len(), 1, "one line per refusal: {log}");
        let line = lines[0];
        assert!(line.contains("WARN"), "{line}");
        assert!(
            line.contains(&format!("auth.reason=\"{reason}\"")),
            "{line}"
        );
        assert!(
            line.contains(&format!("auth.issuer=\"{issuer}\"")),
            "{line}"
        );
        assert!(line.contains(&format!("auth.kid=\"{kid}\"")), "{line}");
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(
                !log.contains(part),
                "the log MUST NOT contain the token: {line}"
            );
        }
    }
    // An accepted token logs nothing at warn.
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
    assert_eq!(buffer.take(), "");
}
