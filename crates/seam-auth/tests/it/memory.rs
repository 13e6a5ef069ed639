use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use seam_auth::{DynRevocationList, InMemoryRevocationList, Principal, RevocationList};
use seam_core::{Clock, ManualClock};

#[tokio::test]
async fn in_memory_revocation_list_passes_the_conformance_suite() {
    let clock = ManualClock::new();
    let list = InMemoryRevocationList::new(clock.shared());
    seam_auth::conformance::run_all(&list, Some(&clock)).await;
}

#[tokio::test]
async fn expired_entries_are_swept_so_the_list_stays_small() {
    let clock = ManualClock::new();
    let list: Arc<InMemoryRevocationList> = Arc::new(InMemoryRevocationList::new(clock.shared()));
    let now = DateTime::<Utc>::from(clock.system_time());
    for i in 0..50 {
        list.revoke(&format!("t{i}"), now + Duration::seconds(60))
            .await
            .unwrap();
    }
    assert_eq!(list.len(), 50);
    clock.advance(std::time::Duration::from_secs(61));
    list.revoke("fresh", now + Duration::seconds(600))
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "expired entries are swept on revoke");
    // Revoking a token that has already expired keeps nothing.
    list.revoke("old", now).await.unwrap();
    assert_eq!(list.len(), 1);
    let dynamic: Arc<DynRevocationList> = list;
    assert!(dynamic.is_revoked("fresh").await.unwrap());
}

#[test]
fn principal_round_trips_through_json_for_session_stores() {
    let principal = Principal::new("alice", "https://seam.local", Utc::now())
        .with_user(seam_core::Id::from_uuid(uuid::Uuid::now_v7()))
        .with_roles(["admin", "user"])
        .with_scopes(["orders:write"])
        .with_session("s1")
        .with_token_id("j1");
    let json = serde_json::to_string(&principal).unwrap();
    let back: Principal = serde_json::from_str(&json).unwrap();
    assert_eq!(back, principal);
}
