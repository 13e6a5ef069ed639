//! The suite every [`SessionResolver`] adapter passes (feature `conformance`).
//!
//! The resolver cannot make sessions itself (signing in is adapter-specific), so the
//! adapter's test signs in first and hands over a live session id and a way to end it.

use std::future::Future;

use chrono::Utc;

use crate::SessionResolver;

/// Checks the [`SessionResolver`] contract with `live`, the id of a session that is
/// live now, and `end`, which ends it (a logout).
///
/// # Panics
///
/// When the resolver breaks the contract, with a message naming the broken line.
pub async fn run_all<F, Fut>(resolver: &dyn SessionResolver, live: &str, end: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    unknown_ids_resolve_to_none(resolver).await;
    live_sessions_resolve_to_their_principal(resolver, live).await;
    end().await;
    let after = resolver
        .resolve(live)
        .await
        .expect("resolving an ended session is not an error");
    assert!(after.is_none(), "an ended session MUST give Ok(None)");
}

/// Unknown ids, and ids that could never be session ids, give `Ok(None)`.
pub async fn unknown_ids_resolve_to_none(resolver: &dyn SessionResolver) {
    let huge = "x".repeat(10_000);
    for id in [
        "",
        "unknown-session",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "with space; and=semicolon",
        "\u{0}\n",
        huge.as_str(),
    ] {
        let resolved = resolver
            .resolve(id)
            .await
            .unwrap_or_else(|error| panic!("resolving an unknown id MUST NOT fail: {error}"));
        assert!(resolved.is_none(), "an unknown session MUST give Ok(None)");
    }
}

/// A live session gives its principal, with `session_id` set and not yet expired; it
/// resolves again (resolving does not end it).
pub async fn live_sessions_resolve_to_their_principal(resolver: &dyn SessionResolver, live: &str) {
    for _ in 0..2 {
        let principal = resolver
            .resolve(live)
            .await
            .expect("resolving a live session")
            .expect("a live session MUST give its principal");
        assert_eq!(
            principal.session_id.as_deref(),
            Some(live),
            "the principal MUST carry its session id"
        );
        assert!(
            !principal.is_expired_at(Utc::now()),
            "a live session's principal MUST NOT be expired"
        );
    }
}
