//! Upload and download throughput of a 50 MB object through the port, beside the same
//! work done with `aws-sdk-s3` alone (the floor), with the same client on the same
//! S3 server.
//!
//! Needs the test S3 server: `scripts/s3-server.sh start` (`SEAM_TEST_S3_ENDPOINT` to
//! override the endpoint). Run:
//!
//! ```text
//! cargo bench -p seam-storage-s3 -- --warm-up-time 1 --measurement-time 5 --sample-size 10
//! ```
//!
//! Both sides upload 8 MiB parts one at a time (the port streams a body of 1 MiB
//! chunks and reads the next part while one uploads; the floor has its parts ready in
//! memory), and both read the download as a stream and count it. After criterion's
//! groups the binary measures both sides again in alternating rounds, so machine noise
//! falls on both alike, and prints MB/s and the ratio (target: 0.9x the floor or better).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use criterion::{Criterion, Throughput};
use futures::{StreamExt, stream};
use seam_core::SecretString;
use seam_storage::{GetOptions, ObjectKey, ObjectStorage, PutOptions};
use seam_storage_s3::{MIB, S3Config, S3Storage};
use tokio::runtime::Runtime;

const OBJECT_BYTES: usize = 50 * 1000 * 1000;
const CHUNK_BYTES: usize = 1024 * 1024;
const PART_BYTES: usize = 8 * 1024 * 1024;
const BUCKET: &str = "seam-test";
const SUMMARY_ROUNDS: u32 = 3;

/// The adapter on the test S3 server; panics naming the server when it is not there.
fn storage() -> S3Storage {
    let endpoint = std::env::var("SEAM_TEST_S3_ENDPOINT")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:9000".to_owned());
    seam_testkit::require_service(
        "S3 server (s3s-fs: `scripts/s3-server.sh start`)",
        &seam_testkit::url_address(&endpoint),
    );
    let mut config = S3Config::new(
        BUCKET,
        "us-east-1",
        "seam-test-access",
        SecretString::new("seam-test-secret-key".to_owned()),
    )
    .with_endpoint(endpoint);
    config.part_size = 8 * MIB;
    config.multipart_threshold = 8 * MIB;
    config.operation_timeout = Duration::from_secs(120);
    config
        .build()
        .expect("the benchmark's S3 configuration builds")
}

fn slices(data: &Bytes, size: usize) -> Vec<Bytes> {
    (0..data.len())
        .step_by(size)
        .map(|start| data.slice(start..(start + size).min(data.len())))
        .collect()
}

async fn upload_port(storage: &S3Storage, key: &ObjectKey, chunks: &[Bytes]) {
    let body = stream::iter(chunks.to_vec()).map(Ok).boxed();
    let put = storage
        .put(key, body, PutOptions::default())
        .await
        .expect("port upload");
    assert_eq!(put.size, OBJECT_BYTES as u64);
}

async fn upload_floor(client: &Client, key: &str, parts: &[Bytes]) {
    let upload_id = client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("floor create")
        .upload_id
        .expect("an upload id");
    let mut completed = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let number = i32::try_from(index + 1).expect("few parts");
        let etag = client
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(part.clone().into())
            .send()
            .await
            .expect("floor part")
            .e_tag
            .expect("an etag");
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(etag)
                .build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .expect("floor completion");
}

async fn download_port(storage: &S3Storage, key: &ObjectKey) {
    let mut body = storage
        .get(key, GetOptions::default())
        .await
        .expect("port download")
        .body;
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += black_box(chunk.expect("port body")).len();
    }
    assert_eq!(total, OBJECT_BYTES);
}

async fn download_floor(client: &Client, key: &str) {
    let mut body = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("floor download")
        .body;
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += black_box(chunk.expect("floor body")).len();
    }
    assert_eq!(total, OBJECT_BYTES);
}

