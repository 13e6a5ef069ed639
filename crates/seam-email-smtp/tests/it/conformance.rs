//! The port's conformance suite against the SMTP sink, reading back its Maildir.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use seam_email::conformance::{self, MailboxReader, ReceivedEmail};
use seam_email_smtp::{SmtpConfig, SmtpMode};

/// Where the plain sink listens (see `scripts/test-servers.sh`).
const SINK: &str = "127.0.0.1:2525";
/// The sink that requires STARTTLS.
const STARTTLS_SINK: &str = "127.0.0.1:2587";
/// The sink that speaks TLS from the first byte.
const TLS_SINK: &str = "127.0.0.1:2465";
/// The headers the sink adds with the SMTP envelope.
const ENVELOPE_HEADERS: [&str; 3] = ["X-Peer", "X-MailFrom", "X-RcptTo"];

/// The test CA the TLS sinks' certificate is signed by.
fn test_ca() -> PathBuf {
    let dir = std::env::var_os("SEAM_TEST_SMTP_TLS_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/tmp/seam-smtp-tls"), PathBuf::from);
    dir.join("ca.pem")
}

fn maildir() -> PathBuf {
    std::env::var_os("SEAM_TEST_SMTP_MAILDIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/tmp/seam-smtp-sink"), PathBuf::from)
}

/// Reads the sink's Maildir; remembers what it matched so the test can delete it.
struct MaildirReader {
    dir: PathBuf,
    matched: Mutex<BTreeSet<PathBuf>>,
}

impl MaildirReader {
    fn files(&self) -> Vec<PathBuf> {
        ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.dir.join(sub)).ok())
            .flatten()
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect()
    }

    fn cleanup(&self) {
        for path in std::mem::take(&mut *self.matched.lock().unwrap()) {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn parse(path: &Path, raw: &[u8]) -> ReceivedEmail {
    let mut email = ReceivedEmail::parse_rfc5322(raw, Vec::new())
        .unwrap_or_else(|| panic!("{} is not a message", path.display()));
    email.delivered_to = email
        .header("X-RcptTo")
        .unwrap_or_default()
        .split(',')
        .map(|address| address.trim().to_owned())
        .filter(|address| !address.is_empty())
        .collect();
    email.headers.retain(|(name, _)| {
        !ENVELOPE_HEADERS
            .iter()
            .any(|envelope| envelope.eq_ignore_ascii_case(name))
    });
    email
}

#[async_trait]
impl MailboxReader for MaildirReader {
    async fn received(&self, token: &str) -> Vec<ReceivedEmail> {
        let mut found = Vec::new();
        for path in self.files() {
            // The file may move from new/ to cur/ under us: skip, the next poll sees it.
            let Ok(raw) = std::fs::read(&path) else {
                continue;
            };
            // Every conformance message carries its token in its addresses, which are
            // never encoded: a cheap filter before parsing.
            if !raw
                .windows(token.len())
                .any(|window| window == token.as_bytes())
            {
                continue;
            }
            let email = parse(&path, &raw);
            if email.subject.contains(token) {
                self.matched.lock().unwrap().insert(path);
                found.push(email);
            }
        }
        found
    }
}

async fn run_conformance(config: SmtpConfig) {
    let email = config.build().unwrap();
    let reader = MaildirReader {
        dir: maildir(),
        matched: Mutex::new(BTreeSet::new()),
    };
    conformance::run_all(
        &email,
        &reader,
        conformance::Deduplication::DeliversEveryTime,
    )
    .await;
    reader.cleanup();
}

#[tokio::test]
async fn smtp_adapter_passes_the_conformance_suite_against_a_real_server() {
    seam_testkit::require_service("smtp", SINK);
    run_conformance(SmtpConfig::default()).await;
}

#[tokio::test]
async fn smtp_adapter_passes_the_conformance_suite_over_starttls() {
    seam_testkit::require_service("smtp (starttls)", STARTTLS_SINK);
    run_conformance(SmtpConfig {
        port: 2587,
        mode: SmtpMode::Starttls,
        ca_cert: Some(test_ca()),
        ..SmtpConfig::default()
    })
    .await;
}

#[tokio::test]
async fn smtp_adapter_passes_the_conformance_suite_over_implicit_tls() {
    seam_testkit::require_service("smtp (tls)", TLS_SINK);
    run_conformance(SmtpConfig {
        port: 2465,
        mode: SmtpMode::Tls,
        ca_cert: Some(test_ca()),
        ..SmtpConfig::default()
    })
    .await;
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_authority_is_refused() {
    use seam_core::Classify;
    use seam_email::EmailService;

    seam_testkit::require_service("smtp (tls)", TLS_SINK);
    // Without the test CA, the sink's certificate must not be accepted.
    let email = SmtpConfig {
        port: 2465,
        mode: SmtpMode::Tls,
        ..SmtpConfig::default()
    }
    .build()
    .unwrap();
    let token = conformance::token();
    let error = email
        .send(&conformance::complete_message(&token))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn health_check_greets_the_server() {
    use seam_core::{HealthCheck, HealthStatus};

    seam_testkit::require_service("smtp", SINK);
    let email = SmtpConfig::default().build().unwrap();
    let health = email.check().await;
    assert_eq!(health.status, HealthStatus::Up, "{health:?}");
}

#[tokio::test]
async fn starttls_against_a_server_without_it_is_permanent() {
    use seam_core::{Classify, ErrorKind};
    use seam_email::{EmailMessage, EmailService};

    seam_testkit::require_service("smtp", SINK);
    // The sink speaks plain SMTP only: a required upgrade must fail, never fall back.
    let email = SmtpConfig {
        mode: SmtpMode::Starttls,
        ..SmtpConfig::default()
    }
    .build()
    .unwrap();
    let token = conformance::token();
    let message = EmailMessage::builder()
        .from(seam_domain::EmailAddress::parse("shop@example.com").unwrap())
        .to(seam_domain::EmailAddress::parse(&format!("to-{token}@example.com")).unwrap())
        .subject(format!("Never {token}"))
        .text("x")
        .build()
        .unwrap();
    let error = email.send(&message).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent, "{error:?}");
    assert!(error.to_string().contains("STARTTLS"), "{error}");
}
