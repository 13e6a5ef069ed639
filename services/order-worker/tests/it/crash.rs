//! Crash safety: the real worker binary is killed (SIGKILL) in the middle of a burst of
//! orders; a new one finishes the work with nothing lost and nothing done twice, not even
//! an e-mail (the file adapter deduplicates the re-send by its message id).
//!
//! The API runs in this process (Cargo builds only this crate's binaries for its
//! tests, so `seam-api` is not guaranteed to exist next to the worker): the crash under
//! test is the worker's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use seam_api::Application;
use seam_sql::sqlx::SqlitePool;
use seam_sql::{DEMO_CUSTOMER_ID, DEMO_PRODUCTS, Database};
use seam_testkit::process::ServiceProcess;
use seam_wiring::Settings;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The repository's `config/` folder.
pub(crate) fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// Starts the worker binary on the embedded defaults under `data`, with `extra`
/// environment on top (later entries win).
pub(crate) fn start_worker(data: &Path, extra: &[(&str, &str)]) -> ServiceProcess {
    let config = config_dir();
    let mut envs: Vec<(String, String)> = vec![
        ("SEAM_ENV".into(), "test".into()),
        ("SEAM_CONFIG_DIR".into(), config.to_str().unwrap().into()),
        ("SEAM_DATA_DIR".into(), data.to_str().unwrap().into()),
        ("SEAM_WORKER__PORT".into(), "0".into()),
        // A crashed worker's leases end quickly, so its messages come back soon.
        ("SEAM_QUEUE__VISIBILITY_TIMEOUT".into(), "3s".into()),
        ("SEAM_QUEUE__POLL_INTERVAL".into(), "50ms".into()),
    ];
    envs.extend(
        extra
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    ServiceProcess::start(
        env!("CARGO_BIN_EXE_seam-order-worker"),
        envs,
        "seam-order-worker health and metrics on ",
    )
}

/// The settings the in-process API and the test's own database handle use: the
/// embedded defaults under `data`, as the worker binary reads them.
pub(crate) fn settings(data: &Path) -> Settings {
    let mut settings = Settings {
        data_dir: data.to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.worker.port = 0;
    settings
}

/// The API, running in this process, over a migrated and seeded database.
pub(crate) struct Api {
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
    pub(crate) database: Database,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    pub(crate) async fn start(settings: Settings) -> Self {
        seam_testkit::init_test_logging();
        let database = Database::connect(&seam_wiring::sql_config(&settings))
            .await
            .expect("database opens");
        database.migrate_up().await.expect("migrations apply");
        database.seed().await.expect("seed loads");
        let client = crate::api_client(&settings);
        let api = Application::build(settings).await.expect("API builds");
        let url = format!("http://{}", api.local_addr());
        let stop = api.shutdown_token();
        let task = tokio::spawn(api.run_until_stopped());
        Self {
            url,
            client,
            database,
            stop,
            task,
        }
    }

    pub(crate) fn sqlite(&self) -> &SqlitePool {
        self.database.as_sqlite().expect("the embedded database")
    }

    /// Places an order of `quantity` x `sku` for the demo customer; returns its id.
    pub(crate) async fn place(&self, sku: &str, quantity: u32) -> String {
        let response = self
            .client
            .post(format!("{}/v1/orders", self.url))
            .json(&json!({
                "customer_id": DEMO_CUSTOMER_ID.to_string(),
                "currency": "EUR",
                "lines": [{"sku": sku, "quantity": quantity}],
            }))
            .send()
            .await
            .expect("the API answers");
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
        let order: Value = response.json().await.unwrap();
        order["id"].as_str().unwrap().to_owned()
    }

    /// A count from the database.
    pub(crate) async fn count(&self, sql: &'static str) -> i64 {
        seam_sql::sqlx::query_scalar(sql)
            .fetch_one(self.sqlite())
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        self.database.close().await;
    }
}

/// The e-mail messages in `dir` (a flat folder or a Maildir) by the order id in their
/// `X-Seam-Order-Id` header: their file names.
pub(crate) fn emails_by_order(dir: &Path) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for folder in [dir.to_path_buf(), dir.join("new"), dir.join("cur")] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Envelope files (.json) and temporary files (.name.tmp) are not messages.
            if !path.is_file()
                || name.starts_with('.')
                || path.extension().is_some_and(|ext| ext == "json")
            {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for line in text.lines() {
                if line.is_empty() {
                    break; // end of the headers
                }
                if let Some((header, value)) = line.split_once(':')
                    && header.eq_ignore_ascii_case("X-Seam-Order-Id")
                {
                    found
                        .entry(value.trim().to_owned())
                        .or_default()
                        .push(name.clone());
                }
            }
        }
    }
    found
}

