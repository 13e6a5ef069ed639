//! The conformance suite: the contract of every repository trait, checked against any
//! adapter. Every adapter's integration test runs it against its real backend.
//!
//! Call [`run_all`] on one set of ports, or generate one test per check with
//! [`conformance_tests!`](crate::conformance_tests) (each check then gets fresh
//! storage). The checks make their own data (unique e-mail addresses and SKUs), so
//! they also pass on storage that other checks have used.

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use seam_core::{Classify, ErrorKind};
use seam_domain::{
    Currency, EmailAddress, Money, NewUser, Order, OrderId, OrderLine, OrderStatus, Quantity, Sku,
    User, UserId,
};
use uuid::Uuid;

mod files;

pub use files::{
    files_attach_to_orders, files_create_get_list_and_delete,
    files_create_refuses_duplicates_unknown_owners_and_bad_fields,
};

use crate::{
    Error, OutboxMessage, Product, RepositoryPorts, Reservation, Result, SortDirection,
    StoredResponse, UserQuery, UserSort, UserUpdate,
};

/// Runs every check, one after the other, on the same ports.
pub async fn run_all(ports: &RepositoryPorts) {
    users_create_get_and_find(ports).await;
    users_email_is_unique_whatever_its_case(ports).await;
    users_update_checks_the_version(ports).await;
    users_delete(ports).await;
    users_list_paginates_sorts_and_filters(ports).await;
    users_filters_are_literal_and_injection_is_harmless(ports).await;
    inventory_products_and_stock(ports).await;
    orders_insert_and_read(ports).await;
    orders_insert_refuses_duplicates_and_dangling_references(ports).await;
    order_update_is_optimistic(ports).await;
    order_locks_serialise_read_modify_write(ports).await;
    rollback_and_drop_leave_nothing(ports).await;
    reservation_is_all_or_nothing(ports).await;
    concurrent_reservations_of_the_last_unit_have_one_winner(ports).await;
    inbox_records_a_message_once(ports).await;
    inbox_race_has_one_winner(ports).await;
    idempotency_keys_store_once(ports).await;
    idempotency_key_race_has_one_winner(ports).await;
    outbox_claim_lease_release_and_publish(ports).await;
    outbox_concurrent_claimers_never_share_a_message(ports).await;
    outbox_wait_for_work_wakes_on_commit(ports).await;
    files_create_get_list_and_delete(ports).await;
    files_create_refuses_duplicates_unknown_owners_and_bad_fields(ports).await;
    files_attach_to_orders(ports).await;
}

