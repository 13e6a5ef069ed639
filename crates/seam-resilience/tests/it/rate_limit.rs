use std::time::Duration;

use seam_core::{Classify, ErrorKind, ManualClock};
use seam_resilience::{RateLimitConfig, RateLimiter, ResilienceError};

use crate::common::TestError;

fn limiter(clock: &ManualClock, max_wait: Duration) -> RateLimiter {
    RateLimiter::new(
        "stripe",
        &RateLimitConfig {
            enabled: true,
            permits: 2,
            period: Duration::from_secs(1),
            burst: Some(2),
            max_wait,
        },
        clock.shared(),
    )
    .unwrap()
}

#[tokio::test]
async fn over_the_rate_is_rejected_with_retry_after_then_admitted_later() {
    let clock = ManualClock::new();
    let limiter = limiter(&clock, Duration::ZERO);
    limiter.acquire::<TestError>().await.unwrap();
    limiter.acquire::<TestError>().await.unwrap();
    let error = limiter
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap_err();
    let wait = Duration::from_millis(500);
    assert!(matches!(
        error,
        ResilienceError::RateLimited { ref limiter, retry_after: Some(w) } if &**limiter == "stripe" && w == wait
    ));
    assert_eq!(
        error.kind(),
        ErrorKind::RateLimited {
            retry_after: Some(wait)
        }
    );
    clock.advance(Duration::from_millis(499));
    assert!(limiter.acquire::<TestError>().await.is_err());
    clock.advance(Duration::from_millis(1));
    limiter.acquire::<TestError>().await.unwrap();
    assert!(clock.sleeps().is_empty(), "rejecting never waits");
}

#[tokio::test]
async fn within_max_wait_a_call_waits_its_turn_on_the_clock() {
    let clock = ManualClock::new();
    let limiter = limiter(&clock, Duration::from_secs(1));
    for _ in 0..4 {
        limiter.acquire::<TestError>().await.unwrap();
    }
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_millis(500), Duration::from_millis(500)]
    );
}

#[test]
fn config_is_validated() {
    let clock = ManualClock::new();
    let error = RateLimiter::new(
        "x",
        &RateLimitConfig {
            permits: 0,
            ..RateLimitConfig::default()
        },
        clock.shared(),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "permits must be at least 1, got 0");
}
