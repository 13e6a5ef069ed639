//! The suite every [`RevocationList`] adapter passes (feature `conformance`).
//!
//! Call [`run_all`] from the adapter's integration test with a fresh, isolated list
//! (its own key prefix). Pass the [`ManualClock`] that drives the list when it has
//! one, so expiry is checked without sleeping; adapters whose expiry is kept by a
//! server's own clock (Redis TTLs) pass `None` and the expiry checks are skipped.

use chrono::{DateTime, Duration, Utc};
use seam_core::{Clock, ManualClock};

use crate::{Error, RevocationList};

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn now(clock: Option<&ManualClock>) -> DateTime<Utc> {
    clock.map_or_else(Utc::now, |c| DateTime::<Utc>::from(c.system_time()))
}

/// Runs every check of the [`RevocationList`] contract.
///
/// # Panics
///
/// When the list breaks the contract, with a message naming the broken line.
pub async fn run_all(list: &dyn RevocationList, clock: Option<&ManualClock>) {
    revoked_until_expiry(list, clock).await;
    never_revoked_is_false(list).await;
    revoke_is_idempotent_and_extends(list, clock).await;
    bad_ids_are_invalid(list).await;
}

/// A revoked id is revoked until its expiry, and may be forgotten afterwards.
pub async fn revoked_until_expiry(list: &dyn RevocationList, clock: Option<&ManualClock>) {
    let jti = unique("revoked");
    let other = unique("other");
    list.revoke(&jti, now(clock) + Duration::minutes(10))
        .await
        .expect("revoke MUST succeed");
    assert!(
        list.is_revoked(&jti).await.expect("is_revoked"),
        "is_revoked MUST be true after revoke"
    );
    assert!(
        !list.is_revoked(&other).await.expect("is_revoked"),
        "revoking one id MUST NOT revoke another"
    );
    if let Some(clock) = clock {
        clock.advance(std::time::Duration::from_secs(9 * 60));
        assert!(
            list.is_revoked(&jti).await.expect("is_revoked"),
            "is_revoked MUST stay true until expires_at"
        );
        clock.advance(std::time::Duration::from_secs(2 * 60));
        assert!(
            !list.is_revoked(&jti).await.expect("is_revoked"),
            "an entry past its expires_at is forgotten by this adapter"
        );
    }
}

/// An id never revoked is not revoked.
pub async fn never_revoked_is_false(list: &dyn RevocationList) {
    assert!(
        !list.is_revoked(&unique("never")).await.expect("is_revoked"),
        "an id never revoked MUST give false"
    );
}

/// Revoking twice is fine, and a later expiry extends the entry.
pub async fn revoke_is_idempotent_and_extends(
    list: &dyn RevocationList,
    clock: Option<&ManualClock>,
) {
    let jti = unique("twice");
    let start = now(clock);
    list.revoke(&jti, start + Duration::minutes(5))
        .await
        .expect("revoke");
    list.revoke(&jti, start + Duration::minutes(5))
        .await
        .expect("revoke MUST be idempotent");
    list.revoke(&jti, start + Duration::minutes(20))
        .await
        .expect("revoke with a later expiry");
    list.revoke(&jti, start + Duration::minutes(1))
        .await
        .expect("revoke with an earlier expiry");
    assert!(list.is_revoked(&jti).await.expect("is_revoked"));
    if let Some(clock) = clock {
        clock.advance(std::time::Duration::from_secs(10 * 60));
        assert!(
            list.is_revoked(&jti).await.expect("is_revoked"),
            "a later expires_at MUST extend the entry and an earlier one MUST NOT shorten it"
        );
    }
}

/// Empty and oversized ids are refused.
pub async fn bad_ids_are_invalid(list: &dyn RevocationList) {
    let long = "x".repeat(crate::MAX_JTI_LEN + 1);
    for bad in ["", long.as_str()] {
        assert!(
            matches!(list.is_revoked(bad).await, Err(Error::Invalid(_))),
            "is_revoked of an empty or oversized id MUST be Invalid"
        );
        assert!(
            matches!(
                list.revoke(bad, Utc::now() + Duration::minutes(1)).await,
                Err(Error::Invalid(_))
            ),
            "revoke of an empty or oversized id MUST be Invalid"
        );
    }
}