/// Generates one `#[tokio::test]` per conformance check, in a module `conformance`.
///
/// `$setup` and `$teardown` name functions of the calling module:
/// `async fn setup() -> (RepositoryPorts, G)` makes fresh storage, and
/// `async fn teardown(guard: G)` removes it. The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($setup:ident, $teardown:ident) => {
        $crate::conformance_tests!(@checks $setup, $teardown;
            users_create_get_and_find,
            users_email_is_unique_whatever_its_case,
            users_update_checks_the_version,
            users_delete,
            users_list_paginates_sorts_and_filters,
            users_filters_are_literal_and_injection_is_harmless,
            inventory_products_and_stock,
            orders_insert_and_read,
            orders_insert_refuses_duplicates_and_dangling_references,
            order_update_is_optimistic,
            order_locks_serialise_read_modify_write,
            rollback_and_drop_leave_nothing,
            reservation_is_all_or_nothing,
            concurrent_reservations_of_the_last_unit_have_one_winner,
            inbox_records_a_message_once,
            inbox_race_has_one_winner,
            idempotency_keys_store_once,
            idempotency_key_race_has_one_winner,
            outbox_claim_lease_release_and_publish,
            outbox_concurrent_claimers_never_share_a_message,
            outbox_wait_for_work_wakes_on_commit,
            files_create_get_list_and_delete,
            files_create_refuses_duplicates_unknown_owners_and_bad_fields,
            files_attach_to_orders,
        );
    };
    (@checks $setup:ident, $teardown:ident; $($check:ident),+ $(,)?) => {
        mod conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (ports, guard) = super::$setup().await;
                    $crate::conformance::$check(&ports).await;
                    drop(ports);
                    super::$teardown(guard).await;
                }
            )+
        }
    };
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// A short random token that makes names, addresses and SKUs unique per check.
fn token() -> String {
    // The last 12 hex digits of a UUIDv7 are random.
    let simple = Uuid::now_v7().simple().to_string();
    simple[20..].to_owned()
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn email(local: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{local}@example.com")).expect("valid address")
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[track_caller]
fn expect_kind<T: Debug>(result: Result<T>, kind: ErrorKind, what: &str) -> Error {
    match result {
        Ok(value) => panic!("{what}: expected a {kind} error, got Ok({value:?})"),
        Err(error) => {
            assert_eq!(error.kind(), kind, "{what}: wrong kind for {error:?}");
            error
        }
    }
}

async fn create_user(ports: &RepositoryPorts, local: &str, name: &str) -> User {
    ports
        .users
        .create(NewUser::new(email(local), name).expect("valid user"))
        .await
        .expect("create user")
}

async fn create_product(ports: &RepositoryPorts, sku: &str, on_hand: i64) -> Product {
    let product = Product {
        sku: Sku::parse(sku).expect("valid sku"),
        name: format!("Product {sku}"),
        unit_price: Money::new(1250, eur()),
        on_hand,
    };
    ports
        .inventory
        .put_product(&product)
        .await
        .expect("put product");
    product
}

fn quantity(units: u32) -> Quantity {
    Quantity::new(units).expect("valid quantity")
}

fn place(customer: UserId, products: &[(&Product, u32)], at: DateTime<Utc>) -> Order {
    let lines = products
        .iter()
        .map(|(product, units)| OrderLine {
            sku: product.sku.clone(),
            quantity: quantity(*units),
            unit_price: product.unit_price,
        })
        .collect();
    Order::place(OrderId::new(), customer, eur(), lines, at).expect("valid order")
}

async fn insert_committed(ports: &RepositoryPorts, order: &Order) {
    let mut tx = ports.unit_of_work.begin().await.expect("begin");
    tx.insert_order(order).await.expect("insert order");
    tx.commit().await.expect("commit");
}

fn message(routing_key: &str) -> OutboxMessage {
    let mut message = OutboxMessage::new(
        routing_key,
        "OrderPlaced",
        serde_json::json!({"order_id": Uuid::now_v7(), "lines": [{"sku": "MUG", "quantity": 2}]}),
    );
    message.schema_version = 2;
    message.causation_id = Some(Uuid::now_v7());
    message.traceparent =
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
    message.occurred_at = now();
    message
}

/// Publishes whatever the outbox holds, so that a check starts from an empty backlog.
async fn drain_outbox(ports: &RepositoryPorts) {
    for _ in 0..1000 {
        let claimed = ports
            .outbox
            .claim(100, Duration::from_secs(600))
            .await
            .expect("claim");
        if claimed.is_empty() {
            break;
        }
        let ids: Vec<Uuid> = claimed.iter().map(|record| record.message.id).collect();
        ports.outbox.mark_published(&ids).await.expect("publish");
    }
    // Leased by someone else and never released: wait for nobody, publish by hand is
    // impossible, so only an empty claim is required here.
}

async fn add_messages(ports: &RepositoryPorts, messages: &[OutboxMessage]) {
    let mut tx = ports.unit_of_work.begin().await.expect("begin");
    for message in messages {
        tx.add_outbox(message.clone()).await.expect("add outbox");
    }
    tx.commit().await.expect("commit");
}

// ---------------------------------------------------------------------------------------
// Users.

/// `create` assigns id, timestamps and version 1; `get` returns it; `find_by_email`
/// ignores case; unknown ids are `NotFound`.
pub async fn users_create_get_and_find(ports: &RepositoryPorts) {
    let local = format!("ada.{}", token());
    let created = create_user(ports, &local, "Ada Lovelace").await;
    assert_eq!(created.version, 1);
    assert_eq!(created.name, "Ada Lovelace");
    assert_eq!(created.email, email(&local));
    assert_eq!(ports.users.get(created.id).await.unwrap(), created);

    let shouted = email(&local.to_uppercase());
    assert_eq!(
        ports.users.find_by_email(&shouted).await.unwrap(),
        Some(created.clone()),
        "find_by_email must ignore case"
    );
    let nobody = email(&format!("nobody.{}", token()));
    assert_eq!(ports.users.find_by_email(&nobody).await.unwrap(), None);
    let error = expect_kind(
        ports.users.get(UserId::new()).await,
        ErrorKind::NotFound,
        "get of an unknown user",
    );
    assert!(
        matches!(error, Error::NotFound { entity: "user", .. }),
        "{error:?}"
    );
}

/// A second user with the same address in another case is `AlreadyExists`.
pub async fn users_email_is_unique_whatever_its_case(ports: &RepositoryPorts) {
    let local = format!("grace.{}", token());
    let first = create_user(ports, &local, "Grace Hopper").await;
    let again = NewUser::new(email(&local.to_uppercase()), "Someone Else").unwrap();
    let error = expect_kind(
        ports.users.create(again).await,
        ErrorKind::AlreadyExists,
        "create with a taken address",
    );
    assert!(matches!(error, Error::AlreadyExists { .. }), "{error:?}");
    assert_eq!(ports.users.get(first.id).await.unwrap(), first);
}

/// `update` bumps the version; a stale version is `Conflict` and changes nothing; an
/// unknown id is `NotFound`; another user's address is `AlreadyExists`.
pub async fn users_update_checks_the_version(ports: &RepositoryPorts) {
    let t = token();
    let ada = create_user(ports, &format!("ada.{t}"), "Ada").await;
    let bob = create_user(ports, &format!("bob.{t}"), "Bob").await;

    let renamed = ports
        .users
        .update(ada.id, 1, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    assert_eq!(renamed.version, 2);
    assert_eq!(renamed.name, "Ada King");
    assert_eq!(renamed.email, ada.email);
    assert_eq!(renamed.created_at, ada.created_at);
    assert!(renamed.updated_at >= ada.updated_at);
    assert_eq!(ports.users.get(ada.id).await.unwrap(), renamed);

    let error = expect_kind(
        ports
            .users
            .update(ada.id, 1, UserUpdate::new().with_name("Stale").unwrap())
            .await,
        ErrorKind::Conflict,
        "update with a stale version",
    );
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    assert_eq!(ports.users.get(ada.id).await.unwrap(), renamed);

    expect_kind(
        ports
            .users
            .update(
                UserId::new(),
                1,
                UserUpdate::new().with_name("Nobody").unwrap(),
            )
            .await,
        ErrorKind::NotFound,
        "update of an unknown user",
    );

    let clash = UserUpdate::new().with_email(email(&format!("BOB.{t}")));
    expect_kind(
        ports.users.update(ada.id, 2, clash).await,
        ErrorKind::AlreadyExists,
        "update to another user's address",
    );
    assert_eq!(ports.users.get(ada.id).await.unwrap(), renamed);
    assert_eq!(ports.users.get(bob.id).await.unwrap(), bob);

    let moved = email(&format!("ada.king.{t}"));
    let updated = ports
        .users
        .update(ada.id, 2, UserUpdate::new().with_email(moved.clone()))
        .await
        .unwrap();
    assert_eq!(updated.version, 3);
    assert_eq!(updated.email, moved);
    assert_eq!(updated.name, "Ada King");
    assert_eq!(
        ports.users.find_by_email(&moved).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(ports.users.find_by_email(&ada.email).await.unwrap(), None);

    // Changing the case of one's own address is not a clash.
    let own = email(&format!("ADA.KING.{t}"));
    let recased = ports
        .users
        .update(ada.id, 3, UserUpdate::new().with_email(own.clone()))
        .await
        .unwrap();
    assert_eq!(recased.email, own);
    assert_eq!(recased.version, 4);
}

/// `delete` removes; deleting again, or an unknown id, is `NotFound`; a user with orders
/// is `Conflict`.
pub async fn users_delete(ports: &RepositoryPorts) {
    let t = token();
    let user = create_user(ports, &format!("del.{t}"), "Deleted").await;
    ports.users.delete(user.id).await.unwrap();
    expect_kind(
        ports.users.get(user.id).await,
        ErrorKind::NotFound,
        "get after delete",
    );
    expect_kind(
        ports.users.delete(user.id).await,
        ErrorKind::NotFound,
        "delete twice",
    );
    // The address is free again.
    create_user(ports, &format!("del.{t}"), "Back").await;

    let customer = create_user(ports, &format!("cust.{t}"), "Customer").await;
    let product = create_product(ports, &format!("DEL-{t}"), 5).await;
    insert_committed(ports, &place(customer.id, &[(&product, 1)], now())).await;
    expect_kind(
        ports.users.delete(customer.id).await,
        ErrorKind::Conflict,
        "delete of a user with orders",
    );
    assert_eq!(ports.users.get(customer.id).await.unwrap(), customer);
}

/// `list` pages, sorts (ties by id), filters case-insensitively and counts; limits
/// outside 1..=100 are `Invalid`.
pub async fn users_list_paginates_sorts_and_filters(ports: &RepositoryPorts) {
    let t = token();
    let mut created = Vec::new();
    for first in ["Carol", "alice", "Bob", "dave", "Eve"] {
        let local = format!("{}.{t}", first.to_lowercase());
        created.push(create_user(ports, &local, &format!("{t} {first}")).await);
    }
    let names = |page: &crate::Page<User>| -> Vec<String> {
        page.items
            .iter()
            .map(|user| user.name.trim_start_matches(&format!("{t} ")).to_owned())
            .collect()
    };
    let query = |sort, direction, limit, offset| UserQuery {
        email_contains: None,
        name_contains: Some(t.to_uppercase()),
        sort,
        direction,
        limit,
        offset,
    };

    // Byte order: upper case before lower case.
    let first = ports
        .users
        .list(query(UserSort::Name, SortDirection::Asc, 2, 0))
        .await
        .unwrap();
    assert_eq!(names(&first), ["Bob", "Carol"]);
    assert_eq!((first.total, first.limit, first.offset), (5, 2, 0));
    assert!(first.has_more());
    let second = ports
        .users
        .list(query(UserSort::Name, SortDirection::Asc, 2, 2))
        .await
        .unwrap();
    assert_eq!(names(&second), ["Eve", "alice"]);
    let last = ports
        .users
        .list(query(UserSort::Name, SortDirection::Asc, 2, 4))
        .await
        .unwrap();
    assert_eq!(names(&last), ["dave"]);
    assert!(!last.has_more());
    let beyond = ports
        .users
        .list(query(UserSort::Name, SortDirection::Asc, 2, 10))
        .await
        .unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);

    let descending = ports
        .users
        .list(query(UserSort::Name, SortDirection::Desc, 100, 0))
        .await
        .unwrap();
    assert_eq!(names(&descending), ["dave", "alice", "Eve", "Carol", "Bob"]);

    let by_email = ports
        .users
        .list(query(UserSort::Email, SortDirection::Asc, 100, 0))
        .await
        .unwrap();
    assert_eq!(names(&by_email), ["alice", "Bob", "Carol", "dave", "Eve"]);

    let by_creation = ports
        .users
        .list(query(UserSort::CreatedAt, SortDirection::Asc, 100, 0))
        .await
        .unwrap();
    assert_eq!(by_creation.items, created);
    let newest_first = ports
        .users
        .list(query(UserSort::CreatedAt, SortDirection::Desc, 100, 0))
        .await
        .unwrap();
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(newest_first.items, reversed);

    let only_bob = ports
        .users
        .list(UserQuery {
            email_contains: Some(format!("BOB.{t}")),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(only_bob.total, 1);
    assert_eq!(only_bob.items, vec![created[2].clone()]);

    let both_filters = ports
        .users
        .list(UserQuery {
            email_contains: Some("@EXAMPLE.com".to_owned()),
            name_contains: Some(format!("{t} c")),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(both_filters.items, vec![created[0].clone()]);

    for limit in [0, 101] {
        let error = expect_kind(
            ports
                .users
                .list(query(UserSort::Name, SortDirection::Asc, limit, 0))
                .await,
            ErrorKind::Invalid,
            "list with a limit out of range",
        );
        assert!(
            matches!(error, Error::Invalid { ref field, .. } if field == "limit"),
            "{error:?}"
        );
    }
}

/// Filters are data: wildcards and quotes match themselves, and SQL in a filter does
/// nothing but fail to match.
pub async fn users_filters_are_literal_and_injection_is_harmless(ports: &RepositoryPorts) {
    let t = token();
    let percent = create_user(ports, &format!("pct.{t}"), &format!("{t} 100%_off O'Brien")).await;
    let plain = create_user(ports, &format!("plain.{t}"), &format!("{t} 1000 off")).await;

    for attack in [
        "' OR '1'='1",
        "' OR 1=1 --",
        "'; DROP TABLE users; --",
        "\") OR 1=1 --",
        "%",
        "_",
        "%%",
        "\\",
        "*",
    ] {
        for (email_contains, name_contains) in [
            (None, Some(attack.to_owned())),
            (Some(attack.to_owned()), None),
        ] {
            let page = ports
                .users
                .list(UserQuery {
                    email_contains,
                    name_contains,
                    ..UserQuery::default()
                })
                .await
                .unwrap_or_else(|error| panic!("filter {attack:?} failed: {error}"));
            assert!(
                page.items
                    .iter()
                    .all(|user| user.name.contains(attack) || user.email.as_str().contains(attack)),
                "filter {attack:?} matched users that do not contain it: {:?}",
                page.items
            );
            assert_eq!(
                page.total as usize,
                page.items.len().min(page.total as usize)
            );
        }
    }
    // The table is still there, and the users in it.
    assert_eq!(ports.users.get(plain.id).await.unwrap(), plain);

    let literal = |needle: String| UserQuery {
        name_contains: Some(needle),
        ..UserQuery::default()
    };
    let found = ports
        .users
        .list(literal(format!("{t} 100%_off")))
        .await
        .unwrap();
    assert_eq!(found.items, vec![percent.clone()]);
    let found = ports
        .users
        .list(literal(format!("{t} 100%")))
        .await
        .unwrap();
    assert_eq!(found.items, vec![percent.clone()], "'%' is not a wildcard");
    let found = ports.users.list(literal(format!("{t} 1_0"))).await.unwrap();
    assert!(found.items.is_empty(), "'_' is not a wildcard");
    let found = ports
        .users
        .list(literal("o'brien".to_owned()))
        .await
        .unwrap();
    assert!(found.items.contains(&percent), "quotes match themselves");
}

// ---------------------------------------------------------------------------------------
// Inventory.

/// Products and stock: read, list in the order asked, set; unknown SKUs and negative
/// counts refused.
pub async fn inventory_products_and_stock(ports: &RepositoryPorts) {
    let t = token();
    let product = create_product(ports, &format!("INV-{t}"), 7).await;
    let other = create_product(ports, &format!("INV-{t}-B"), 0).await;
    let unknown = Sku::parse(&format!("NONE-{t}")).unwrap();
    let inventory = &ports.inventory;

    assert_eq!(
        inventory.product(&product.sku).await.unwrap(),
        Some(product.clone())
    );
    assert_eq!(inventory.product(&unknown).await.unwrap(), None);
    assert_eq!(
        inventory
            .products(&[
                other.sku.clone(),
                unknown.clone(),
                product.sku.clone(),
                other.sku.clone()
            ])
            .await
            .unwrap(),
        vec![other.clone(), product.clone()]
    );
    assert_eq!(inventory.products(&[]).await.unwrap(), vec![]);

    assert_eq!(inventory.stock(&product.sku).await.unwrap(), 7);
    inventory.set_stock(&product.sku, 3).await.unwrap();
    assert_eq!(inventory.stock(&product.sku).await.unwrap(), 3);
    assert_eq!(
        inventory
            .product(&product.sku)
            .await
            .unwrap()
            .map(|p| p.on_hand),
        Some(3)
    );
    expect_kind(
        inventory.set_stock(&product.sku, -1).await,
        ErrorKind::Invalid,
        "negative stock",
    );
    assert_eq!(inventory.stock(&product.sku).await.unwrap(), 3);
    expect_kind(
        inventory.stock(&unknown).await,
        ErrorKind::NotFound,
        "stock of unknown",
    );
    expect_kind(
        inventory.set_stock(&unknown, 1).await,
        ErrorKind::NotFound,
        "set_stock of unknown",
    );

    let renamed = Product {
        name: "Renamed".to_owned(),
        unit_price: Money::new(999, eur()),
        on_hand: 11,
        ..product.clone()
    };
    inventory.put_product(&renamed).await.unwrap();
    assert_eq!(
        inventory.product(&product.sku).await.unwrap(),
        Some(renamed.clone())
    );
    let negative = Product {
        unit_price: Money::new(-1, eur()),
        ..renamed.clone()
    };
    expect_kind(
        inventory.put_product(&negative).await,
        ErrorKind::Invalid,
        "negative price",
    );
    assert_eq!(
        inventory.product(&product.sku).await.unwrap(),
        Some(renamed)
    );
}

// ---------------------------------------------------------------------------------------
// Orders.

/// An inserted order reads back equal, lines in order; a customer's orders list newest
/// first with a total.
pub async fn orders_insert_and_read(ports: &RepositoryPorts) {
    let t = token();
    let customer = create_user(ports, &format!("orders.{t}"), "Customer").await;
    let mug = create_product(ports, &format!("MUG-{t}"), 50).await;
    let cap = create_product(ports, &format!("CAP-{t}"), 50).await;
    let base = now() - chrono::Duration::hours(1);

    let mut orders = Vec::new();
    for i in 0..3 {
        let order = place(
            customer.id,
            &[(&mug, 2), (&cap, 1 + i)],
            base + chrono::Duration::seconds(i64::from(i)),
        );
        insert_committed(ports, &order).await;
        orders.push(order);
    }
    let read = ports.orders.get(orders[0].id).await.unwrap();
    assert_eq!(read.as_ref(), Some(&orders[0]));
    let read = read.unwrap();
    assert_eq!(read.lines.len(), 2);
    assert_eq!(read.lines[0].sku, mug.sku, "lines keep their order");
    assert_eq!(read.status, OrderStatus::Pending);
    assert_eq!(ports.orders.get(OrderId::new()).await.unwrap(), None);

    let first = ports
        .orders
        .list_by_customer(customer.id, 2, 0)
        .await
        .unwrap();
    assert_eq!(first.total, 3);
    assert_eq!(first.items, vec![orders[2].clone(), orders[1].clone()]);
    let second = ports
        .orders
        .list_by_customer(customer.id, 2, 2)
        .await
        .unwrap();
    assert_eq!(second.items, vec![orders[0].clone()]);
    let nobody = ports
        .orders
        .list_by_customer(UserId::new(), 10, 0)
        .await
        .unwrap();
    assert_eq!((nobody.total, nobody.items.len()), (0, 0));
    for limit in [0, 101] {
        expect_kind(
            ports.orders.list_by_customer(customer.id, limit, 0).await,
            ErrorKind::Invalid,
            "list_by_customer with a limit out of range",
        );
    }
}

/// Inserting an existing id is `AlreadyExists`; an unknown customer or SKU is `Conflict`.
pub async fn orders_insert_refuses_duplicates_and_dangling_references(ports: &RepositoryPorts) {
    let t = token();
    let customer = create_user(ports, &format!("dup.{t}"), "Customer").await;
    let mug = create_product(ports, &format!("DUP-{t}"), 5).await;
    let order = place(customer.id, &[(&mug, 1)], now());
    insert_committed(ports, &order).await;

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    expect_kind(
        tx.insert_order(&order).await,
        ErrorKind::AlreadyExists,
        "insert of an existing order",
    );
    tx.rollback().await.unwrap();

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    expect_kind(
        tx.insert_order(&place(UserId::new(), &[(&mug, 1)], now()))
            .await,
        ErrorKind::Conflict,
        "insert for an unknown customer",
    );
    tx.rollback().await.unwrap();

    let ghost = Product {
        sku: Sku::parse(&format!("GHOST-{t}")).unwrap(),
        ..mug.clone()
    };
    let dangling = place(customer.id, &[(&mug, 1), (&ghost, 1)], now());
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    expect_kind(
        tx.insert_order(&dangling).await,
        ErrorKind::Conflict,
        "insert with an unknown product",
    );
    tx.rollback().await.unwrap();
    assert_eq!(ports.orders.get(dangling.id).await.unwrap(), None);
}

/// `update_order` bumps the version and stores the new state; a stale version is
/// `Conflict`; an unknown order is `NotFound`.
pub async fn order_update_is_optimistic(ports: &RepositoryPorts) {
    let t = token();
    let customer = create_user(ports, &format!("upd.{t}"), "Customer").await;
    let mug = create_product(ports, &format!("UPD-{t}"), 5).await;
    let order = place(customer.id, &[(&mug, 1)], now());
    insert_committed(ports, &order).await;

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    let mut locked = tx
        .get_order_for_update(order.id)
        .await
        .unwrap()
        .expect("the order");
    assert_eq!(locked, order);
    let later = now() + chrono::Duration::seconds(1);
    locked.reject("out of stock: MUG", later).unwrap();
    let stored = tx.update_order(&locked, 1).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.status, OrderStatus::Rejected);
    assert_eq!(
        stored.rejection_reason.as_deref(),
        Some("out of stock: MUG")
    );
    assert_eq!(stored.updated_at, later);
    assert_eq!(stored.lines, order.lines);
    assert_eq!(tx.get_order_for_update(OrderId::new()).await.unwrap(), None);
    tx.commit().await.unwrap();
    assert_eq!(
        ports.orders.get(order.id).await.unwrap(),
        Some(stored.clone())
    );

    let mut stale = order.clone();
    stale.confirm(now()).unwrap();
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    let error = expect_kind(
        tx.update_order(&stale, 1).await,
        ErrorKind::Conflict,
        "update_order with a stale version",
    );
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    tx.rollback().await.unwrap();
    assert_eq!(ports.orders.get(order.id).await.unwrap(), Some(stored));

    let unknown = place(customer.id, &[(&mug, 1)], now());
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    expect_kind(
        tx.update_order(&unknown, 1).await,
        ErrorKind::NotFound,
        "update_order of an unknown order",
    );
    tx.rollback().await.unwrap();
}

/// Transactions that read an order with `get_order_for_update` and write it back with
/// the version they read never conflict: the lock makes the second wait for the first.
pub async fn order_locks_serialise_read_modify_write(ports: &RepositoryPorts) {
    let t = token();
    let customer = create_user(ports, &format!("lock.{t}"), "Customer").await;
    let mug = create_product(ports, &format!("LOCK-{t}"), 5).await;
    let order = place(customer.id, &[(&mug, 1)], now());
    insert_committed(ports, &order).await;

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let unit_of_work = ports.unit_of_work.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = unit_of_work.begin().await?;
            let mut locked = tx
                .get_order_for_update(order.id)
                .await?
                .expect("the order exists");
            tokio::task::yield_now().await;
            locked.updated_at = now();
            let version = locked.version;
            tx.update_order(&locked, version).await?;
            tx.commit().await?;
            Ok::<(), Error>(())
        }));
    }
    for task in tasks {
        task.await
            .expect("task")
            .expect("a locked read-modify-write never conflicts");
    }
    let stored = ports
        .orders
        .get(order.id)
        .await
        .unwrap()
        .expect("the order");
    assert_eq!(
        stored.version, 5,
        "every update applied, one after the other"
    );
}

// ---------------------------------------------------------------------------------------
// Transactions.

/// Rolling back, or dropping, a transaction leaves no order, stock change, outbox
/// message, inbox record or idempotency key behind.
pub async fn rollback_and_drop_leave_nothing(ports: &RepositoryPorts) {
    let t = token();
    let customer = create_user(ports, &format!("rb.{t}"), "Customer").await;
    let mug = create_product(ports, &format!("RB-{t}"), 5).await;
    let backlog = ports.outbox.backlog().await.unwrap();

    for explicit in [true, false] {
        let order = place(customer.id, &[(&mug, 2)], now());
        let outbox = message("orders.placed");
        let inbox_id = Uuid::now_v7();
        let key = format!("key-{}", token());
        let mut tx = ports.unit_of_work.begin().await.unwrap();
        tx.insert_order(&order).await.unwrap();
        assert_eq!(
            tx.reserve_stock(&[(mug.sku.clone(), quantity(2))])
                .await
                .unwrap(),
            Reservation::Reserved
        );
        tx.add_outbox(outbox.clone()).await.unwrap();
        assert!(tx.record_inbox("conformance", inbox_id).await.unwrap());
        tx.save_idempotency(
            "orders",
            &key,
            StoredResponse {
                request_hash: "h".to_owned(),
                status_code: 201,
                body: serde_json::json!({"id": order.id}),
            },
        )
        .await
        .unwrap();
        // Not visible before commit.
        assert_eq!(ports.orders.get(order.id).await.unwrap(), None);
        if explicit {
            tx.rollback().await.unwrap();
        } else {
            drop(tx);
        }

        let how = if explicit { "rollback" } else { "drop" };
        assert_eq!(ports.orders.get(order.id).await.unwrap(), None, "{how}");
        assert_eq!(ports.inventory.stock(&mug.sku).await.unwrap(), 5, "{how}");
        assert_eq!(ports.outbox.backlog().await.unwrap(), backlog, "{how}");
        let mut tx = ports.unit_of_work.begin().await.unwrap();
        assert!(
            tx.record_inbox("conformance", inbox_id).await.unwrap(),
            "{how}"
        );
        assert_eq!(tx.idempotency("orders", &key).await.unwrap(), None, "{how}");
        tx.rollback().await.unwrap();
    }
}

/// A reservation short of one SKU reserves nothing and says which SKU and how many are
/// left; a full one takes every line out of stock.
pub async fn reservation_is_all_or_nothing(ports: &RepositoryPorts) {
    let t = token();
    let a = create_product(ports, &format!("RES-{t}-A"), 5).await;
    let b = create_product(ports, &format!("RES-{t}-B"), 1).await;
    let inventory = &ports.inventory;

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    // Listed out of SKU order on purpose.
    let outcome = tx
        .reserve_stock(&[(b.sku.clone(), quantity(2)), (a.sku.clone(), quantity(3))])
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Reservation::Insufficient {
            sku: b.sku.clone(),
            requested: quantity(2),
            available: 1,
        }
    );
    // The transaction is still usable, and nothing was taken.
    let outcome = tx
        .reserve_stock(&[(a.sku.clone(), quantity(3)), (b.sku.clone(), quantity(1))])
        .await
        .unwrap();
    assert_eq!(outcome, Reservation::Reserved);
    tx.commit().await.unwrap();
    assert_eq!(inventory.stock(&a.sku).await.unwrap(), 2);
    assert_eq!(inventory.stock(&b.sku).await.unwrap(), 0);

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    let outcome = tx
        .reserve_stock(&[(a.sku.clone(), quantity(3))])
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Reservation::Insufficient {
            sku: a.sku.clone(),
            requested: quantity(3),
            available: 2,
        }
    );
    let unknown = Sku::parse(&format!("RES-{t}-NONE")).unwrap();
    let outcome = tx
        .reserve_stock(&[(unknown.clone(), quantity(1))])
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Reservation::Insufficient {
            sku: unknown,
            requested: quantity(1),
            available: 0,
        }
    );
    assert_eq!(
        tx.reserve_stock(&[(a.sku.clone(), quantity(2))])
            .await
            .unwrap(),
        Reservation::Reserved
    );
    tx.rollback().await.unwrap();
    assert_eq!(inventory.stock(&a.sku).await.unwrap(), 2);
}

