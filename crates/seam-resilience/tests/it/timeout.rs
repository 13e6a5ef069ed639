use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use seam_resilience::{ResilienceError, Timeout};

use crate::common::TestError;

#[tokio::test(start_paused = true)]
async fn a_slow_call_times_out_with_the_timeout_kind() {
    let timeout = Timeout::new(Duration::from_secs(1));
    let error = timeout
        .call(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, TestError>(())
        })
        .await
        .unwrap_err();
    assert!(matches!(error, ResilienceError::Timeout { after } if after == Duration::from_secs(1)));
    assert_eq!(error.kind(), ErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn a_call_in_time_passes_through() {
    let timeout = Timeout::new(Duration::from_secs(1));
    let value = timeout
        .call(|| async {
            tokio::time::sleep(Duration::from_millis(999)).await;
            Ok::<_, TestError>(7)
        })
        .await
        .unwrap();
    assert_eq!(value, 7);
    let error = timeout
        .call(|| async { Err::<(), _>(TestError(ErrorKind::Invalid)) })
        .await
        .unwrap_err();
    assert_eq!(error.into_inner(), Some(TestError(ErrorKind::Invalid)));
}
