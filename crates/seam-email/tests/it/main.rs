//! The in-memory adapter passes the conformance suite.

use seam_email::InMemoryEmail;
use seam_email::conformance;

#[tokio::test]
async fn memory_adapter_passes_the_conformance_suite() {
    let email = InMemoryEmail::new();
    conformance::run_all(&email, &email, conformance::Deduplication::Deduplicates).await;
}

/// The RFC 5322 form (shared by the file and SMTP adapters) reads back as what was sent.
#[test]
fn mime_form_parses_back_to_the_message() {
    let token = conformance::token();
    let message = conformance::complete_message(&token);
    let id = seam_email::MessageId::generate();
    let raw = seam_email::mime::to_lettre(&message, &id)
        .unwrap()
        .formatted();
    let delivered: Vec<String> = message
        .recipients()
        .map(|mailbox| mailbox.address().to_string())
        .collect();
    let parsed = conformance::ReceivedEmail::parse_rfc5322(&raw, delivered).unwrap();
    let mut expected = conformance::ReceivedEmail::from_message(&message);
    // Headers differ in form (the wire has Date, MIME-Version...); compare the rest.
    expected.headers = parsed.headers.clone();
    // Text travels with CRLF line ends.
    assert_eq!(
        parsed
            .text
            .as_deref()
            .map(|text| text.replace("\r\n", "\n")),
        message.text().map(str::to_owned)
    );
    let mut parsed = parsed;
    parsed.text = expected.text.clone();
    assert_eq!(parsed, expected);
    assert_eq!(parsed.header("X-Seam-Test"), Some(token.as_str()));
}