/// Eight transactions race for the last unit: exactly one gets it, and stock ends at
/// zero, never below.
pub async fn concurrent_reservations_of_the_last_unit_have_one_winner(ports: &RepositoryPorts) {
    let t = token();
    let product = create_product(ports, &format!("LAST-{t}"), 1).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let unit_of_work = ports.unit_of_work.clone();
        let sku = product.sku.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = unit_of_work.begin().await?;
            let outcome = tx.reserve_stock(&[(sku, quantity(1))]).await?;
            if outcome.is_reserved() {
                tx.commit().await?;
                Ok::<bool, Error>(true)
            } else {
                tx.rollback().await?;
                Ok(false)
            }
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.expect("task").expect("reservation") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one transaction gets the last unit");
    assert_eq!(ports.inventory.stock(&product.sku).await.unwrap(), 0);
}

/// `record_inbox` is `true` the first time a consumer records a message, `false` after.
pub async fn inbox_records_a_message_once(ports: &RepositoryPorts) {
    let id = Uuid::now_v7();
    let consumer = format!("worker-{}", token());
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    assert!(tx.record_inbox(&consumer, id).await.unwrap());
    assert!(
        !tx.record_inbox(&consumer, id).await.unwrap(),
        "same transaction"
    );
    tx.commit().await.unwrap();

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    assert!(
        !tx.record_inbox(&consumer, id).await.unwrap(),
        "after commit"
    );
    assert!(
        tx.record_inbox("another-consumer", id).await.unwrap(),
        "each consumer has its own inbox"
    );
    assert!(tx.record_inbox(&consumer, Uuid::now_v7()).await.unwrap());
    expect_kind(
        tx.record_inbox(" ", id).await,
        ErrorKind::Invalid,
        "blank consumer",
    );
    tx.rollback().await.unwrap();
}

