use seam_core::ErrorKind;
use seam_resilience::{Fallback, ResilienceError};

use crate::common::{Counter, TestError};

async fn fail(kind: ErrorKind) -> Result<&'static str, TestError> {
    Err(TestError(kind))
}

#[tokio::test]
async fn the_primary_answers_when_it_can() {
    let cache = Counter::default();
    let answer = Fallback::new(|| async { Ok::<_, TestError>("fresh") })
        .or_else_named("cache", || async {
            cache.bump();
            Ok("cached")
        })
        .call()
        .await
        .unwrap();
    assert_eq!(
        (answer.value, answer.source.as_ref(), answer.position),
        ("fresh", "primary", 0)
    );
    assert!(!answer.is_fallback());
    assert_eq!(cache.get(), 0, "the cache is not asked");
}

#[tokio::test]
async fn service_then_cache_then_default() {
    let answer = Fallback::new(|| fail(ErrorKind::Unavailable))
        .or_else_named("cache", || async { Ok("cached") })
        .or_default("default")
        .call()
        .await
        .unwrap();
    assert_eq!((answer.value, answer.source.as_ref()), ("cached", "cache"));

    let answer = Fallback::new(|| fail(ErrorKind::Timeout))
        .or_else_named("cache", || fail(ErrorKind::NotFound))
        .or_default("default")
        .call()
        .await
        .unwrap();
    assert_eq!(
        (answer.value, answer.source.as_ref(), answer.position),
        ("default", "default", 2)
    );

    let answer = Fallback::new(|| fail(ErrorKind::Transient))
        .or_else(|| async { Ok("second") })
        .call()
        .await
        .unwrap();
    assert_eq!(answer.source, "fallback_1");
}

#[tokio::test]
async fn a_callers_mistake_does_not_fall_through() {
    let cache = Counter::default();
    let error = Fallback::new(|| fail(ErrorKind::Invalid))
        .or_else_named("cache", || async {
            cache.bump();
            Ok("cached")
        })
        .or_default("default")
        .call()
        .await
        .unwrap_err();
    assert_eq!(error, TestError(ErrorKind::Invalid));
    assert_eq!(cache.get(), 0);

    let answer = Fallback::new(|| fail(ErrorKind::Invalid))
        .fall_through_when(|_| true)
        .or_default("default")
        .call()
        .await
        .unwrap();
    assert_eq!(answer.value, "default");
}

#[tokio::test]
async fn policy_rejections_fall_through_and_the_last_error_is_returned() {
    let answer = Fallback::new(|| async {
        Err::<u32, ResilienceError<TestError>>(ResilienceError::CircuitOpen {
            breaker: "payments".into(),
            retry_after: None,
        })
    })
    .or_default(0)
    .call()
    .await
    .unwrap();
    assert_eq!(answer.source, "default");

    let error = Fallback::new(|| fail(ErrorKind::Unavailable))
        .or_else_named("cache", || fail(ErrorKind::NotFound))
        .call()
        .await
        .unwrap_err();
    assert_eq!(error, TestError(ErrorKind::NotFound));
}
