use std::time::Duration;

use seam_core::{Health, HealthStatus, ManualClock};
use seam_health::{CheckOptions, HealthConfig, HealthRegistry};
use tokio_util::sync::CancellationToken;

use crate::Scripted;

fn registry(clock: &ManualClock) -> HealthRegistry {
    HealthRegistry::new(HealthConfig::default(), clock.shared())
}

#[tokio::test]
async fn not_ready_until_checked() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    registry.register(Scripted::new("database", &clock));
    assert!(!registry.is_ready());
    let report = registry.report();
    assert_eq!(report.status, HealthStatus::Down);
    assert_eq!(
        report.check("database").unwrap().detail.as_deref(),
        Some("not checked yet")
    );

    registry.check_all().await;
    assert!(registry.is_ready());
    assert_eq!(registry.report().status, HealthStatus::Up);
}

#[tokio::test]
async fn an_empty_registry_is_up_and_ready() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    registry.check_all().await;
    assert!(registry.is_ready());
    assert_eq!(registry.report().status, HealthStatus::Up);
}

#[tokio::test]
async fn critical_down_makes_the_service_unready() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let database = Scripted::new("database", &clock);
    registry.register(database.clone());
    database.answer(Health::down("connection refused"));
    registry.check_all().await;

    assert!(!registry.is_ready());
    let report = registry.report();
    assert_eq!(report.status, HealthStatus::Down);
    let check = report.check("database").unwrap();
    assert_eq!(check.last_error.as_deref(), Some("connection refused"));
    assert_eq!(check.consecutive_failures, 1);
}

#[tokio::test]
async fn non_critical_down_only_degrades() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let cache = Scripted::new("cache", &clock);
    registry.register(Scripted::new("database", &clock));
    registry.register_with(cache.clone(), CheckOptions::non_critical());
    cache.answer(Health::down("redis unreachable"));
    registry.check_all().await;

    assert!(registry.is_ready());
    let report = registry.report();
    assert_eq!(report.status, HealthStatus::Degraded);
    assert_eq!(report.check("cache").unwrap().status, HealthStatus::Down);
}

#[tokio::test]
async fn slow_answers_are_degraded() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let database = Scripted::new("database", &clock);
    registry.register(database.clone());
    database.take(Duration::from_millis(1500));
    registry.check_all().await;

    let report = registry.report();
    let check = report.check("database").unwrap();
    assert_eq!(check.status, HealthStatus::Degraded);
    assert_eq!(
        check.detail.as_deref(),
        Some("slow: answered in 1s 500ms (degraded after 1s)")
    );
    assert_eq!(check.latency_ms, Some(1500.0));
    // Degraded is still ready: the dependency answers.
    assert!(registry.is_ready());
}

#[tokio::test]
async fn per_check_slow_threshold_overrides_the_default() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let search = Scripted::new("search", &clock);
    registry.register_with(
        search.clone(),
        CheckOptions {
            critical: true,
            degraded_after: Some(Duration::from_secs(2)),
        },
    );
    search.take(Duration::from_millis(1500));
    registry.check_all().await;
    assert_eq!(
        registry.report().check("search").unwrap().status,
        HealthStatus::Up
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_check_times_out_as_down() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let broker = Scripted::new("broker", &clock);
    registry.register(broker.clone());
    broker.hang();
    registry.check_all().await;

    let report = registry.report();
    let check = report.check("broker").unwrap();
    assert_eq!(check.status, HealthStatus::Down);
    assert_eq!(check.detail.as_deref(), Some("check timed out after 3s"));
}

#[tokio::test]
async fn recovery_keeps_the_last_error_and_moves_since() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let database = Scripted::new("database", &clock);
    registry.register(database.clone());

    database.answer(Health::down("refused"));
    registry.check_all().await;
    clock.advance(Duration::from_secs(10));
    registry.check_all().await;
    let down = registry.report().check("database").unwrap().clone();
    assert_eq!(down.consecutive_failures, 2);
    // Still down: `since` is the first failure, 10 s ago.
    assert_eq!(
        down.status_for(seam_core::Clock::system_time(&clock)),
        Some(Duration::from_secs(10))
    );

    database.answer(Health::up());
    clock.advance(Duration::from_secs(10));
    registry.check_all().await;
    let up = registry.report().check("database").unwrap().clone();
    assert_eq!(up.status, HealthStatus::Up);
    assert_eq!(up.consecutive_failures, 0);
    assert_eq!(up.last_error.as_deref(), Some("refused"));
    assert_ne!(up.since, down.since);
}

#[tokio::test]
async fn registering_a_name_again_replaces_the_check() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let first = Scripted::new("database", &clock);
    let second = Scripted::new("database", &clock);
    registry.register(first.clone());
    registry.register(second.clone());
    registry.check_all().await;
    assert_eq!((first.calls(), second.calls()), (0, 1));
    assert_eq!(registry.report().checks.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn spawned_loop_checks_periodically_until_cancelled() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let database = Scripted::new("database", &clock);
    registry.register(database.clone());

    let cancel = CancellationToken::new();
    let task = registry.spawn(cancel.clone());
    // The first round runs at once, then one per 10 s interval.
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(database.calls(), 3);
    cancel.cancel();
    task.await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(database.calls(), 3);
}
