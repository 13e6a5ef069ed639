//! The webhook event log on both backends: the port's contract checks.

use seam_repository::webhook_events_conformance;
use seam_repository_sql::SqlWebhookEvents;
use seam_sql::Backend;

use crate::support::{Guard, teardown};

async fn contract(backend: Backend) {
    let guard = Guard::new(backend).await;
    webhook_events_conformance(&SqlWebhookEvents::new(&guard.database)).await;
    teardown(guard).await;
}

#[tokio::test]
async fn webhook_event_log_on_postgres() {
    contract(Backend::Postgres).await;
}

#[tokio::test]
async fn webhook_event_log_on_sqlite() {
    contract(Backend::Sqlite).await;
}
