use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seam_core::{Classify, Clock, ErrorKind, HealthCheck, HealthStatus, ManualClock};
use seam_resilience::{
    BreakerEvent, CircuitBreaker, CircuitBreakerConfig, CircuitState, Outcome, ResilienceError,
    TransitionReason,
};

use crate::common::TestError;

const SEC: Duration = Duration::from_secs(1);

/// "5 failures in 60 s", with the rate thresholds out of the way.
fn count_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        failure_count_threshold: Some(5),
        failure_rate_threshold: 100.0,
        minimum_calls: 1_000,
        window: Duration::from_secs(60),
        open_duration: Duration::from_secs(30),
        half_open_max_calls: 2,
        ..CircuitBreakerConfig::default()
    }
}

fn breaker(config: &CircuitBreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH);
    let breaker = CircuitBreaker::new("upstream", config, clock.shared()).unwrap();
    (breaker, clock)
}

fn fail(breaker: &CircuitBreaker) {
    breaker
        .try_acquire()
        .expect("admitted")
        .finish(Outcome::Failure);
}

fn succeed(breaker: &CircuitBreaker) {
    breaker
        .try_acquire()
        .expect("admitted")
        .finish(Outcome::Success);
}

fn trip(breaker: &CircuitBreaker) {
    for _ in 0..5 {
        fail(breaker);
    }
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn five_failures_in_sixty_seconds_open_the_circuit() {
    let (breaker, clock) = breaker(&count_config());
    for _ in 0..4 {
        fail(&breaker);
        clock.advance(10 * SEC);
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker);
    assert_eq!(breaker.state(), CircuitState::Open);

    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state, CircuitState::Open);
    assert_eq!(rejected.retry_after, Some(30 * SEC));
    assert_eq!(rejected.kind(), ErrorKind::Unavailable);
    clock.advance(10 * SEC);
    assert_eq!(
        breaker.try_acquire().unwrap_err().retry_after,
        Some(20 * SEC)
    );
}

#[test]
fn failures_older_than_the_window_do_not_count() {
    let (breaker, clock) = breaker(&count_config());
    for _ in 0..4 {
        fail(&breaker);
    }
    // Second 59 is still inside a 60 s window that started at second 0...
    clock.advance(59 * SEC);
    assert_eq!(breaker.snapshot().failures, 4);
    // ...second 60 is not.
    clock.advance(SEC);
    assert_eq!(breaker.snapshot().failures, 0);
    for _ in 0..4 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn failure_rate_counts_only_after_minimum_calls() {
    let config = CircuitBreakerConfig {
        failure_rate_threshold: 50.0,
        minimum_calls: 10,
        ..CircuitBreakerConfig::default()
    };
    let (breaker, _clock) = breaker(&config);
    for _ in 0..9 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), CircuitState::Closed, "9 calls < minimum");
    succeed(&breaker);
    assert_eq!(breaker.state(), CircuitState::Open, "9 of 10 failed");

    let (breaker, _clock) = self::breaker(&config);
    for _ in 0..5 {
        succeed(&breaker);
    }
    for _ in 0..4 {
        fail(&breaker);
    }
    succeed(&breaker);
    assert_eq!(breaker.state(), CircuitState::Closed, "4 of 10 = 40 %");
    fail(&breaker);
    assert_eq!(breaker.state(), CircuitState::Closed, "5 of 11 = 45 %");
    fail(&breaker);
    assert_eq!(breaker.state(), CircuitState::Open, "6 of 12 = 50 %");
}

#[tokio::test]
async fn slow_calls_are_counted_and_trip() {
    let config = CircuitBreakerConfig {
        slow_call_duration: SEC,
        slow_call_rate_threshold: 50.0,
        minimum_calls: 4,
        ..CircuitBreakerConfig::default()
    };
    let (breaker, clock) = breaker(&config);
    let mut events = breaker.subscribe();
    let slow = || async {
        clock.advance(2 * SEC);
        Ok::<_, TestError>(())
    };
    let fast = || async { Ok::<_, TestError>(()) };
    breaker.call(fast).await.unwrap();
    breaker.call(fast).await.unwrap();
    breaker.call(slow).await.unwrap();
    // Exactly the threshold is not slow.
    breaker.try_acquire().unwrap().record(Outcome::Success, SEC);
    assert_eq!(breaker.snapshot().slow_calls, 1);
    assert_eq!(breaker.state(), CircuitState::Closed, "1 of 4 slow");
    breaker.call(slow).await.unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed, "2 of 5 slow");
    breaker.call(slow).await.unwrap();
    assert_eq!(breaker.state(), CircuitState::Open, "3 of 6 slow");
    let event = events.try_recv().unwrap();
    assert_eq!(event.reason, TransitionReason::SlowCallRate);
}

