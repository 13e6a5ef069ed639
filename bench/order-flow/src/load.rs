//! The load client: `connections` concurrent keep-alive connections sending a fixed
//! number of identical `POST` requests, recording each request's latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::stats::Latencies;

/// What one run measured.
#[derive(Debug)]
pub(crate) struct LoadRun {
    /// Each request's latency.
    pub(crate) latencies: Vec<Duration>,
    /// Wall time of the whole run.
    pub(crate) elapsed: Duration,
}

/// Runs of the same target added up.
#[derive(Debug, Default)]
pub(crate) struct LoadTotal {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl LoadTotal {
    /// Adds a run.
    pub(crate) fn add(&mut self, run: LoadRun) {
        self.latencies.extend(run.latencies);
        self.elapsed += run.elapsed;
    }

    /// Requests per second over all runs.
    pub(crate) fn rate(&self) -> f64 {
        crate::stats::rate(self.latencies.len(), self.elapsed)
    }

    /// The latencies, sorted.
    pub(crate) fn latencies(&self) -> Latencies {
        Latencies::new(self.latencies.clone())
    }
}

/// A client with up to `connections` pooled connections, no proxy, sending
/// `authorization` (an `Authorization` header value) with every request when given.
pub(crate) fn client(
    connections: usize,
    authorization: Option<&str>,
) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(authorization) = authorization {
        let mut value = reqwest::header::HeaderValue::from_str(authorization)
            .context("the Authorization header value")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

/// Sends `requests` POSTs of `body` to `url` over `connections` concurrent connections;
/// every answer must have status `expect`.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &'static str,
    requests: usize,
    connections: usize,
    expect: u16,
) -> anyhow::Result<LoadRun> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let client = client.clone();
        let url = url.to_owned();
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(requests / connections.max(1) + 1);
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status().as_u16();
                let answer = response.bytes().await?;
                latencies.push(sent.elapsed());
                if status != expect {
                    bail!(
                        "{url} answered {status}, expected {expect}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
            }
            Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined.context("a load task panicked")??);
    }
    Ok(LoadRun {
        latencies,
        elapsed: started.elapsed(),
    })
}