/// Two transactions racing to record the same message: exactly one gets `true`.
pub async fn inbox_race_has_one_winner(ports: &RepositoryPorts) {
    let id = Uuid::now_v7();
    let consumer = format!("racer-{}", token());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let unit_of_work = ports.unit_of_work.clone();
        let consumer = consumer.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = unit_of_work.begin().await?;
            let first = tx.record_inbox(&consumer, id).await?;
            tx.commit().await?;
            Ok::<bool, Error>(first)
        }));
    }
    let mut firsts = 0;
    for task in tasks {
        if task.await.expect("task").expect("record inbox") {
            firsts += 1;
        }
    }
    assert_eq!(
        firsts, 1,
        "exactly one transaction records the message first"
    );
}

fn response(hash: &str, status_code: u16) -> StoredResponse {
    StoredResponse {
        request_hash: hash.to_owned(),
        status_code,
        body: serde_json::json!({"hash": hash, "nested": {"list": [1, 2, 3]}}),
    }
}

/// An idempotency key stores one response, read back equal; saving it again is
/// `AlreadyExists`; keys are per scope.
pub async fn idempotency_keys_store_once(ports: &RepositoryPorts) {
    let key = format!("key-{}", token());
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    assert_eq!(tx.idempotency("orders", &key).await.unwrap(), None);
    tx.save_idempotency("orders", &key, response("first", 201))
        .await
        .unwrap();
    assert_eq!(
        tx.idempotency("orders", &key).await.unwrap(),
        Some(response("first", 201))
    );
    tx.commit().await.unwrap();

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    assert_eq!(
        tx.idempotency("orders", &key).await.unwrap(),
        Some(response("first", 201))
    );
    let error = expect_kind(
        tx.save_idempotency("orders", &key, response("second", 200))
            .await,
        ErrorKind::AlreadyExists,
        "saving a stored key",
    );
    assert!(matches!(error, Error::AlreadyExists { .. }), "{error:?}");
    // The transaction is still usable.
    assert_eq!(tx.idempotency("users", &key).await.unwrap(), None);
    tx.save_idempotency("users", &key, response("users", 200))
        .await
        .unwrap();
    expect_kind(
        tx.save_idempotency("users", "other", response("x", 700))
            .await,
        ErrorKind::Invalid,
        "a status code out of range",
    );
    tx.rollback().await.unwrap();
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    assert_eq!(
        tx.idempotency("orders", &key).await.unwrap(),
        Some(response("first", 201))
    );
    expect_kind(
        tx.idempotency("orders", "").await,
        ErrorKind::Invalid,
        "an empty key",
    );
    tx.rollback().await.unwrap();
}

