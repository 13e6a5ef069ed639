//! The e-mail suppression list and delivery event store on both backends: the port's
//! contract checks, and a bounce that stops the next send.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use seam_core::{Classify, ErrorKind};
use seam_domain::EmailAddress;
use seam_email::events::{apply, delivery_status_store_conformance};
use seam_email::suppression::suppression_list_conformance;
use seam_email::{
    BounceType, DeliveryEvent, DeliveryEventKind, DeliveryStatus, EmailMessage, EmailService,
    InMemoryEmail, SuppressingEmailService, SuppressionList,
};
use seam_repository_sql::{SqlDeliveryEvents, SqlSuppressionList};
use seam_sql::Backend;

use crate::support::{Guard, teardown};

async fn contract(backend: Backend) {
    let guard = Guard::new(backend).await;
    suppression_list_conformance(&SqlSuppressionList::new(&guard.database)).await;
    delivery_status_store_conformance(&SqlDeliveryEvents::new(&guard.database)).await;
    teardown(guard).await;
}

/// A hard bounce reported for a sent message: the status says bounced, the address is
/// suppressed, and the next send to it fails `Permanent` without reaching the inner
/// service. Applying the batch again changes nothing.
async fn a_bounce_suppresses_the_next_send(backend: Backend) {
    let guard = Guard::new(backend).await;
    let suppressions = Arc::new(SqlSuppressionList::new(&guard.database));
    let statuses = Arc::new(SqlDeliveryEvents::new(&guard.database));
    let inner = Arc::new(InMemoryEmail::new());
    let email = SuppressingEmailService::new(inner.clone(), suppressions.clone(), statuses.clone());
    let message = EmailMessage::builder()
        .from(EmailAddress::parse("shop@example.com").unwrap())
        .to(EmailAddress::parse("Gone@Example.com").unwrap())
        .subject("Your order")
        .text("Thanks")
        .build()
        .unwrap();
    let receipt = email.send(&message).await.unwrap();
    assert_eq!(
        email.status(&receipt.message_id).await.unwrap(),
        DeliveryStatus::Accepted
    );

    let at = |second: i64| Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap();
    let batch = [
        DeliveryEvent {
            message_id: Some(receipt.message_id.clone()),
            recipient: EmailAddress::parse("Gone@Example.com").unwrap(),
            kind: DeliveryEventKind::Processed,
            occurred_at: at(0),
            provider_event_id: "sg-processed-1".into(),
        },
        DeliveryEvent {
            message_id: Some(receipt.message_id.clone()),
            recipient: EmailAddress::parse("Gone@Example.com").unwrap(),
            kind: DeliveryEventKind::Bounced {
                reason: "550 5.1.1 The email account does not exist".into(),
                bounce_type: BounceType::Hard,
            },
            occurred_at: at(3),
            provider_event_id: "sg-bounce-1".into(),
        },
    ];
    let applied = apply(&batch, suppressions.as_ref(), statuses.as_ref())
        .await
        .unwrap();
    assert_eq!(applied.recorded, 2);
    let again = apply(&batch, suppressions.as_ref(), statuses.as_ref())
        .await
        .unwrap();
    assert_eq!((again.recorded, again.duplicates), (0, 2));

    assert_eq!(
        email.status(&receipt.message_id).await.unwrap(),
        DeliveryStatus::Bounced {
            reason: "550 5.1.1 The email account does not exist".into()
        }
    );
    let error = email.send(&message).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    let text = error.to_string();
    assert!(text.contains("Gone@example.com"), "{text}");
    assert!(text.contains("hard bounce: 550 5.1.1"), "{text}");
    assert_eq!(inner.sent().len(), 1, "the inner service was not called");

    let listed = suppressions.list(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].address, "gone@example.com");
    assert_eq!(listed[0].created_at, at(3));
    teardown(guard).await;
}

/// Once the pool is closed, the stores answer `Transient` (retryable), so a send is
/// neither made unchecked nor refused for good.
async fn a_closed_pool_is_transient(backend: Backend) {
    let guard = Guard::new(backend).await;
    let suppressions = SqlSuppressionList::new(&guard.database);
    guard.database.close().await;
    let error = suppressions
        .is_suppressed(&EmailAddress::parse("ada@example.com").unwrap())
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    teardown(guard).await;
}

#[tokio::test]
async fn email_event_stores_on_postgres() {
    contract(Backend::Postgres).await;
}

#[tokio::test]
async fn email_event_stores_on_sqlite() {
    contract(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_bounce_suppresses_the_next_send_on_postgres() {
    a_bounce_suppresses_the_next_send(Backend::Postgres).await;
}

#[tokio::test]
async fn a_bounce_suppresses_the_next_send_on_sqlite() {
    a_bounce_suppresses_the_next_send(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_closed_pool_is_transient_on_postgres() {
    a_closed_pool_is_transient(Backend::Postgres).await;
}

#[tokio::test]
async fn a_closed_pool_is_transient_on_sqlite() {
    a_closed_pool_is_transient(Backend::Sqlite).await;
}
