//! The in-memory adapter passes the conformance suite.

use seam_email::InMemoryEmail;
use seam_email::conformance;

#[tokio::test]
async fn memory_adapter_passes_the_conformance_suite() {
    let email = InMemoryEmail::new();
    conformance::run_all(&email, &email).await;
}
