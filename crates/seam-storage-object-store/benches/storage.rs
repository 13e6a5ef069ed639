//! Upload and download throughput of a 50 MB object through the port, beside the same
//! work done with `object_store` alone (the floor), on the same S3 server and client.
//!
//! Needs the test S3 server: `scripts/s3-server.sh start` (endpoint and credentials as
//! in the integration tests, `SEAM_TEST_S3_*` to override). Run:
//!
//! ```text
//! cargo bench -p seam-storage-object-store -- --warm-up-time 1 --measurement-time 5 --sample-size 10
//! ```
//!
//! Both sides stream the body in 1 MiB chunks and upload it in 8 MiB parts, four in
//! flight (the adapter's defaults); both read the download as a stream and count it.
//! After criterion's groups, the binary measures both sides again in alternating
//! rounds, so machine noise falls on both alike, and prints MB/s and the ratio
//! (target: the port at 0.9x the floor or better).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use futures::{StreamExt, stream};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use seam_storage::{GetOptions, ObjectKey, ObjectStorage, PutOptions};
use seam_storage_object_store::{BackendConfig, ObjectStoreConfig, ObjectStoreStorage, S3Config};
use tokio::runtime::Runtime;

const OBJECT_BYTES: usize = 50 * 1000 * 1000;
const CHUNK_BYTES: usize = 1024 * 1024;
const PART_BYTES: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 4;
const SUMMARY_ROUNDS: u32 = 3;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The adapter on the test S3 server; panics naming the server when it is not there.
fn storage() -> ObjectStoreStorage {
    let endpoint = env_or("SEAM_TEST_S3_ENDPOINT", "http://127.0.0.1:9000");
    seam_testkit::require_service(
        "S3 server (s3s-fs: `scripts/s3-server.sh start`)",
        &seam_testkit::url_address(&endpoint),
    );
    let mut config = ObjectStoreConfig::new(BackendConfig::S3(S3Config {
        bucket: env_or("SEAM_TEST_S3_BUCKET", "seam-test"),
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        access_key_id: Some(env_or("SEAM_TEST_S3_ACCESS_KEY", "seam-test-access")),
        secret_access_key: Some(
            env_or("SEAM_TEST_S3_SECRET_KEY", "seam-test-secret-key")
                .parse()
                .expect("a secret"),
        ),
        session_token: None,
        allow_http: true,
        virtual_hosted_style: false,
    }));
    config.part_size = PART_BYTES;
    config.multipart_threshold = PART_BYTES as u64;
    config.max_concurrent_parts = PARTS_IN_FLIGHT;
    config.request_timeout = Duration::from_secs(120);
    config
        .build()
        .expect("the benchmark's S3 configuration builds")
}

/// The body, as the chunks both sides send.
fn chunks(data: &Bytes) -> Vec<Bytes> {
    (0..data.len())
        .step_by(CHUNK_BYTES)
        .map(|start| data.slice(start..(start + CHUNK_BYTES).min(data.len())))
        .collect()
}

async fn upload_port(storage: &ObjectStoreStorage, key: &ObjectKey, chunks: &[Bytes]) {
    // The body stream must own its chunks (cheap: `Bytes` clones share the buffer).
    let body = stream::iter(chunks.to_vec()).map(Ok).boxed();
    let put = storage
        .put(key, body, PutOptions::default())
        .await
        .expect("port upload");
    assert_eq!(put.size, OBJECT_BYTES as u64);
}

async fn upload_floor(store: &Arc<dyn ObjectStore>, path: &Path, chunks: &[Bytes]) {
    let upload = store.put_multipart(path).await.expect("floor upload");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    for chunk in chunks {
        writer
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .expect("floor part");
        writer.put(chunk.clone());
    }
    writer.finish().await.expect("floor completion");
}

async fn download_port(storage: &ObjectStoreStorage, key: &ObjectKey) {
    let result = storage
        .get(key, GetOptions::default())
        .await
        .expect("port download");
    let mut body = result.body;
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += black_box(chunk.expect("port body")).len();
    }
    assert_eq!(total, OBJECT_BYTES);
}

async fn download_floor(store: &Arc<dyn ObjectStore>, path: &Path) {
    let mut body = store.get(path).await.expect("floor download").into_stream();
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += black_box(chunk.expect("floor body")).len();
    }
    assert_eq!(total, OBJECT_BYTES);
}