struct Fixture {
    runtime: Runtime,
    storage: S3Storage,
    port_key: ObjectKey,
    floor_key: String,
    chunks: Vec<Bytes>,
    parts: Vec<Bytes>,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let storage = runtime.block_on(async { storage() });
        let prefix = format!("s3-bench-{}", uuid::Uuid::now_v7());
        let port_key = ObjectKey::parse(&format!("{prefix}/port.bin")).expect("a key");
        let data: Bytes = (0..OBJECT_BYTES)
            .map(|i| (i * 31) as u8)
            .collect::<Vec<_>>()
            .into();
        let fixture = Self {
            runtime,
            storage,
            port_key,
            floor_key: format!("{prefix}/floor.bin"),
            chunks: slices(&data, CHUNK_BYTES),
            parts: slices(&data, PART_BYTES),
        };
        // Objects to download from the first iteration on.
        fixture.runtime.block_on(async {
            upload_port(&fixture.storage, &fixture.port_key, &fixture.chunks).await;
            upload_floor(fixture.client(), &fixture.floor_key, &fixture.parts).await;
        });
        fixture
    }

    fn client(&self) -> &Client {
        self.storage.client()
    }

    fn clean_up(&self) {
        self.runtime.block_on(async {
            self.storage.delete(&self.port_key).await.expect("delete");
            self.client()
                .delete_object()
                .bucket(BUCKET)
                .key(&self.floor_key)
                .send()
                .await
                .expect("delete");
        });
    }
}

fn criterion_groups(criterion: &mut Criterion, fixture: &Fixture) {
    let mut upload = criterion.benchmark_group("s3_adapter_upload_50MB");
    upload.throughput(Throughput::Bytes(OBJECT_BYTES as u64));
    upload.bench_function("port", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| upload_port(&fixture.storage, &fixture.port_key, &fixture.chunks))
    });
    upload.bench_function("aws_sdk_s3", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| upload_floor(fixture.client(), &fixture.floor_key, &fixture.parts))
    });
    upload.finish();

    let mut download = criterion.benchmark_group("s3_adapter_download_50MB");
    download.throughput(Throughput::Bytes(OBJECT_BYTES as u64));
    download.bench_function("port", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| download_port(&fixture.storage, &fixture.port_key))
    });
    download.bench_function("aws_sdk_s3", |b| {
        b.to_async(&fixture.runtime)
            .iter(|| download_floor(fixture.client(), &fixture.floor_key))
    });
    download.finish();
}

fn timed(runtime: &Runtime, work: impl std::future::Future<Output = ()>) -> Duration {
    let started = Instant::now();
    runtime.block_on(work);
    started.elapsed()
}

/// MB/s of each side, measured in alternating rounds.
fn alternating(
    mut port: impl FnMut() -> Duration,
    mut floor: impl FnMut() -> Duration,
) -> (f64, f64) {
    let (mut port_total, mut floor_total) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..SUMMARY_ROUNDS {
        port_total += port();
        floor_total += floor();
    }
    let rate = |total: Duration| {
        f64::from(SUMMARY_ROUNDS) * OBJECT_BYTES as f64 / 1e6 / total.as_secs_f64()
    };
    (rate(port_total), rate(floor_total))
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
                upload_floor(fixture.client(), &fixture.floor_key, &fixture.parts),
            )
        },
    );
    let (down_port, down_floor) = alternating(
        || timed(rt, download_port(&fixture.storage, &fixture.port_key)),
        || timed(rt, download_floor(fixture.client(), &fixture.floor_key)),
    );
    fixture.clean_up();
    // Printing the result is this binary's job.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "upload 50 MB:   port {up_port:.0} MB/s, aws-sdk-s3 alone {up_floor:.0} MB/s, ratio {:.2}x (target >= 0.9x)",
            up_port / up_floor
        );
        println!(
            "download 50 MB: port {down_port:.0} MB/s, aws-sdk-s3 alone {down_floor:.0} MB/s, ratio {:.2}x (target >= 0.9x)",
            down_port / down_floor
        );
    }
}
