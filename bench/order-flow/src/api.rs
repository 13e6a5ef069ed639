//! Benchmark 1: `POST /v1/orders` on Postgres, `seam-api` beside a floor.
//!
//! The floor is the least a server can do for the same request: raw axum + sqlx,
//! the same JSON parsing and field checks, the same lookups (customer, priced
//! products) and the same inserts (order, its lines, the outbox row with its
//! `pg_notify`) in one transaction, answering 201 with the order as JSON. It has no
//! middleware, no ports, no metrics and no tracing.
//!
//! The compared seam-api runs with `cache.backend = "none"`, so that it too reads the
//! customer from the database; seam-api with its default in-process user cache (which
//! skips that query) is measured as well and shown apart, not compared.

use std::collections::HashSet;

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{SubsecRound, Utc};
use seam_sql::sqlx::{self, PgPool, Postgres, QueryBuilder, Row};
use seam_sql::{DEMO_CUSTOMER_ID, SqlConfig};
use seam_wiring::{CacheBackend, DatabaseBackend, Settings};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::database::BenchDatabase;
use crate::load::{self, LoadTotal};
use crate::stats::{Verdict, mark, ms};

/// Requests measured per server.
const REQUESTS_FULL: usize = 5_000;
/// Requests per server before measuring.
const WARM_UP_FULL: usize = 500;
/// How many slices each server's requests are sent in, alternating servers.
const SLICES: usize = 10;
/// Concurrent client connections.
const CONNECTIONS: usize = 16;
/// The target: at least this fraction of the floor's throughput.
const TARGET_RATIO: f64 = 0.8;

/// The request both servers get: two lines, no idempotency key.
const BODY: &str = r#"{"customer_id":"01900000-0000-7000-8000-000000000ada","currency":"EUR","lines":[{"sku":"MUG-SEAM","quantity":1},{"sku":"STICKERS-10","quantity":2}]}"#;

/// Runs the benchmark on a fresh database, which is dropped afterwards.
pub(crate) async fn run() -> anyhow::Result<Verdict> {
    debug_assert!(BODY.contains(&DEMO_CUSTOMER_ID.to_string()));
    let database = BenchDatabase::create().await?;
    let result = measure(&database).await;
    database.drop().await;
    result
}