/// Two transactions race to store the same key: one stores, the other sees it stored
/// (or gets `AlreadyExists`), and the winner's response is kept.
pub async fn idempotency_key_race_has_one_winner(ports: &RepositoryPorts) {
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Saved(String),
        Found,
        Clashed,
    }
    let key = format!("race-{}", token());
    let mut tasks = Vec::new();
    for contender in ["left", "right"] {
        let unit_of_work = ports.unit_of_work.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = unit_of_work.begin().await?;
            if tx.idempotency("orders", &key).await?.is_some() {
                tx.rollback().await?;
                return Ok::<Outcome, Error>(Outcome::Found);
            }
            match tx
                .save_idempotency("orders", &key, response(contender, 201))
                .await
            {
                Ok(()) => {
                    tx.commit().await?;
                    Ok(Outcome::Saved(contender.to_owned()))
                }
                Err(Error::AlreadyExists { .. }) => {
                    tx.rollback().await?;
                    Ok(Outcome::Clashed)
                }
                Err(other) => Err(other),
            }
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("idempotency race"));
    }
    let winners: Vec<&String> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Saved(who) => Some(who),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    assert_eq!(
        tx.idempotency("orders", &key).await.unwrap(),
        Some(response(winners[0], 201))
    );
    tx.rollback().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Outbox.

