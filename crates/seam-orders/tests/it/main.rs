//! The order flow end to end on the in-memory adapters: place -> relay -> worker ->
//! relay -> e-mail, with duplicates, stock shortage, idempotency and failures.

use std::sync::Arc;
use std::time::Duration;

use seam_core::{ManualClock, SharedClock};
use seam_domain::{
    Currency, EmailAddress, Money, NewOrder, NewOrderLine, NewUser, OrderStatus, Quantity, Sku,
    User,
};
use seam_email::{InMemoryEmail, Templates};
use seam_orders::{
    ConsumerLoop, EMAILS_QUEUE, EmailSender, HandleOutcome, ORDERS_QUEUE, OrderService,
    OrdersError, OutboxRelay, PlaceOrder, Processed, RelayConfig, RetrySchedule, bindings,
    parse_mailbox, request_hash,
};
use seam_queue::{Consumer, DeadLetters, MemoryQueue, MemoryQueueConfig};
use seam_repository::memory::MemoryRepositories;
use seam_repository::{Product, RepositoryPorts};

struct Harness {
    clock: ManualClock,
    repositories: RepositoryPorts,
    queue: Arc<MemoryQueue>,
    email: Arc<InMemoryEmail>,
    service: Arc<OrderService>,
    relay: OutboxRelay,
    orders: ConsumerLoop,
    emails: ConsumerLoop,
    customer: User,
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn sku(text: &str) -> Sku {
    Sku::parse(text).unwrap()
}

impl Harness {
    async fn new() -> Self {
        let clock = ManualClock::new();
        let shared: SharedClock = clock.shared();
        let repositories = MemoryRepositories::new().ports();
        let queue = Arc::new(
            MemoryQueue::with_clock(MemoryQueueConfig::new(bindings()), shared.clone()).unwrap(),
        );
        let email = Arc::new(InMemoryEmail::new());
        let service = Arc::new(OrderService::new(
            repositories.clone(),
            EmailSender {
                service: email.clone(),
                from: parse_mailbox("Seam Shop <shop@example.com>").unwrap(),
                templates: Arc::new(Templates::new()),
            },
            shared,
        ));
        let relay = OutboxRelay::new(
            repositories.outbox.clone(),
            queue.clone(),
            RelayConfig::default(),
        );
        let schedule = RetrySchedule {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        };
        let orders = ConsumerLoop::new(queue.clone(), ORDERS_QUEUE, service.clone(), schedule);
        let emails = ConsumerLoop::new(queue.clone(), EMAILS_QUEUE, service.clone(), schedule);
        for (code, price, stock) in [("MUG", 1250, 5), ("CAP", 999, 1)] {
            repositories
                .inventory
                .put_product(&Product {
                    sku: sku(code),
                    name: format!("The {code}"),
                    unit_price: Money::new(price, eur()),
                    on_hand: stock,
                })
                .await
                .unwrap();
        }
        let customer = repositories
            .users
            .create(NewUser::new(EmailAddress::parse("ada@example.com").unwrap(), "Ada").unwrap())
            .await
            .unwrap();
        Self {
            clock,
            repositories,
            queue,
            email,
            service,
            relay,
            orders,
            emails,
            customer,
        }
    }

    fn order(&self, lines: &[(&str, u32)]) -> NewOrder {
        NewOrder::new(
            self.customer.id,
            eur(),
            lines
                .iter()
                .map(|(code, quantity)| NewOrderLine {
                    sku: sku(code),
                    quantity: Quantity::new(*quantity).unwrap(),
                })
                .collect(),
        )
        .unwrap()
    }

    async fn place(&self, lines: &[(&str, u32)]) -> seam_domain::Order {
        self.service
            .place_order(PlaceOrder {
                order: self.order(lines),
                idempotency: None,
                traceparent: None,
            })
            .await
            .unwrap()
            .order
    }

    /// Relays and processes both queues until nothing moves.
    async fn settle(&self) -> Vec<Processed> {
        let mut processed = Vec::new();
        for _ in 0..20 {
            let relayed = self.relay.relay_once().await.unwrap();
            let mut moved = relayed > 0;
            while let Some(outcome) = self.orders.process_next(Duration::ZERO).await.unwrap() {
                processed.push(outcome);
                moved = true;
            }
            while let Some(outcome) = self.emails.process_next(Duration::ZERO).await.unwrap() {
                processed.push(outcome);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        processed
    }

    async fn stock(&self, code: &str) -> i64 {
        self.repositories.inventory.stock(&sku(code)).await.unwrap()
    }
}

#[tokio::test]
async fn an_order_is_confirmed_stock_drops_and_one_email_is_sent() {
    let h = Harness::new().await;
    let order = h.place(&[("MUG", 2), ("CAP", 1)]).await;
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.total, Money::new(2 * 1250 + 999, eur()));

    h.settle().await;
    let stored = h.service.get_order(order.id).await.unwrap();
    assert_eq!(stored.status, OrderStatus::Confirmed);
    assert_eq!(h.stock("MUG").await, 3);
    assert_eq!(h.stock("CAP").await, 0);

    let sent = h.email.sent();
    assert_eq!(sent.len(), 1);
    let message = &sent[0].message;
    assert_eq!(message.to()[0].address().as_str(), "ada@example.com");
    let text = message.text().unwrap();
    assert!(text.contains(&order.id.to_string()), "{text}");
    assert!(text.contains("MUG") && text.contains("34.99 EUR"), "{text}");
}

#[tokio::test]
async fn out_of_stock_rejects_with_a_reason_and_a_rejection_email() {
    let h = Harness::new().await;
    let order = h.place(&[("MUG", 1), ("CAP", 2)]).await;
    h.settle().await;

    let stored = h.service.get_order(order.id).await.unwrap();
    assert_eq!(stored.status, OrderStatus::Rejected);
    assert_eq!(
        stored.rejection_reason.as_deref(),
        Some("out of stock: CAP (ordered 2, 1 available)")
    );
    // All or nothing: the MUG was not taken either.
    assert_eq!(h.stock("MUG").await, 5);
    let sent = h.email.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].message.text().unwrap().contains("out of stock"));
}