/// seam-api in this process, until stopped.
struct Running {
    url: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(settings: Settings) -> anyhow::Result<Self> {
        let application = seam_api::Application::build(settings)
            .await
            .context("building seam-api")?;
        Ok(Self {
            url: format!("http://{}/v1/orders", application.local_addr()),
            stop: application.shutdown_token(),
            task: tokio::spawn(application.run_until_stopped()),
        })
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn measure(database: &BenchDatabase) -> anyhow::Result<Verdict> {
    let data_dir = std::env::temp_dir().join(format!("seam-bench-{}", uuid::Uuid::now_v7()));
    let mut settings = Settings {
        data_dir: data_dir.clone(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.worker.port = 0;
    settings.database.backend = DatabaseBackend::Postgres;
    settings.database.url = Some(database.url().into());
    let pool_size = settings.database.max_connections;
    // seam-api protects /v1/orders: the load carries a token from its own issuer (the
    // development key under `data_dir`, which both servers below share).
    let mut token_request = seam_wiring::auth::TokenRequest::new("bench");
    token_request.ttl = Some(std::time::Duration::from_secs(3600));
    let token = seam_wiring::auth::issue_token(&settings, &token_request)
        .context("issuing the bench's access token")?;
    let authorization = format!(
        "Bearer {}",
        seam_core::ExposeSecret::expose_secret(&token.token)
    );
    // The compared server looks the customer up in the database, as the floor does;
    // the default in-process user cache skips that query, so it is shown apart.
    let cached = Running::start(settings.clone()).await?;
    settings.cache.backend = CacheBackend::None;
    let uncached = match Running::start(settings).await {
        Ok(running) => running,
        Err(error) => {
            cached.stop().await;
            return Err(error);
        }
    };

    // The floor gets a pool of its own, of the same size.
    let floor_pool = seam_sql::Database::connect(&SqlConfig {
        max_connections: pool_size,
        ..SqlConfig::new(database.url())
    })
    .await
    .context("connecting the floor's pool")?;
    let floor_pool = floor_pool
        .as_postgres()
        .context("the floor needs Postgres")?
        .clone();
    let floor_stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let floor_url = format!("http://{}/v1/orders", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/v1/orders", axum::routing::post(floor_place_order))
        .with_state(floor_pool.clone());
    let floor_task = tokio::spawn({
        let stop = floor_stop.clone();
        async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    });

    let result = drive(&uncached.url, &cached.url, &floor_url, &authorization).await;

    uncached.stop().await;
    cached.stop().await;
    floor_stop.cancel();
    let _ = floor_task.await;
    floor_pool.close().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

async fn drive(
    seam_url: &str,
    cached_url: &str,
    floor_url: &str,
    authorization: &str,
) -> anyhow::Result<Verdict> {
    let client = load::client(CONNECTIONS, Some(authorization))?;
    let (requests, warm_up) = (requests(), warm_up());
    println!(
        "== 1. POST /v1/orders on Postgres: {requests} requests per server over {CONNECTIONS} connections, after {warm_up} warm-up"
    );
    for url in [seam_url, cached_url, floor_url] {
        load::post(&client, url, BODY, warm_up, CONNECTIONS, 201).await?;
    }
    // Slices in alternating, mirrored order, so that load from elsewhere on the machine
    // and the growing tables fall on every server alike.
    let (mut seam, mut cached, mut floor) = (
        LoadTotal::default(),
        LoadTotal::default(),
        LoadTotal::default(),
    );
    for slice in 0..SLICES {
        let size = requests / SLICES + usize::from(slice < requests % SLICES);
        let order = if slice % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for which in order {
            let (url, total) = match which {
                0 => (floor_url, &mut floor),
                1 => (seam_url, &mut seam),
                _ => (cached_url, &mut cached),
            };
            total.add(load::post(&client, url, BODY, size, CONNECTIONS, 201).await?);
        }
    }

    for (name, total) in [
        ("seam-api", &seam),
        ("floor (axum+sqlx)", &floor),
        ("seam-api, default user cache (not compared)", &cached),
    ] {
        let latencies = total.latencies();
        println!(
            "   {:>8.0} req/s   p50 {:>9}   p99 {:>9}   max {:>9}   {name} ({} requests)",
            total.rate(),
            ms(latencies.percentile(50.0)),
            ms(latencies.percentile(99.0)),
            ms(latencies.max()),
            latencies.len(),
        );
    }
    let ratio = seam.rate() / floor.rate();
    let met = ratio >= TARGET_RATIO;
    println!(
        "   seam-api / floor = {ratio:.2}x (target >= {TARGET_RATIO:.1}x): {}",
        mark(met)
    );
    Ok(Verdict {
        name: "POST /v1/orders",
        figure: format!(
            "{:.0} req/s vs floor {:.0} req/s = {ratio:.2}x (target >= {TARGET_RATIO:.1}x); p99 {} vs {}",
            seam.rate(),
            floor.rate(),
            ms(seam.latencies().percentile(99.0)),
            ms(floor.latencies().percentile(99.0)),
        ),
        met,
    })
}

/// The floor's request: the fields of seam-api's `PlaceOrderRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorRequest {
    customer_id: String,
    currency: String,
    lines: Vec<FloorLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorLine {
    sku: String,
    quantity: i64,
}

fn unprocessable(message: impl Into<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "detail": message.into() })),
    )
        .into_response()
}

fn failed(error: sqlx::Error) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "detail": error.to_string() })),
    )
        .into_response()
}

/// Checks the request as the domain does: a UUID, an ISO-looking currency, 1 to 100
/// lines with distinct well-formed SKUs and quantities 1 to 10000.
fn validate(request: &FloorRequest) -> Result<uuid::Uuid, String> {
    let customer = request
        .customer_id
        .parse::<uuid::Uuid>()
        .map_err(|error| format!("customer_id: {error}"))?;
    if request.currency.len() != 3 || !request.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("currency: expected an ISO 4217 code".to_owned());
    }
    if request.lines.is_empty() || request.lines.len() > 100 {
        return Err("lines: 1 to 100 lines".to_owned());
    }
    let mut seen = HashSet::with_capacity(request.lines.len());
    for (index, line) in request.lines.iter().enumerate() {
        let sku_ok = (1..=64).contains(&line.sku.len())
            && line
                .sku
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !sku_ok {
            return Err(format!("lines[{index}].sku: malformed"));
        }
        if !(1..=10_000).contains(&line.quantity) {
            return Err(format!("lines[{index}].quantity: 1 to 10000"));
        }
        if !seen.insert(line.sku.as_str()) {
            return Err(format!("lines[{index}].sku: repeated"));
        }
    }
    Ok(customer)
}

