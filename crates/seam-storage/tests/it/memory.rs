//! The in-memory adapter passes the conformance suite.

use seam_storage::conformance::{self, Capabilities};
use seam_storage::memory::InMemoryStorage;

#[tokio::test]
async fn memory_adapter_passes_the_conformance_suite() {
    let storage = InMemoryStorage::new();
    conformance::run_all(&storage, Capabilities::default()).await;
    assert!(
        storage.is_empty(),
        "the suite cleans up: {:?}",
        storage.keys()
    );
}
