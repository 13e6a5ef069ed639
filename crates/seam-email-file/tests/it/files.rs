//! What the files look like, and how folder problems are reported.

use seam_core::{Classify, ErrorKind};
use seam_domain::EmailAddress;
use seam_email::{EmailMessage, EmailService};
use seam_email_file::{FileEmail, FileEmailConfig};

fn message(subject: &str) -> EmailMessage {
    EmailMessage::builder()
        .from(EmailAddress::parse("shop@example.com").unwrap())
        .to(EmailAddress::parse("ada@example.com").unwrap())
        .bcc(EmailAddress::parse("audit@example.com").unwrap())
        .subject(subject)
        .text("Hello")
        .build()
        .unwrap()
}

#[tokio::test]
async fn files_are_named_by_time_and_id_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let email = FileEmailConfig::new(dir.path()).build().unwrap();
    let receipt = email.send(&message("Named")).await.unwrap();

    let files = email.message_files().await.unwrap();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let expected_prefix = receipt.accepted_at.format("%Y%m%dT%H%M%S").to_string();
    assert!(name.starts_with(&expected_prefix), "{name}");
    assert!(
        name.ends_with(&format!("Z-{}.eml", receipt.message_id)),
        "{name}"
    );

    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("Subject: Named\r\n"), "{raw}");
    assert!(raw.contains(&format!("Message-ID: <{}@example.com>", receipt.message_id)));
    assert!(
        !raw.contains("audit@example.com"),
        "bcc must not be in the file's headers"
    );
    let envelope = std::fs::read_to_string(FileEmail::envelope_path(&files[0])).unwrap();
    assert!(envelope.contains("audit@example.com"), "{envelope}");

    // Nothing half-written is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn concurrent_sends_write_distinct_files() {
    let dir = tempfile::tempdir().unwrap();
    let email = std::sync::Arc::new(FileEmailConfig::new(dir.path()).build().unwrap());
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let email = email.clone();
            tokio::spawn(async move { email.send(&message(&format!("Parallel {i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(email.message_files().await.unwrap().len(), 16);
}

#[tokio::test]
async fn an_unusable_folder_is_a_permanent_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let email = FileEmailConfig::new(file.join("outbox")).build().unwrap();
    let error = email.send(&message("Nowhere")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent, "{error}");
    assert!(error.to_string().contains("creating folder"), "{error}");
}

#[test]
fn an_empty_folder_name_is_refused_at_start() {
    let error = FileEmailConfig::new("").build().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(
        error.to_string().contains("`dir` must not be empty"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_folder_holds_no_messages() {
    let dir = tempfile::tempdir().unwrap();
    let email = FileEmailConfig::new(dir.path().join("later"))
        .build()
        .unwrap();
    assert!(email.message_files().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_caller_chosen_id_names_the_file_and_concurrent_re_sends_write_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let email = std::sync::Arc::new(FileEmailConfig::new(dir.path()).build().unwrap());
    let id = seam_email::MessageId::new("order-42/confirmed").unwrap();
    let with_id = |subject: &str| {
        EmailMessage::builder()
            .from(EmailAddress::parse("shop@example.com").unwrap())
            .to(EmailAddress::parse("ada@example.com").unwrap())
            .subject(subject)
            .text("Hello")
            .message_id(id.clone())
            .build()
            .unwrap()
    };
    let mut sends = tokio::task::JoinSet::new();
    for attempt in 0..8 {
        let email = std::sync::Arc::clone(&email);
        let message = with_id(&format!("Attempt {attempt}"));
        sends.spawn(async move { email.send(&message).await });
    }
    let mut accepted_at = Vec::new();
    while let Some(result) = sends.join_next().await {
        let receipt = result.unwrap().unwrap();
        assert_eq!(receipt.message_id, id);
        accepted_at.push(receipt.accepted_at);
    }
    let again = email.send(&with_id("Attempt late")).await.unwrap();
    assert_eq!(again.message_id, id);

    let files = email.message_files().await.unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["order-42%2Fconfirmed.eml"],
        "one file, named by the id"
    );
    assert!(
        accepted_at.contains(&again.accepted_at),
        "the first receipt's time"
    );
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        raw.contains("Message-ID: <order-42/confirmed@example.com>"),
        "{raw}"
    );
    assert!(FileEmail::envelope_path(&files[0]).exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert_eq!(
        email.status(&id).await.unwrap(),
        seam_email::DeliveryStatus::Accepted
    );
}