async fn floor_place_order(
    State(pool): State<PgPool>,
    Json(request): Json<FloorRequest>,
) -> Response {
    let customer = match validate(&request) {
        Ok(customer) => customer,
        Err(message) => return unprocessable(message),
    };
    match place(&pool, customer, &request).await {
        Ok(response) => response,
        Err(error) => failed(error),
    }
}

async fn place(
    pool: &PgPool,
    customer: uuid::Uuid,
    request: &FloorRequest,
) -> Result<Response, sqlx::Error> {
    let known = sqlx::query("SELECT id, email, name FROM users WHERE id = $1")
        .bind(customer)
        .fetch_optional(pool)
        .await?;
    if known.is_none() {
        return Ok(unprocessable("customer_id: unknown"));
    }
    let skus: Vec<String> = request.lines.iter().map(|line| line.sku.clone()).collect();
    let products = sqlx::query(
        "SELECT p.sku, p.name, p.price_minor, p.currency, \
         CAST(COALESCE(i.on_hand, 0) AS BIGINT) AS on_hand \
         FROM products p LEFT JOIN inventory i ON i.sku = p.sku WHERE p.sku = ANY($1)",
    )
    .bind(&skus)
    .fetch_all(pool)
    .await?;
    let mut priced = Vec::with_capacity(request.lines.len());
    let mut total: i64 = 0;
    for (index, line) in request.lines.iter().enumerate() {
        let Some(product) = products
            .iter()
            .find(|row| row.get::<String, _>("sku") == line.sku)
        else {
            return Ok(unprocessable(format!("lines[{index}].sku: unknown")));
        };
        let price: i64 = product.get("price_minor");
        let currency: String = product.get("currency");
        if currency.trim() != request.currency {
            return Ok(unprocessable(format!("lines[{index}].sku: other currency")));
        }
        total += price * line.quantity;
        priced.push((line, price));
    }

    let id = uuid::Uuid::now_v7();
    let now = Utc::now().trunc_subsecs(6);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO orders (id, customer_id, status, currency, total_minor, \
         rejection_reason, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(customer)
    .bind("pending")
    .bind(&request.currency)
    .bind(total)
    .bind(None::<String>)
    .bind(now)
    .bind(now)
    .bind(1_i32)
    .execute(&mut *tx)
    .await?;
    let mut lines: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, currency) ",
    );
    lines.push_values(
        priced.iter().enumerate(),
        |mut row, (index, (line, price))| {
            row.push_bind(id)
                .push_bind(index as i32 + 1)
                .push_bind(line.sku.clone())
                .push_bind(line.quantity as i32)
                .push_bind(*price)
                .push_bind(request.currency.clone());
        },
    );
    lines.build().execute(&mut *tx).await?;
    let message_id = uuid::Uuid::now_v7();
    let payload = json!({ "order_id": id, "customer_id": customer }).to_string();
    sqlx::query(
        "INSERT INTO outbox (id, routing_key, message_type, schema_version, payload, \
         correlation_id, causation_id, traceparent, occurred_at, created_at) \
         VALUES ($1, $2, $3, $4, CAST($5 AS jsonb), $6, $7, $8, $9, clock_timestamp())",
    )
    .bind(message_id)
    .bind("order.created")
    .bind("order.created")
    .bind(1_i32)
    .bind(payload)
    .bind(message_id)
    .bind(None::<uuid::Uuid>)
    .bind(None::<String>)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind("seam_outbox")
        .bind(message_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let body = json!({
        "id": id,
        "customer_id": customer,
        "status": "pending",
        "rejection_reason": null,
        "lines": priced.iter().map(|(line, price)| json!({
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": { "minor": price, "currency": request.currency },
            "line_total": { "minor": price * line.quantity, "currency": request.currency },
        })).collect::<Vec<_>>(),
        "total": { "minor": total, "currency": request.currency },
        "created_at": now,
        "updated_at": now,
        "version": 1,
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = format!("/v1/orders/{id}").parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    Ok(response)
}

fn requests() -> usize {
    crate::stats::scaled(REQUESTS_FULL)
}

fn warm_up() -> usize {
    crate::stats::scaled(WARM_UP_FULL)
}
