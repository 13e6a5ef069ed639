use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use seam_resilience::{Bulkhead, BulkheadConfig, ResilienceError};
use tokio::sync::oneshot;

use crate::common::TestError;

fn bulkhead(max_concurrent: usize, max_wait: Duration) -> Bulkhead {
    Bulkhead::new(
        "smtp",
        &BulkheadConfig {
            enabled: true,
            max_concurrent,
            max_wait,
        },
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_rejects_at_once_with_a_clear_error() {
    let bulkhead = bulkhead(2, Duration::ZERO);
    let _a = bulkhead.acquire::<TestError>().await.unwrap();
    let _b = bulkhead.acquire::<TestError>().await.unwrap();
    assert_eq!(bulkhead.available(), 0);
    let error = bulkhead
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ResilienceError::BulkheadFull {
            max_concurrent: 2,
            waited: Duration::ZERO,
            ..
        }
    ));
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let message = error.to_string();
    assert!(
        message.contains("smtp") && message.contains('2'),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_is_admitted_when_a_slot_frees() {
    let bulkhead = bulkhead(1, Duration::from_secs(5));
    let held = bulkhead.acquire::<TestError>().await.unwrap();
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        released.await.ok();
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(held);
    });
    release.send(()).unwrap();
    let value = bulkhead
        .call(|| async { Ok::<_, TestError>("admitted") })
        .await
        .unwrap();
    assert_eq!(value, "admitted");
    assert_eq!(bulkhead.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_is_rejected_after_max_wait() {
    let bulkhead = bulkhead(1, Duration::from_secs(5));
    let _held = bulkhead.acquire::<TestError>().await.unwrap();
    let start = tokio::time::Instant::now();
    let error = bulkhead
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap_err();
    assert!(
        matches!(error, ResilienceError::BulkheadFull { waited, .. } if waited == Duration::from_secs(5))
    );
    // Paused (virtual) time: this checks the wait asked for, not wall-clock time.
    assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(5));
}

#[test]
fn zero_slots_is_refused() {
    let error = Bulkhead::new(
        "x",
        &BulkheadConfig {
            enabled: true,
            max_concurrent: 0,
            max_wait: Duration::ZERO,
        },
    )
    .unwrap_err();
    assert_eq!(error.field, "max_concurrent");
}