#[tokio::test]
async fn a_redelivered_order_created_is_processed_once() {
    let h = Harness::new().await;
    let order = h.place(&[("MUG", 1)]).await;
    h.relay.relay_once().await.unwrap();
    let delivery = h
        .queue
        .receive(ORDERS_QUEUE, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let envelope = delivery.envelope().clone();

    // First handling commits, but the worker "crashes" before acking.
    assert_eq!(
        h.service.handle_order_created(&envelope).await.unwrap(),
        HandleOutcome::Confirmed
    );
    drop(delivery);
    // The broker delivers it again after the visibility timeout.
    h.clock.advance(Duration::from_secs(31));
    let again = h
        .orders
        .process_next(Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, Processed::Acked("Duplicate".to_owned()));

    h.settle().await;
    assert_eq!(h.stock("MUG").await, 4, "stock taken once");
    assert_eq!(h.email.sent().len(), 1, "one e-mail");
    assert_eq!(
        h.service.get_order(order.id).await.unwrap().status,
        OrderStatus::Confirmed
    );
}

#[tokio::test]
async fn the_same_idempotency_key_replays_and_a_different_body_is_refused() {
    let h = Harness::new().await;
    let request = |body: &[u8]| PlaceOrder {
        order: h.order(&[("MUG", 1)]),
        idempotency: Some(("key-1".to_owned(), request_hash(body))),
        traceparent: None,
    };
    let first = h.service.place_order(request(b"body")).await.unwrap();
    let second = h.service.place_order(request(b"body")).await.unwrap();
    assert!(!first.replayed);
    assert!(second.replayed);
    assert_eq!(first.order, second.order);

    let error = h
        .service
        .place_order(request(b"other body"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, OrdersError::IdempotencyMismatch { .. }),
        "{error}"
    );
    assert_eq!(
        seam_core::Classify::kind(&error),
        seam_core::ErrorKind::Invalid
    );
    // One order, one event.
    h.settle().await;
    assert_eq!(h.email.sent().len(), 1);
}

#[tokio::test]
async fn unknown_skus_and_customers_name_the_field() {
    let h = Harness::new().await;
    let error = h
        .service
        .place_order(PlaceOrder {
            order: h.order(&[("MUG", 1), ("NOPE", 1)]),
            idempotency: None,
            traceparent: None,
        })
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "lines[1].sku: unknown SKU NOPE");

    let stranger = NewOrder::new(
        seam_domain::UserId::new(),
        eur(),
        vec![NewOrderLine {
            sku: sku("MUG"),
            quantity: Quantity::new(1).unwrap(),
        }],
    )
    .unwrap();
    let error = h
        .service
        .place_order(PlaceOrder {
            order: stranger,
            idempotency: None,
            traceparent: None,
        })
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("customer_id: no customer with id "),
        "{error}"
    );
}

#[tokio::test]
async fn email_down_retries_then_dead_letters_and_a_replay_delivers_once() {
    let h = Harness::new().await;
    h.place(&[("MUG", 1)]).await;
    for _ in 0..3 {
        h.email
            .fail_next(seam_email::Error::transient("connection refused"));
    }
    // Order confirmed; the e-mail fails three times (max_attempts = 3).
    let mut outcomes = h.settle().await;
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(30));
        outcomes.extend(h.settle().await);
    }
    let retried = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Processed::Retried { .. }))
        .count();
    let dead: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Processed::DeadLettered(reason) => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(retried, 2, "{outcomes:?}");
    assert_eq!(dead.len(), 1, "{outcomes:?}");
    assert!(
        dead[0].starts_with("gave up after 3 deliveries: transient"),
        "{dead:?}"
    );
    assert!(h.email.sent().is_empty());

    let letters = h.queue.list(EMAILS_QUEUE, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    // The server is back: replay delivers exactly once.
    h.queue.replay(letters[0].id).await.unwrap();
    h.settle().await;
    assert_eq!(h.email.sent().len(), 1);
    h.queue.replay_all(EMAILS_QUEUE).await.unwrap();
    h.settle().await;
    assert_eq!(h.email.sent().len(), 1);
}

#[tokio::test]
async fn undecodable_messages_are_dead_lettered_at_once() {
    let h = Harness::new().await;
    let envelope =
        seam_queue::Envelope::new(seam_orders::ORDER_CREATED, serde_json::json!({"nope": 1}));
    seam_queue::Publisher::publish(h.queue.as_ref(), seam_orders::ORDER_CREATED, &envelope)
        .await
        .unwrap();
    let outcome = h
        .orders
        .process_next(Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    match outcome {
        Processed::DeadLettered(reason) => assert!(
            reason.starts_with("invalid: undecodable message"),
            "{reason}"
        ),
        other => panic!("expected a dead letter, got {other:?}"),
    }
}

#[test]
fn retry_delays_grow_and_stay_capped() {
    let schedule = RetrySchedule {
        max_attempts: 10,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
    };
    for deliveries in 1..=10 {
        let full = Duration::from_secs(1 << (deliveries - 1)).min(Duration::from_secs(60));
        let delay = schedule.delay(deliveries);
        assert!(
            delay >= full / 2 && delay <= full,
            "{deliveries}: {delay:?}"
        );
    }
}
