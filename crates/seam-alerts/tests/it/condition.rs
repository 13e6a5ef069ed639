//! Conditions checked over time, with a manual clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use seam_alerts::condition::{ConditionAlert, ConditionChange};
use seam_alerts::{Alert, Error, InMemoryAlerts, IncidentState, Severity};
use seam_core::{Clock, ManualClock};
use serde_json::json;

fn dlq(alerts: &Arc<InMemoryAlerts>, clock: &ManualClock, grace: Duration) -> ConditionAlert {
    ConditionAlert::new(
        alerts.clone(),
        Alert::new(
            "dlq:orders",
            Severity::Error,
            "orders dead-letter queue above 100",
            "order-worker",
        ),
        clock.shared(),
    )
    .after(grace)
}

#[tokio::test]
async fn a_condition_pages_once_after_its_grace_period_and_resolves_when_clear() {
    let alerts = Arc::new(InMemoryAlerts::new());
    let clock = ManualClock::new();
    let condition = dlq(&alerts, &clock, Duration::from_secs(120));
    let start = chrono::DateTime::<chrono::Utc>::from(clock.system_time());

    assert_eq!(
        condition.check(false).await.unwrap(),
        ConditionChange::Unchanged
    );
    assert_eq!(
        condition.check(true).await.unwrap(),
        ConditionChange::Unchanged
    );
    clock.advance(Duration::from_secs(119));
    assert_eq!(
        condition.check(true).await.unwrap(),
        ConditionChange::Unchanged
    );
    assert!(
        alerts.calls().is_empty(),
        "not yet: within the grace period"
    );
    clock.advance(Duration::from_secs(1));
    let depth = BTreeMap::from([("depth".to_owned(), json!(153))]);
    assert_eq!(
        condition.check_with(true, depth).await.unwrap(),
        ConditionChange::Triggered
    );
    for _ in 0..5 {
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            condition.check(true).await.unwrap(),
            ConditionChange::Unchanged
        );
    }
    let incident = alerts.incident("dlq:orders").unwrap();
    assert_eq!(incident.triggers, 1, "the same condition pages once");
    assert_eq!(incident.alert.details["depth"], 153);
    // The alert says when the condition started, not when the grace period ended.
    assert_eq!(incident.alert.timestamp, Some(start));

    assert_eq!(
        condition.check(false).await.unwrap(),
        ConditionChange::Resolved
    );
    assert_eq!(
        condition.check(false).await.unwrap(),
        ConditionChange::Unchanged
    );
    assert_eq!(
        alerts.incident("dlq:orders").unwrap().state,
        IncidentState::Resolved
    );
    assert!(!condition.is_raised());
}

#[tokio::test]
async fn a_break_in_the_condition_restarts_the_grace_period() {
    let alerts = Arc::new(InMemoryAlerts::new());
    let clock = ManualClock::new();
    let condition = dlq(&alerts, &clock, Duration::from_secs(60));
    condition.check(true).await.unwrap();
    clock.advance(Duration::from_secs(50));
    condition.check(false).await.unwrap();
    condition.check(true).await.unwrap();
    clock.advance(Duration::from_secs(50));
    assert_eq!(
        condition.check(true).await.unwrap(),
        ConditionChange::Unchanged
    );
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        condition.check(true).await.unwrap(),
        ConditionChange::Triggered
    );
}

#[tokio::test]
async fn failed_pages_are_tried_again_at_the_next_check() {
    let alerts = Arc::new(InMemoryAlerts::new());
    let clock = ManualClock::new();
    let condition = dlq(&alerts, &clock, Duration::ZERO);
    alerts.fail_next(Error::transient("pager down"));
    assert!(condition.check(true).await.is_err());
    assert!(!condition.is_raised());
    assert_eq!(
        condition.check(true).await.unwrap(),
        ConditionChange::Triggered
    );
    alerts.fail_next(Error::Timeout(Duration::from_secs(10)));
    assert!(condition.check(false).await.is_err());
    assert!(
        condition.is_raised(),
        "still raised: the resolve did not go through"
    );
    assert_eq!(
        condition.check(false).await.unwrap(),
        ConditionChange::Resolved
    );
    assert!(alerts.open_incidents().is_empty());
}
