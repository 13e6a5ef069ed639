//! Webhook ingest: how many signed Stripe events per second `POST /webhooks/stripe`
//! verifies, deduplicates and enqueues on Redis Streams (the real axum route of
//! `seam-api` in process, the real `RedisQueue::publish_unique` script), beside its
//! floor: a raw Redis pipeline `XADD`ing the same payloads to one stream. Also the ack
//! latency (request sent -> 202 read) p50/p99.
//!
//! `cargo run --release -p seam-bench-webhook-ingest`. Needs Redis
//! (`SEAM_BENCH_REDIS_URL`, default `redis://127.0.0.1:6379`). Keys live under a fresh
//! prefix and are removed afterwards. `SEAM_BENCH_QUICK=1` runs a tenth of the events.
//! Targets: >= 20,000 events/s and p99 < 5 ms. A missed target is reported, not an
//! error; the exit status is non-zero only when the benchmark could not run.
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a benchmark reports its figures on stdout"
)]

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use seam_core::{SecretString, SystemClock};
use seam_queue_redis::RedisQueueConfig;
use seam_repository::MemoryWebhookEvents;
use seam_webhooks::{EndpointConfig, Ingest, Provider, ingest, sign};

const SECRET: &str = "whsec_bench";
const CONNECTIONS: usize = 64;
const TARGET_RATE: f64 = 20_000.0;
const TARGET_P99: Duration = Duration::from_millis(5);

fn events() -> usize {
    if std::env::var_os("SEAM_BENCH_QUICK").is_some() {
        2_000
    } else {
        20_000
    }
}

fn redis_url() -> String {
    std::env::var("SEAM_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A Stripe-shaped `payment_intent.succeeded` of about 1 KB.
fn body(n: usize) -> String {
    format!(
        r#"{{"id":"evt_bench_{n:08}","object":"event","api_version":"2025-12-15.clover","created":1750000000,"livemode":false,"pending_webhooks":1,"type":"payment_intent.succeeded","request":{{"id":"req_{n:08}","idempotency_key":"{n:08}-idem"}},"data":{{"object":{{"id":"pi_{n:08}","object":"payment_intent","amount":1999,"amount_received":1999,"capture_method":"automatic","confirmation_method":"automatic","created":1750000000,"currency":"eur","customer":"cus_bench","description":"Seam benchmark order","latest_charge":"ch_{n:08}","livemode":false,"metadata":{{"order_id":"0192f0c4-0000-7000-8000-{n:012}"}},"payment_method":"pm_card_visa","payment_method_types":["card"],"receipt_email":"bench@example.com","status":"succeeded","statement_descriptor":"SEAM BENCH","padding":"{pad}"}}}}}}"#,
        pad = "x".repeat(300)
    )
}

struct Percentiles(Vec<Duration>);

impl Percentiles {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    fn at(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

async fn seam_endpoint(
    prefix: &str,
    requests: &[(String, String)],
) -> anyhow::Result<(f64, Percentiles)> {
    let queue = RedisQueueConfig {
        url: SecretString::from(redis_url()),
        key_prefix: prefix.to_owned(),
        bindings: vec![ingest::binding()],
        ..RedisQueueConfig::default()
    }
    .connect()
    .await
    .context("connecting to Redis")?;
    let verifier = EndpointConfig::new(Provider::Stripe, vec![SecretString::from(SECRET)])
        .build(SystemClock::shared())
        .context("the Stripe endpoint")?;
    let state = seam_api::webhooks::WebhookState {
        ingest: Ingest::new(vec![verifier], Arc::new(queue), ingest::DEFAULT_DEDUPE_TTL),
        events: Arc::new(MemoryWebhookEvents::new()),
    };
    let router = seam_api::webhooks::routes(state, 256 * 1024);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/stripe", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;
    let requests = Arc::new(requests.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (client, url, requests, next) =
            (client.clone(), url.clone(), requests.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = requests.get(index) else {
                    break;
                };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status().as_u16();
                response.bytes().await?;
                latencies.push(sent.elapsed());
                if status != 202 {
                    bail!("the endpoint answered {status}, expected 202");
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(requests.len());
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined.context("a load task panicked")??);
    }
    let elapsed = started.elapsed();
    server.abort();
    Ok((
        latencies.len() as f64 / elapsed.as_secs_f64(),
        Percentiles::new(latencies),
    ))
}

async fn raw_pipeline(prefix: &str, requests: &[(String, String)]) -> anyhow::Result<f64> {
    let client = redis::Client::open(redis_url())?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let key = format!("{prefix}:raw:stream");
    let started = Instant::now();
    for chunk in requests.chunks(256) {
        let mut pipe = redis::pipe();
        for (body, _) in chunk {
            pipe.cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg("data")
                .arg(body)
                .ignore();
        }
        pipe.query_async::<()>(&mut connection).await?;
    }
    Ok(requests.len() as f64 / started.elapsed().as_secs_f64())
}

async fn cleanup(prefix: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(redis_url())?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut connection)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

async fn run() -> anyhow::Result<()> {
    let prefix = format!("seam-bench:{}", uuid::Uuid::now_v7().simple());
    let now = chrono::Utc::now().timestamp();
    let secrets = [SecretString::from(SECRET)];
    let requests: Vec<(String, String)> = (0..events())
        .map(|n| {
            let body = body(n);
            let signature = sign::stripe(&secrets, now, body.as_bytes()).expect("a valid secret");
            (body, signature)
        })
        .collect();
    println!(
        "== Webhook ingest: {} signed Stripe events of ~{} bytes, {CONNECTIONS} connections",
        requests.len(),
        requests[0].0.len()
    );
    let floor = raw_pipeline(&prefix, &requests).await;
    let seam = seam_endpoint(&prefix, &requests).await;
    let cleaned = cleanup(&prefix).await;
    let floor = floor.context("the raw XADD pipeline")?;
    let (rate, latencies) = seam.context("the Seam endpoint")?;
    cleaned.context("removing the benchmark's keys")?;
    let (p50, p99) = (latencies.at(50.0), latencies.at(99.0));
    println!("   raw Redis XADD pipeline (floor)    {floor:>10.0} events/s");
    println!(
        "   POST /webhooks/stripe (Seam)       {rate:>10.0} events/s  ({:.2}x the floor)",
        rate / floor
    );
    println!(
        "   ack latency                         p50 {}  p99 {}",
        ms(p50),
        ms(p99)
    );
    let mark = |met: bool| if met { "met" } else { "MISSED" };
    println!(
        "   target >= {TARGET_RATE:.0} events/s: [{}]   p99 < {}: [{}]",
        mark(rate >= TARGET_RATE),
        ms(TARGET_P99),
        mark(p99 < TARGET_P99)
    );
    Ok(())
}

fn main() -> ExitCode {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; the figures mean little (use cargo run --release)"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("benchmark failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}
