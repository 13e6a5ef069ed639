use std::time::Duration;

use seam_core::{Classify, ErrorKind, ManualClock};
use seam_resilience::{
    Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, CircuitState, Jitter, Pipeline,
    RateLimitConfig, RateLimiter, ResilienceConfig, ResilienceError, Retry,
};

use crate::common::{Counter, TestError};

fn breaker(clock: &ManualClock, failures: u32) -> CircuitBreaker {
    let config = CircuitBreakerConfig {
        failure_count_threshold: Some(failures),
        ..CircuitBreakerConfig::default()
    };
    CircuitBreaker::new("upstream", &config, clock.shared()).unwrap()
}

fn retry(clock: &ManualClock, attempts: u32) -> Retry {
    Retry::new("upstream", clock.shared())
        .with_jitter(Jitter::none())
        .with_max_attempts(attempts)
}

#[tokio::test]
async fn an_open_circuit_is_not_retried() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 2);
    let pipeline = Pipeline::builder()
        .retry(retry(&clock, 5))
        .circuit_breaker(breaker.clone())
        .build();
    let calls = Counter::default();
    let error = pipeline
        .call(|| async {
            calls.bump();
            Err::<(), _>(TestError(ErrorKind::Transient))
        })
        .await
        .unwrap_err();
    // Two failures open the circuit; the third attempt is rejected and not retried.
    assert_eq!(calls.get(), 2);
    assert!(
        matches!(error, ResilienceError::CircuitOpen { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn local_rejections_are_not_counted_by_the_breaker() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    let bulkhead = Bulkhead::new(
        "upstream",
        &BulkheadConfig {
            enabled: true,
            max_concurrent: 1,
            max_wait: Duration::ZERO,
        },
    )
    .unwrap();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker.clone())
        .bulkhead(bulkhead.clone())
        .build();
    let _held = bulkhead.acquire::<TestError>().await.unwrap();
    let error = pipeline
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap_err();
    assert!(matches!(error, ResilienceError::BulkheadFull { .. }));
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test]
async fn a_rate_limited_attempt_is_retried_after_the_limiter_says() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(
        "upstream",
        &RateLimitConfig {
            enabled: true,
            permits: 1,
            period: Duration::from_secs(2),
            burst: Some(1),
            max_wait: Duration::ZERO,
        },
        clock.shared(),
    )
    .unwrap();
    let pipeline = Pipeline::builder()
        .retry(retry(&clock, 3))
        .rate_limiter(limiter)
        .build();
    pipeline
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap();
    pipeline
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap();
    // The second call was refused for 2 s, then waited that out instead of the 100 ms backoff.
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_times_out_counts_as_a_failure_and_is_retried() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 10);
    let pipeline = Pipeline::builder()
        .timeout(Duration::from_secs(60))
        .retry(retry(&clock, 2))
        .circuit_breaker(breaker.clone())
        .attempt_timeout(Duration::from_secs(1))
        .build();
    let calls = Counter::default();
    let value = pipeline
        .call(|| async {
            if calls.bump() == 1 {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok::<_, TestError>("second try")
        })
        .await
        .unwrap();
    assert_eq!(value, "second try");
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn the_overall_timeout_bounds_retries() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::builder()
        .timeout(Duration::from_secs(5))
        .retry(retry(&clock, 100).with_budget(None))
        .build();
    let error = pipeline
        .call(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Err::<(), _>(TestError(ErrorKind::Transient))
        })
        .await
        .unwrap_err();
    assert!(matches!(error, ResilienceError::Timeout { .. }));
}

#[tokio::test]
async fn a_pipeline_from_default_config_runs_calls() {
    let clock = ManualClock::new();
    let pipeline =
        Pipeline::from_config("upstream", &ResilienceConfig::default(), clock.shared()).unwrap();
    assert!(pipeline.circuit_breaker().is_some());
    assert!(pipeline.retry().is_some());
    assert!(pipeline.bulkhead().is_none() && pipeline.rate_limiter().is_none());
    let value = tokio::time::timeout(
        Duration::from_secs(60),
        pipeline.call(|| async { Ok::<_, TestError>(1) }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(value, 1);
}

#[test]
fn a_pipeline_from_invalid_config_is_refused() {
    let clock = ManualClock::new();
    let mut config = ResilienceConfig::default();
    config.circuit_breaker.failure_rate_threshold = 150.0;
    let error = Pipeline::from_config("upstream", &config, clock.shared()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "circuit_breaker.failure_rate_threshold must be between 0 and 100, got 150"
    );
}