/// How many e-mail messages in `dir` carry each order id; see [`emails_by_order`].
pub(crate) fn emails_per_order(dir: &Path) -> HashMap<String, usize> {
    emails_by_order(dir)
        .into_iter()
        .map(|(order, files)| (order, files.len()))
        .collect()
}

/// What was ordered, by order id.
pub(crate) type Placed = HashMap<String, (&'static str, i64)>;

/// Places `count` orders, numbered from `first`, with `concurrency` clients: round robin
/// over the demo products, so that the scarce ones run out and some are rejected.
pub(crate) async fn place_many(
    api: &Arc<Api>,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Placed {
    let next = Arc::new(AtomicUsize::new(first));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let api = Arc::clone(api);
        let next = Arc::clone(&next);
        clients.spawn(async move {
            let mut placed = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= first + count {
                    return placed;
                }
                let product = &DEMO_PRODUCTS[index % DEMO_PRODUCTS.len()];
                let quantity = 1 + (index / DEMO_PRODUCTS.len()) % 2;
                let id = api.place(product.sku, quantity as u32).await;
                placed.push((id, (product.sku, quantity as i64)));
            }
        });
    }
    let mut placed = HashMap::new();
    while let Some(batch) = clients.join_next().await {
        placed.extend(batch.unwrap());
    }
    assert_eq!(placed.len(), count, "every order has its own id");
    placed
}

/// A worker killed: what had been done, and an instant after it was dead.
struct Kill {
    decided: i64,
    emails: usize,
    dead_at: DateTime<Utc>,
}

impl std::fmt::Display for Kill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} decided, {} e-mails, dead at {}",
            self.decided, self.emails, self.dead_at
        )
    }
}

