use std::time::Duration;

use seam_core::{ErrorKind, ManualClock};
use seam_resilience::{Jitter, Retry, RetryBudget, RetryBudgetConfig, RetryConfig};

use crate::common::{Counter, TestError};

const MS: Duration = Duration::from_millis(1);

/// No budget and no jitter, so sleeps are exact.
fn retry(clock: &ManualClock, max_attempts: u32) -> Retry {
    Retry::new("test", clock.shared())
        .with_budget(None)
        .with_jitter(Jitter::none())
        .with_max_attempts(max_attempts)
        .with_backoff(100 * MS, Duration::from_secs(10))
}

async fn always(retry: &Retry, kind: ErrorKind, counter: &Counter) -> Result<(), TestError> {
    retry
        .call(|| async {
            counter.bump();
            Err(TestError(kind))
        })
        .await
}

#[tokio::test]
async fn non_retryable_errors_are_not_retried() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 5);
    for kind in [
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Permanent,
    ] {
        let counter = Counter::default();
        let error = always(&retry, kind, &counter).await.unwrap_err();
        assert_eq!(error, TestError(kind));
        assert_eq!(counter.get(), 1, "{kind}");
    }
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn retries_up_to_max_attempts_with_exponential_backoff() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 4);
    let counter = Counter::default();
    let error = always(&retry, ErrorKind::Transient, &counter)
        .await
        .unwrap_err();
    assert_eq!(error.0, ErrorKind::Transient);
    assert_eq!(counter.get(), 4);
    assert_eq!(clock.sleeps(), vec![100 * MS, 200 * MS, 400 * MS]);
}

#[tokio::test]
async fn backoff_is_capped() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 5).with_backoff(100 * MS, 250 * MS);
    let counter = Counter::default();
    always(&retry, ErrorKind::Unavailable, &counter)
        .await
        .unwrap_err();
    assert_eq!(clock.sleeps(), vec![100 * MS, 200 * MS, 250 * MS, 250 * MS]);
    assert_eq!(retry.backoff(40), 250 * MS, "large exponents saturate");
}

#[tokio::test]
async fn succeeds_after_transient_failures() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 5);
    let counter = Counter::default();
    let value = retry
        .call(|| async {
            if counter.bump() < 3 {
                Err(TestError(ErrorKind::Timeout))
            } else {
                Ok(42)
            }
        })
        .await
        .unwrap();
    assert_eq!((value, counter.get()), (42, 3));
}

#[tokio::test]
async fn stops_when_the_next_attempt_would_start_after_max_elapsed() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 10)
        .with_backoff(Duration::from_secs(1), Duration::from_secs(60))
        .with_max_elapsed(Some(Duration::from_millis(2500)));
    let counter = Counter::default();
    always(&retry, ErrorKind::Transient, &counter)
        .await
        .unwrap_err();
    // Slept 1 s; the next backoff (2 s) would end at 3 s > 2.5 s.
    assert_eq!(counter.get(), 2);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1)]);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 3);
    let counter = Counter::default();
    let wait = Duration::from_secs(5);
    let value = retry
        .call(|| async {
            if counter.bump() == 1 {
                Err(TestError(ErrorKind::RateLimited {
                    retry_after: Some(wait),
                }))
            } else {
                Ok("done")
            }
        })
        .await
        .unwrap();
    assert_eq!(value, "done");
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1);
    assert!(sleeps[0] >= wait, "{sleeps:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_time_limit_gives_up_at_once() {
    let clock = ManualClock::new();
    let retry = retry(&clock, 3).with_max_elapsed(Some(Duration::from_secs(3)));
    let counter = Counter::default();
    let kind = ErrorKind::RateLimited {
        retry_after: Some(Duration::from_secs(10)),
    };
    let error = always(&retry, kind, &counter).await.unwrap_err();
    assert_eq!(error.0, kind);
    assert_eq!(counter.get(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn an_exhausted_budget_stops_retries() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(
        &RetryBudgetConfig {
            enabled: true,
            window: Duration::from_secs(10),
            retry_ratio: 0.5,
            min_retries_per_second: 0,
        },
        clock.shared(),
    )
    .unwrap();
    let retry = retry(&clock, 10).with_budget(Some(budget.clone()));
    for _ in 0..4 {
        retry
            .call(|| async { Ok::<_, TestError>(()) })
            .await
            .unwrap();
    }
    // 5 calls earn 2.5 retries: the third retry is refused and the error returned.
    let counter = Counter::default();
    let error = always(&retry, ErrorKind::Transient, &counter)
        .await
        .unwrap_err();
    assert_eq!(error.0, ErrorKind::Transient);
    assert_eq!(counter.get(), 3);
    assert_eq!(budget.counts(), (5, 2));

    // One more call earns half a retry more: one retry left.
    let counter = Counter::default();
    always(&retry, ErrorKind::Transient, &counter)
        .await
        .unwrap_err();
    assert_eq!(counter.get(), 2, "6 calls earn 3 retries, 2 were spent");

    // The window forgets.
    clock.advance(Duration::from_secs(10));
    assert_eq!(budget.counts(), (0, 0));
}

#[tokio::test]
async fn the_budget_floor_allows_retries_for_quiet_clients() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(
        &RetryBudgetConfig {
            enabled: true,
            window: Duration::from_secs(2),
            retry_ratio: 0.0,
            min_retries_per_second: 1,
        },
        clock.shared(),
    )
    .unwrap();
    assert!(budget.try_withdraw());
    assert!(budget.try_withdraw());
    assert!(!budget.try_withdraw(), "floor of 1/s over 2 s is 2");
}

#[tokio::test]
async fn full_jitter_stays_within_the_backoff_and_is_reproducible() {
    let run = |seed| async move {
        let clock = ManualClock::new();
        let retry = retry(&clock, 8)
            .with_backoff(100 * MS, Duration::from_secs(1))
            .with_jitter(Jitter::full_seeded(seed));
        always(&retry, ErrorKind::Transient, &Counter::default())
            .await
            .unwrap_err();
        (retry, clock.sleeps())
    };
    let (retry, sleeps) = run(7).await;
    assert_eq!(sleeps.len(), 7);
    for (n, sleep) in sleeps.iter().enumerate() {
        let cap = retry.backoff(n as u32);
        assert!(*sleep <= cap, "retry {n}: {sleep:?} > {cap:?}");
    }
    assert!(
        sleeps
            .iter()
            .enumerate()
            .any(|(n, s)| *s < retry.backoff(n as u32)),
        "jitter should shorten some waits: {sleeps:?}"
    );
    assert_eq!(run(7).await.1, sleeps, "same seed, same waits");

    let thread_jitter = Jitter::full();
    for _ in 0..1_000 {
        assert!(thread_jitter.apply(100 * MS) <= 100 * MS);
    }
    let custom = Jitter::custom(|cap| cap * 2);
    assert_eq!(custom.apply(100 * MS), 100 * MS, "custom jitter is capped");
}

#[test]
fn config_is_validated() {
    let clock = ManualClock::new();
    let config = RetryConfig {
        max_delay: Duration::from_millis(1),
        ..RetryConfig::default()
    };
    let error = Retry::from_config("x", &config, clock.shared()).unwrap_err();
    assert_eq!(error.field, "max_delay");
    let config = RetryConfig {
        budget: RetryBudgetConfig {
            retry_ratio: -1.0,
            ..RetryBudgetConfig::default()
        },
        ..RetryConfig::default()
    };
    let error = Retry::from_config("x", &config, clock.shared()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "budget.retry_ratio must be between 0 and 1000, got -1"
    );
}
