//! SendGrid Event Webhook batches through the worker's webhook handler, on the SQL
//! stores of a fresh SQLite database: a hard bounce suppresses its address (the next
//! send fails `Permanent` without reaching the e-mail adapter) and feeds `status`; a
//! redelivered batch changes nothing; an unreadable batch is dead-lettered at once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use seam_core::{Classify, ErrorKind};
use seam_domain::EmailAddress;
use seam_email::{DeliveryStatus, EmailMessage, EmailService, InMemoryEmail, MessageId};
use seam_order_worker::webhooks::{PaymentApplied, PaymentEvents, WebhookHandler};
use seam_orders::{MessageHandler, OrdersError};
use seam_payments::PaymentEvent;
use seam_repository::{MemoryWebhookEvents, WebhookEventLog, WebhookEventStatus};
use seam_sql::{Database, SqlConfig};
use seam_testkit::TestSqlite;
use seam_webhooks::{Provider, WebhookMessage};
use seam_wiring::email_events::EmailEventStores;

/// No payment event is expected here.
#[derive(Debug)]
struct NoPayments;

#[async_trait]
impl PaymentEvents for NoPayments {
    async fn apply(&self, event: &PaymentEvent) -> Result<PaymentApplied, OrdersError> {
        Err(OrdersError::Undecodable(format!(
            "unexpected payment event {}",
            event.id
        )))
    }
}

fn batch(event_id: &str, body: &str) -> seam_queue::Envelope {
    WebhookMessage {
        provider: Provider::Sendgrid,
        event_id: event_id.to_owned(),
        event_type: "batch".to_owned(),
        received_at: Utc::now(),
        body: body.to_owned(),
        replay: false,
    }
    .envelope()
}

#[tokio::test]
async fn a_sendgrid_bounce_suppresses_the_address_through_the_webhook_handler() {
    seam_testkit::init_test_logging();
    let file = TestSqlite::new().await;
    let database = Database::connect(&SqlConfig::new(file.url()))
        .await
        .expect("open the test database");
    database.migrate_up().await.expect("migrate");
    let stores = EmailEventStores::sql(&database);
    let log = Arc::new(MemoryWebhookEvents::new());
    let handler =
        WebhookHandler::new(log.clone(), Arc::new(NoPayments), 5).with_email_events(stores.clone());

    let inner = Arc::new(InMemoryEmail::new());
    let email = stores.wrap(inner.clone());
    let message = EmailMessage::builder()
        .from(EmailAddress::parse("shop@example.com").unwrap())
        .to(EmailAddress::parse("gone@example.com").unwrap())
        .subject("Your order")
        .text("Thanks")
        .message_id(MessageId::new("order-9-confirmed").unwrap())
        .build()
        .unwrap();
    email.send(&message).await.unwrap();

    let body = r#"[
        {"sg_event_id":"p1","event":"processed","email":"gone@example.com","timestamp":1700000000,"seam_message_id":"order-9-confirmed"},
        {"sg_event_id":"b1","event":"bounce","type":"bounce","reason":"550 5.1.1 unknown user","email":"gone@example.com","timestamp":1700000005,"seam_message_id":"order-9-confirmed"}
    ]"#;
    let done = handler.handle(&batch("batch-1", body)).await.unwrap();
    assert!(done.contains("2 e-mail events recorded"), "{done}");
    let logged = log.get("sendgrid", "batch-1").await.unwrap();
    assert_eq!(logged.status, WebhookEventStatus::Processed);

    assert_eq!(
        email
            .status(&MessageId::new("order-9-confirmed").unwrap())
            .await
            .unwrap(),
        DeliveryStatus::Bounced {
            reason: "550 5.1.1 unknown user".into()
        }
    );
    let error = email.send(&message).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(error.to_string().contains("gone@example.com"), "{error}");
    assert_eq!(inner.sent().len(), 1, "the adapter was not called again");

    // The same events in another delivery (SendGrid retries whole batches).
    let again = handler.handle(&batch("batch-2", body)).await.unwrap();
    assert!(
        again.contains("0 e-mail events recorded, 2 already recorded"),
        "{again}"
    );

    let error = handler
        .handle(&batch("batch-3", r#"{"event":"open"}"#))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error}");

    database.close().await;
    file.cleanup().await;
}