/// Kills `worker` (SIGKILL) as soon as `now(decided orders, e-mails sent)` holds
/// (bounded: 30 s).
async fn kill_when(
    worker: ServiceProcess,
    api: &Api,
    mail_dir: &Path,
    now: impl Fn(i64, usize) -> bool,
) -> Kill {
    let mut decided = 0;
    let mut emails = 0;
    for _ in 0..3000 {
        decided = api.count(DECIDED).await;
        emails = emails_per_order(mail_dir).values().sum::<usize>();
        if now(decided, emails) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = tokio::task::spawn_blocking(move || worker.kill())
        .await
        .unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");
    Kill {
        decided,
        emails,
        dead_at: Utc::now(),
    }
}

const DECIDED: &str = "SELECT count(*) FROM orders WHERE status <> 'pending'";
const UNPUBLISHED: &str = "SELECT count(*) FROM outbox WHERE published_at IS NULL";
const QUEUED: &str = "SELECT count(*) FROM queue_messages";
const DEAD: &str = "SELECT count(*) FROM queue_dead_letters";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_burst_loses_nothing_and_does_nothing_twice() {
    const ORDERS: usize = 300;
    let data = tempfile::tempdir().unwrap();
    let settings = settings(data.path());
    let mail_dir = settings.email_dir();
    let api = Arc::new(Api::start(settings).await);

    // The burst lands while no worker runs, so the one started next has a backlog in
    // every stage (outbox, orders queue, e-mail queue) when it is killed.
    let placed = place_many(&api, 0, ORDERS, 8).await;
    assert!(
        placed.values().any(|(sku, _)| *sku == "NOTEBOOK-A5"),
        "some orders are for the scarce notebook"
    );

    // Two crashes: the first while orders are being decided, the second (of the worker
    // started after it) while their e-mails are being sent; each also catches the
    // relay mid-batch.
    let first = start_worker(data.path(), &[]);
    let kill1 = kill_when(first, &api, &mail_dir, |decided, _| {
        decided >= (ORDERS / 3) as i64
    })
    .await;
    let second = start_worker(data.path(), &[]);
    let kill2 = kill_when(second, &api, &mail_dir, |_, emails| emails >= ORDERS / 10).await;
    let summary = format!("first killed at {kill1}; second at {kill2}");

    let worker = start_worker(data.path(), &[]);
    // Bounded: the killed workers' queue leases end after 3 s, their outbox claims
    // after the relay's 30 s lease.
    let mut finished = false;
    for _ in 0..1200 {
        let emails: usize = emails_per_order(&mail_dir).values().sum();
        if api.count(DECIDED).await == ORDERS as i64
            && emails >= ORDERS
            && api.count(UNPUBLISHED).await == 0
            && api.count(QUEUED).await == 0
        {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, for a duplicate to show up if there is one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stderr = worker.stderr();
    let exit = tokio::task::spawn_blocking(move || worker.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(exit.success(), "the last worker exits cleanly: {exit:?}");

    let statuses: HashMap<String, String> =
        seam_sql::sqlx::query_as::<_, (String, String)>("SELECT id, status FROM orders")
            .fetch_all(api.sqlite())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let pending = statuses.values().filter(|s| *s == "pending").count();
    assert!(
        finished,
        "not finished after 120 s: {pending} pending, {} e-mails, {} unpublished, {} queued \
         ({summary}); worker stderr:\n{stderr}",
        emails_per_order(&mail_dir).values().sum::<usize>(),
        api.count(UNPUBLISHED).await,
        api.count(QUEUED).await,
    );

    // Every order decided.
    assert_eq!(statuses.len(), ORDERS);
    let mut confirmed_quantity: HashMap<&str, i64> = HashMap::new();
    let mut rejected = 0;
    for (id, (sku, quantity)) in &placed {
        match statuses.get(id).map(String::as_str) {
            Some("confirmed") => *confirmed_quantity.entry(sku).or_default() += quantity,
            Some("rejected") => rejected += 1,
            other => panic!("order {id} is {other:?}"),
        }
    }
    assert!(rejected > 0, "the scarce SKUs ran out");

    // Exactly one e-mail per order, and none for anything else. A crash between
    // sending an e-mail and recording the inbox entry sends it again on redelivery,
    // but with the same message id (derived from the event), and the file adapter
    // deduplicates by that id: the re-send finds the file and writes no other.
    let emails = emails_by_order(&mail_dir);
    assert_eq!(emails.len(), ORDERS, "e-mails for orders not placed here?");
    assert!(placed.keys().all(|id| emails.contains_key(id)));
    for (id, files) in &emails {
        assert_eq!(
            files.len(),
            1,
            "order {id} has e-mails {files:?}, not exactly one ({summary})"
        );
    }
    eprintln!("{summary}; one e-mail per order");

    // Stock exact: what was seeded less what the confirmed orders took.
    for product in DEMO_PRODUCTS {
        let on_hand: i64 =
            seam_sql::sqlx::query_scalar("SELECT on_hand FROM inventory WHERE sku = ?1")
                .bind(product.sku)
                .fetch_one(api.sqlite())
                .await
                .unwrap();
        let taken = confirmed_quantity.get(product.sku).copied().unwrap_or(0);
        assert_eq!(
            on_hand,
            i64::from(product.on_hand) - taken,
            "{}: seeded {}, confirmed orders took {taken}",
            product.sku,
            product.on_hand
        );
    }

    // Nothing left behind.
    assert_eq!(api.count(UNPUBLISHED).await, 0, "unpublished outbox rows");
    assert_eq!(api.count(QUEUED).await, 0, "messages still queued");
    assert_eq!(api.count(DEAD).await, 0, "dead letters");

    Arc::into_inner(api)
        .expect("the clients are done")
        .stop()
        .await;
}
