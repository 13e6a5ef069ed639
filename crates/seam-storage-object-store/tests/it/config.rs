//! Building every backend from its configuration, and the messages of bad ones. GCS and
//! Azure are only built here (no server of theirs runs on this machine).

use seam_core::{Classify, ErrorKind};
use seam_storage::{Error, ObjectStorage};
use seam_storage_object_store::{AzureConfig, BackendConfig, GcsConfig, ObjectStoreConfig};

fn invalid_message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(error @ Error::Invalid(_)) => {
            assert_eq!(error.kind(), ErrorKind::Invalid);
            error.to_string()
        }
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[test]
fn gcs_builds_with_application_default_credentials() {
    let storage = ObjectStoreConfig::new(BackendConfig::Gcs(GcsConfig {
        bucket: "seam-invoices".into(),
        service_account_path: None,
        service_account_key: None,
    }))
    .build()
    .expect("GCS builds without contacting Google");
    assert_eq!(storage.adapter(), "object_store-gcs");
}

#[test]
fn gcs_with_a_broken_service_account_key_says_so() {
    let message = invalid_message(
        ObjectStoreConfig::new(BackendConfig::Gcs(GcsConfig {
            bucket: "seam-invoices".into(),
            service_account_path: None,
            service_account_key: Some("{\"not\": \"a service account\"".parse().unwrap()),
        }))
        .build(),
    );
    assert!(
        message.contains("gcs storage configuration refused"),
        "{message}"
    );
}

#[test]
fn gcs_with_a_missing_key_file_says_so() {
    let message = invalid_message(
        ObjectStoreConfig::new(BackendConfig::Gcs(GcsConfig {
            bucket: "seam-invoices".into(),
            service_account_path: Some("/nonexistent/seam-sa.json".into()),
            service_account_key: None,
        }))
        .build(),
    );
    assert!(
        message.contains("gcs storage configuration refused"),
        "{message}"
    );
}

fn azure(access_key: &str) -> ObjectStoreConfig {
    ObjectStoreConfig::new(BackendConfig::Azure(AzureConfig {
        account: "devstoreaccount1".into(),
        container: "seam-invoices".into(),
        access_key: Some(access_key.parse().unwrap()),
        endpoint: Some("http://127.0.0.1:10000/devstoreaccount1".into()),
        allow_http: true,
    }))
}

#[test]
fn azure_builds_with_an_access_key_and_an_azurite_endpoint() {
    // Base64, as Azure access keys are.
    let storage = azure("c2VhbS10ZXN0LWtleQ==").build().expect("Azure builds");
    assert_eq!(storage.adapter(), "object_store-azure");
    assert!(!format!("{storage:?}").contains("c2VhbS10ZXN0LWtleQ"));
}

#[test]
fn azure_with_a_key_that_is_not_base64_says_so() {
    let message = invalid_message(azure("not base64 !").build());
    assert!(
        message.contains("azure storage configuration refused"),
        "{message}"
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let config: ObjectStoreConfig = toml::from_str(
        r#"
        part_size = 1000
        [store]
        backend = "s3"
        bucket = "Not_A_Bucket"
        endpoint = "http://127.0.0.1:9000"
        access_key_id = "id"
        "#,
    )
    .unwrap();
    let message = invalid_message(config.build());
    for needle in [
        "s3 storage configuration",
        "`bucket`",
        "`secret_access_key`",
        "allow_http",
        "`part_size`",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
}

#[test]
fn unknown_fields_and_backends_are_refused() {
    let unknown_backend =
        toml::from_str::<ObjectStoreConfig>("[store]\nbackend = \"ftp\"\nroot = \"x\"");
    assert!(unknown_backend.is_err());
    let typo = toml::from_str::<ObjectStoreConfig>(
        "[store]\nbackend = \"local\"\nroot = \"x\"\nrot = \"y\"",
    );
    assert!(typo.unwrap_err().to_string().contains("rot"));
}

#[test]
fn local_root_that_cannot_be_created_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let message = invalid_message(ObjectStoreConfig::local(file.join("below")).build());
    assert!(message.contains("cannot create it"), "{message}");
}
