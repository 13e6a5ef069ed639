//! Costs of the port's own work, each beside its floor: key validation against owning
//! the string, the in-memory adapter against a bare map, and the tenant and metered
//! decorators against the storage they wrap.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use futures::executor::block_on;
use seam_storage::{
    InMemoryStorage, MeteredStorage, ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions,
    TenantId, TenantStorage,
};
use sha2::{Digest, Sha256};

const KEY: &str = "invoices/2026/11/customer-0042/inv-000123.pdf";
const BODY_BYTES: usize = 1024 * 1024;

fn key_floor() -> String {
    String::from(black_box(KEY))
}

fn key_parse() -> ObjectKey {
    ObjectKey::parse(black_box(KEY)).unwrap()
}

/// The raw work of a put and a get in memory: hash the content for its etag, keep it in
/// a map, copy it out.
fn map_round_trip(map: &mut BTreeMap<String, (String, Bytes)>, body: &Bytes) -> usize {
    let etag = hex::encode(Sha256::digest(body));
    map.insert(KEY.to_owned(), (etag, body.clone()));
    map.get(KEY).map_or(0, |(_, bytes)| bytes.to_vec().len())
}

fn storage_round_trip(storage: &dyn ObjectStorage, key: &ObjectKey, body: &Bytes) -> usize {
    block_on(async {
        storage
            .put_bytes(key, body.clone(), PutOptions::default())
            .await
            .unwrap();
        storage.get_bytes(key).await.unwrap().len()
    })
}

struct Fixture {
    memory: Arc<InMemoryStorage>,
    tenant: TenantStorage,
    metered: MeteredStorage,
    key: ObjectKey,
    body: Bytes,
}

fn fixture() -> Fixture {
    let memory = Arc::new(InMemoryStorage::new());
    let tenant = TenantStorage::new(memory.clone(), TenantId::parse("acme").unwrap());
    let metered = MeteredStorage::new(memory.clone());
    Fixture {
        memory,
        tenant,
        metered,
        key: ObjectKey::parse(KEY).unwrap(),
        body: Bytes::from(vec![7u8; BODY_BYTES]),
    }
}

fn port(c: &mut Criterion) {
    let f = fixture();
    let mut map = BTreeMap::new();
    let mut group = c.benchmark_group("storage");
    group.bench_function("key/floor_string", |b| b.iter(key_floor));
    group.bench_function("key/parse", |b| b.iter(key_parse));
    group.bench_function("round_trip_1mib/floor_map", |b| {
        b.iter(|| map_round_trip(&mut map, &f.body))
    });
    group.bench_function("round_trip_1mib/memory", |b| {
        b.iter(|| storage_round_trip(f.memory.as_ref(), &f.key, &f.body))
    });
    group.bench_function("round_trip_1mib/tenant", |b| {
        b.iter(|| storage_round_trip(&f.tenant, &f.key, &f.body))
    });
    group.bench_function("round_trip_1mib/metered", |b| {
        b.iter(|| storage_round_trip(&f.metered, &f.key, &f.body))
    });
    group.finish();
}

/// Mean time per call over `iterations`, after a warm-up.
fn per_call(iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed() / iterations
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    port(&mut criterion);
    criterion.final_summary();

    let f = fixture();
    let mut map = BTreeMap::new();
    let floor_key = per_call(200_000, || {
        black_box(key_floor());
    });
    let parse_key = per_call(200_000, || {
        black_box(key_parse());
    });
    let floor_trip = per_call(2_000, || {
        black_box(map_round_trip(&mut map, &f.body));
    });
    let memory_trip = per_call(2_000, || {
        black_box(storage_round_trip(f.memory.as_ref(), &f.key, &f.body));
    });
    let tenant_trip = per_call(2_000, || {
        black_box(storage_round_trip(&f.tenant, &f.key, &f.body));
    });
    let metered_trip = per_call(2_000, || {
        black_box(storage_round_trip(&f.metered, &f.key, &f.body));
    });
    // Printing the result is this binary's job.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "key parse: {} ns (floor: owning the string {} ns)",
            parse_key.as_nanos(),
            floor_key.as_nanos()
        );
        println!(
            "1 MiB put+get: memory {:.1} us, tenant {:.1} us, metered {:.1} us (floor: hash + map + copy {:.1} us)",
            micros(memory_trip),
            micros(tenant_trip),
            micros(metered_trip),
            micros(floor_trip)
        );
    }
}