#[tokio::test]
async fn errors_that_are_not_upstream_failures_do_not_trip() {
    let config = CircuitBreakerConfig {
        failure_count_threshold: Some(1),
        ..count_config()
    };
    let (breaker, _clock) = breaker(&config);
    for kind in [
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unauthorized,
        ErrorKind::Permanent,
    ] {
        let result = breaker
            .call(|| async { Err::<(), _>(TestError(kind)) })
            .await;
        assert!(matches!(result, Err(ResilienceError::Inner(TestError(k))) if k == kind));
    }
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.state, CircuitState::Closed);
    assert_eq!(
        (snapshot.calls, snapshot.failures),
        (5, 0),
        "counted as successes"
    );

    let result = breaker
        .call(|| async { Err::<(), _>(TestError(ErrorKind::Timeout)) })
        .await;
    assert!(result.is_err());
    assert_eq!(breaker.state(), CircuitState::Open);
    let rejected = breaker
        .call(|| async { Ok::<_, TestError>(()) })
        .await
        .unwrap_err();
    assert!(matches!(
        rejected,
        ResilienceError::CircuitOpen { ref breaker, retry_after: Some(_) } if &**breaker == "upstream"
    ));
    assert_eq!(rejected.kind(), ErrorKind::Unavailable);
}

#[test]
fn half_open_admits_a_limited_number_of_trials_that_close_it() {
    let (breaker, clock) = breaker(&count_config());
    trip(&breaker);
    clock.advance(29 * SEC);
    assert_eq!(breaker.state(), CircuitState::Open);
    clock.advance(SEC);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    assert!(first.is_trial() && second.is_trial());
    let extra = breaker.try_acquire().unwrap_err();
    assert_eq!(extra.state, CircuitState::HalfOpen);

    first.finish(Outcome::Success);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(
        breaker.try_acquire().is_err(),
        "a succeeded trial keeps its slot"
    );
    second.finish(Outcome::Success);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.snapshot().calls, 0, "closing resets the window");
    succeed(&breaker);
}

#[test]
fn a_failed_trial_reopens_the_circuit() {
    let (breaker, clock) = breaker(&count_config());
    trip(&breaker);
    clock.advance(30 * SEC);
    let trial = breaker.try_acquire().unwrap();
    let other = breaker.try_acquire().unwrap();
    trial.finish(Outcome::Failure);
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        breaker.try_acquire().unwrap_err().retry_after,
        Some(30 * SEC)
    );
    // The other trial's late success belongs to the previous half-open spell.
    other.finish(Outcome::Success);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn a_slow_trial_reopens_the_circuit() {
    let (breaker, clock) = breaker(&count_config());
    trip(&breaker);
    clock.advance(30 * SEC);
    breaker
        .try_acquire()
        .unwrap()
        .record(Outcome::Success, Duration::from_secs(60));
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn a_dropped_trial_permit_frees_its_slot() {
    let config = CircuitBreakerConfig {
        half_open_max_calls: 1,
        ..count_config()
    };
    let (breaker, clock) = breaker(&config);
    trip(&breaker);
    clock.advance(30 * SEC);
    let trial = breaker.try_acquire().unwrap();
    assert!(breaker.try_acquire().is_err());
    drop(trial);
    let trial = breaker.try_acquire().expect("slot freed");
    trial.finish(Outcome::Ignored);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.try_acquire().unwrap().finish(Outcome::Success);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn stale_permits_from_before_a_transition_are_not_counted() {
    let (breaker, _clock) = breaker(&count_config());
    let early = breaker.try_acquire().unwrap();
    breaker.force_open();
    breaker.reset();
    early.finish(Outcome::Failure);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[test]
fn operators_can_force_either_state_and_release_it() {
    let (breaker, _clock) = breaker(&count_config());
    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::ForcedOpen);
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state, CircuitState::ForcedOpen);
    assert_eq!(rejected.retry_after, None);
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);

    breaker.force_closed();
    for _ in 0..20 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), CircuitState::ForcedClosed);
    assert_eq!(breaker.snapshot().failures, 0);
    breaker.reset();
    trip(&breaker);
    breaker.force_closed();
    assert!(breaker.try_acquire().is_ok());
}