/// Committed messages are claimed with a lease, not claimed again while leased, claimed
/// again after `release` (with the attempt counted) or once the lease expired, and gone
/// once published.
pub async fn outbox_claim_lease_release_and_publish(ports: &RepositoryPorts) {
    drain_outbox(ports).await;
    let outbox = &ports.outbox;
    let lease = Duration::from_secs(60);
    assert_eq!(outbox.backlog().await.unwrap(), 0);
    assert!(outbox.claim(10, lease).await.unwrap().is_empty());

    let messages: Vec<OutboxMessage> = (0..3).map(|_| message("orders.placed")).collect();
    add_messages(ports, &messages).await;
    assert_eq!(outbox.backlog().await.unwrap(), 3);

    let mut tx = ports.unit_of_work.begin().await.unwrap();
    expect_kind(
        tx.add_outbox(messages[0].clone()).await,
        ErrorKind::AlreadyExists,
        "a message id already in the outbox",
    );
    tx.rollback().await.unwrap();
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    expect_kind(
        tx.add_outbox(OutboxMessage {
            id: Uuid::now_v7(),
            routing_key: " ".to_owned(),
            ..messages[0].clone()
        })
        .await,
        ErrorKind::Invalid,
        "a blank routing key",
    );
    tx.rollback().await.unwrap();

    let first = outbox.claim(2, lease).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = outbox.claim(10, lease).await.unwrap();
    assert_eq!(rest.len(), 1, "leased messages are not claimed again");
    assert!(outbox.claim(10, lease).await.unwrap().is_empty());
    assert_eq!(outbox.backlog().await.unwrap(), 3, "leased still counts");

    let mut claimed: Vec<_> = first.iter().chain(&rest).collect();
    claimed.sort_by_key(|record| record.message.id);
    let mut expected = messages.clone();
    expected.sort_by_key(|message| message.id);
    for (record, message) in claimed.iter().zip(&expected) {
        assert_eq!(&record.message, message, "the message reads back equal");
        assert_eq!(record.attempts, 0);
        assert_eq!(record.last_error, None);
    }

    let failed = first[0].message.id;
    outbox.release(failed, "broker down").await.unwrap();
    let again = outbox.claim(10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.id, failed);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("broker down"));
    expect_kind(
        outbox.release(Uuid::now_v7(), "x").await,
        ErrorKind::NotFound,
        "release of an unknown message",
    );

    let ids: Vec<Uuid> = messages.iter().map(|message| message.id).collect();
    outbox.mark_published(&ids).await.unwrap();
    outbox.mark_published(&[Uuid::now_v7()]).await.unwrap();
    assert_eq!(outbox.backlog().await.unwrap(), 0);
    assert!(outbox.claim(10, lease).await.unwrap().is_empty());
    for limit in [0, 101] {
        expect_kind(
            outbox.claim(limit, lease).await,
            ErrorKind::Invalid,
            "claim with a limit out of range",
        );
    }

    // A lease that runs out makes the message claimable again.
    let short = message("orders.confirmed");
    add_messages(ports, std::slice::from_ref(&short)).await;
    let claimed = outbox.claim(10, Duration::ZERO).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let mut reclaimed = Vec::new();
    for _ in 0..500 {
        reclaimed = outbox.claim(10, lease).await.unwrap();
        if !reclaimed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(reclaimed.len(), 1, "an expired lease is claimable again");
    assert_eq!(reclaimed[0].message.id, short.id);
    outbox.mark_published(&[short.id]).await.unwrap();
}

