//! The port's conformance suite, reading back the `.eml` files written.

use std::path::Path;

use seam_email::conformance::{self, ReceivedEmail};
use seam_email_file::{Envelope, FileEmail, FileEmailConfig};

/// Parses every message file in `dir` with its envelope.
pub(crate) fn read_folder(dir: &Path) -> Vec<ReceivedEmail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let raw = std::fs::read(path).unwrap();
            let envelope: Envelope =
                serde_json::from_slice(&std::fs::read(FileEmail::envelope_path(path)).unwrap())
                    .unwrap();
            ReceivedEmail::parse_rfc5322(&raw, envelope.to)
                .unwrap_or_else(|| panic!("{} is not a message", path.display()))
        })
        .collect()
}

#[tokio::test]
async fn file_adapter_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet: the adapter creates it.
    let outbox = dir.path().join("nested").join("outbox");
    let email = FileEmailConfig::new(&outbox).build().unwrap();
    let reader = move |token: &str| {
        read_folder(&outbox)
            .into_iter()
            .filter(|message| message.subject.contains(token))
            .collect::<Vec<_>>()
    };
    conformance::run_all(&email, &reader, conformance::Deduplication::Deduplicates).await;
}