#[test]
fn transitions_are_published_in_order_to_subscribers_and_listeners() {
    let (breaker, clock) = breaker(&count_config());
    let mut events = breaker.subscribe();
    let heard = Arc::new(Mutex::new(Vec::<BreakerEvent>::new()));
    let sink = heard.clone();
    breaker.on_transition(move |event| sink.lock().unwrap().push(event.clone()));

    trip(&breaker);
    let opened_at = clock.system_time();
    clock.advance(30 * SEC);
    succeed(&breaker);
    succeed(&breaker);
    breaker.force_open();
    breaker.reset();

    let mut received = Vec::new();
    while let Ok(event) = events.try_recv() {
        received.push(event);
    }
    let steps: Vec<_> = received.iter().map(|e| (e.from, e.to, e.reason)).collect();
    use CircuitState::*;
    assert_eq!(
        steps,
        vec![
            (Closed, Open, TransitionReason::FailureCount),
            (Open, HalfOpen, TransitionReason::OpenDurationElapsed),
            (HalfOpen, Closed, TransitionReason::TrialsSucceeded),
            (Closed, ForcedOpen, TransitionReason::Forced),
            (ForcedOpen, Closed, TransitionReason::Reset),
        ]
    );
    assert!(received.iter().all(|e| &*e.breaker == "upstream"));
    assert_eq!(received[0].at, opened_at);
    assert_eq!(received[1].at, opened_at + 30 * SEC);
    assert_eq!(*heard.lock().unwrap(), received);
}

#[tokio::test]
async fn health_follows_the_state() {
    let (breaker, clock) = breaker(&count_config());
    assert_eq!(HealthCheck::name(&breaker), "breaker:upstream");
    assert_eq!(breaker.check().await.status, HealthStatus::Up);
    trip(&breaker);
    let health = breaker.check().await;
    assert_eq!(health.status, HealthStatus::Down);
    assert!(health.detail.unwrap().contains("next trial in 30s"));
    clock.advance(30 * SEC);
    assert_eq!(breaker.check().await.status, HealthStatus::Degraded);
    breaker.force_open();
    let health = breaker.check().await;
    assert_eq!(health.status, HealthStatus::Down);
    assert!(health.detail.unwrap().contains("operator"));
    breaker.force_closed();
    assert_eq!(breaker.check().await.status, HealthStatus::Up);
}

#[test]
fn transitions_and_rejections_are_reported_as_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let (breaker, _clock) = breaker(&count_config());
        trip(&breaker);
        let _ = breaker.try_acquire();
        let _ = breaker.try_acquire();
    });
    let mut gauge = None;
    let mut opened = None;
    let mut rejected = None;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<_> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        assert!(labels.contains(&("breaker".to_owned(), "upstream".to_owned())));
        match (key.name(), value) {
            ("seam_circuit_breaker_state", DebugValue::Gauge(v)) => gauge = Some(v.into_inner()),
            ("seam_circuit_breaker_transitions_total", DebugValue::Counter(n)) => {
                assert!(labels.contains(&("from".to_owned(), "closed".to_owned())));
                assert!(labels.contains(&("to".to_owned(), "open".to_owned())));
                opened = Some(n);
            }
            ("seam_circuit_breaker_rejected_total", DebugValue::Counter(n)) => rejected = Some(n),
            _ => {}
        }
    }
    assert_eq!(gauge, Some(1.0));
    assert_eq!(opened, Some(1));
    assert_eq!(rejected, Some(2));
}

#[test]
fn invalid_config_is_refused_with_the_field_name() {
    let clock = ManualClock::new();
    let config = CircuitBreakerConfig {
        failure_rate_threshold: 150.0,
        ..CircuitBreakerConfig::default()
    };
    let error = CircuitBreaker::new("x", &config, clock.shared()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "failure_rate_threshold must be between 0 and 100, got 150"
    );
}