/// Two relays claiming at the same time never get the same message.
pub async fn outbox_concurrent_claimers_never_share_a_message(ports: &RepositoryPorts) {
    drain_outbox(ports).await;
    let messages: Vec<OutboxMessage> = (0..40).map(|_| message("orders.placed")).collect();
    add_messages(ports, &messages).await;

    let mut tasks = Vec::new();
    for _ in 0..2 {
        let outbox = ports.outbox.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..100 {
                let claimed = outbox.claim(3, Duration::from_secs(60)).await?;
                if claimed.is_empty() {
                    break;
                }
                mine.extend(claimed.into_iter().map(|record| record.message.id));
                tokio::task::yield_now().await;
            }
            Ok::<Vec<Uuid>, Error>(mine)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task").expect("claim"));
    }
    let distinct: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a message was claimed twice");
    let expected: HashSet<Uuid> = messages.iter().map(|message| message.id).collect();
    assert_eq!(distinct, expected);
    ports.outbox.mark_published(&all).await.unwrap();
}

/// `wait_for_work` times out with `false` when there is nothing to claim, returns `true`
/// at once when there is, and wakes a waiter when a transaction adding a message commits.
pub async fn outbox_wait_for_work_wakes_on_commit(ports: &RepositoryPorts) {
    drain_outbox(ports).await;
    assert!(
        !ports
            .outbox
            .wait_for_work(Duration::from_millis(20))
            .await
            .unwrap(),
        "nothing to claim"
    );

    let outbox = ports.outbox.clone();
    let waiter = tokio::spawn(async move { outbox.wait_for_work(Duration::from_secs(30)).await });
    tokio::task::yield_now().await;
    let added = message("orders.placed");
    add_messages(ports, std::slice::from_ref(&added)).await;
    assert!(
        waiter.await.expect("task").unwrap(),
        "the commit wakes the waiter"
    );
    assert!(
        ports
            .outbox
            .wait_for_work(Duration::from_secs(30))
            .await
            .unwrap(),
        "a claimable message answers at once"
    );
    drain_outbox(ports).await;
}
