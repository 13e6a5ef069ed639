use seam_core::{ErrorKind, ManualClock};
use seam_resilience::{
    CircuitBreaker, CircuitBreakerConfig, CircuitState, Jitter, Pipeline, ResilienceError,
    ResilienceLayer, Retry,
};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::common::{Counter, TestError};

fn pipeline(clock: &ManualClock, breaker: &CircuitBreaker) -> Pipeline {
    Pipeline::builder()
        .retry(
            Retry::new("echo", clock.shared())
                .with_jitter(Jitter::none())
                .with_max_attempts(3),
        )
        .circuit_breaker(breaker.clone())
        .build()
}

fn breaker(clock: &ManualClock) -> CircuitBreaker {
    let config = CircuitBreakerConfig {
        failure_count_threshold: Some(3),
        ..CircuitBreakerConfig::default()
    };
    CircuitBreaker::new("echo", &config, clock.shared()).unwrap()
}

#[tokio::test]
async fn the_layer_retries_a_flaky_service_end_to_end() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let calls = Counter::default();
    let counted = calls.clone();
    let service = ServiceBuilder::new()
        .layer(ResilienceLayer::new(pipeline(&clock, &breaker)))
        .service(service_fn(move |request: String| {
            let attempt = counted.bump();
            async move {
                if attempt < 3 {
                    Err(TestError(ErrorKind::Transient))
                } else {
                    Ok(format!("echo {request}"))
                }
            }
        }));
    let response = service.oneshot("hi".to_owned()).await.unwrap();
    assert_eq!(response, "echo hi");
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(breaker.snapshot().failures, 2);
}

#[tokio::test]
async fn the_layer_reports_errors_and_rejections() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock);
    let layer = ResilienceLayer::new(pipeline(&clock, &breaker));
    let failing = ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(|_: ()| async {
            Err::<(), _>(TestError(ErrorKind::Unavailable))
        }));
    let error = failing.clone().oneshot(()).await.unwrap_err();
    assert!(matches!(
        error,
        ResilienceError::Inner(TestError(ErrorKind::Unavailable))
    ));
    assert_eq!(breaker.state(), CircuitState::Open);
    let error = failing.oneshot(()).await.unwrap_err();
    assert!(matches!(error, ResilienceError::CircuitOpen { .. }));

    let invalid = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_: ()| async {
            Err::<(), _>(TestError(ErrorKind::Invalid))
        }));
    breaker.reset();
    let error = invalid.oneshot(()).await.unwrap_err();
    assert_eq!(error.into_inner(), Some(TestError(ErrorKind::Invalid)));
    assert_eq!(clock.sleeps().len(), 2, "invalid requests are not retried");
}