struct Fixture {
    runtime: Runtime,
    storage: ObjectStoreStorage,
    store: Arc<dyn ObjectStore>,
    port_key: ObjectKey,
    floor_path: Path,
    chunks: Vec<Bytes>,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let storage = runtime.block_on(async { storage() });
        let store = Arc::clone(storage.object_store());
        let prefix = format!("bench-{}", uuid::Uuid::now_v7());
        let port_key = ObjectKey::parse(&format!("{prefix}/port.bin")).expect("a key");
        let floor_path = Path::parse(format!("{prefix}/floor.bin")).expect("a path");
        let data: Bytes = (0..OBJECT_BYTES)
            .map(|i| (i * 31) as u8)
            .collect::<Vec<_>>()
            .into();
        let chunks = chunks(&data);
        let fixture = Self {
            runtime,
            storage,
            store,
            port_key,
            floor_path,
            chunks,
        };
        // Objects to download from the first iteration on.
        fixture.runtime.block_on(async {
            upload_port(&fixture.storage, &fixture.port_key, &fixture.chunks).await;
            upload_floor(&fixture.store, &fixture.floor_path, &fixture.chunks).await;
        });
        fixture
    }

    fn clean_up(&self) {
        self.runtime.block_on(async {
            self.storage.delete(&self.port_key).await.expect("delete");
            self.store.delete(&self.floor_path).await.expect("delete");
        });
    }
}

fn criterion_groups(criterion: &mut Criterion, fixture: &Fixture) {
    let mut upload = criterion.benchmark_group("upload_50MB");
    upload.throughput(Throughput::Bytes(OBJECT_BYTES as u64));
    upload.bench_function("port", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| upload_port(&fixture.storage, &fixture.port_key, &fixture.chunks))
    });
    upload.bench_function("object_store", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| upload_floor(&fixture.store, &fixture.floor_path, &fixture.chunks))
    });
    upload.finish();

    let mut download = criterion.benchmark_group("download_50MB");
    download.throughput(Throughput::Bytes(OBJECT_BYTES as u64));
    download.bench_function("port", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| download_port(&fixture.storage, &fixture.port_key))
    });
    download.bench_function("object_store", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| download_floor(&fixture.store, &fixture.floor_path))
    });
    download.finish();
}

/// Megabytes per second over `rounds` alternating runs of each side: (port, floor).
fn alternating(
    mut port: impl FnMut() -> Duration,
    mut floor: impl FnMut() -> Duration,
) -> (f64, f64) {
    let (mut port_time, mut floor_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..SUMMARY_ROUNDS {
        port_time += port();
        floor_time += floor();
    }
    let megabytes = OBJECT_BYTES as f64 * f64::from(SUMMARY_ROUNDS) / 1e6;
    (
        megabytes / port_time.as_secs_f64(),
        megabytes / floor_time.as_secs_f64(),
    )
}

fn timed(runtime: &Runtime, work: impl std::future::Future<Output = ()>) -> Duration {
    let started = Instant::now();
    runtime.block_on(work);
    started.elapsed()
}

fn main() {
    let fixture = Fixture::new();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_groups(&mut criterion, &fixture);
    criterion.final_summary();

    let rt = &fixture.runtime;
    let (up_port, up_floor) = alternating(
        || {
            timed(
                rt,
                upload_port(&fixture.storage, &fixture.port_key, &fixture.chunks),
            )
        },
        || {
            timed(
                rt,
                upload_floor(&fixture.store, &fixture.floor_path, &fixture.chunks),
            )
        },
    );
    let (down_port, down_floor) = alternating(
        || timed(rt, download_port(&fixture.storage, &fixture.port_key)),
        || timed(rt, download_floor(&fixture.store, &fixture.floor_path)),
    );
    fixture.clean_up();
    // Printing the result is this binary's job.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "upload 50 MB:   port {up_port:.0} MB/s, object_store alone {up_floor:.0} MB/s, ratio {:.2}x (target >= 0.9x)",
            up_port / up_floor
        );
        println!(
            "download 50 MB: port {down_port:.0} MB/s, object_store alone {down_floor:.0} MB/s, ratio {:.2}x (target >= 0.9x)",
            down_port / down_floor
        );
    }
}
