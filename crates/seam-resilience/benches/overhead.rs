//! Overhead of the hot path: a call that succeeds, bare and through retry + a closed breaker.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures::executor::block_on;
use seam_core::{Classify, ErrorKind, SystemClock};
use seam_resilience::{CircuitBreaker, CircuitBreakerConfig, Pipeline, Retry};

#[derive(Debug)]
struct BenchError;

impl Classify for BenchError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Transient
    }
}

async fn bare(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

fn pipeline() -> Pipeline {
    let clock = SystemClock::shared();
    let breaker =
        CircuitBreaker::new("bench", &CircuitBreakerConfig::default(), clock.clone()).unwrap();
    Pipeline::builder()
        .retry(Retry::new("bench", clock))
        .circuit_breaker(breaker)
        .build()
}

fn overhead(c: &mut Criterion) {
    let pipeline = pipeline();
    let mut group = c.benchmark_group("overhead");
    group.bench_function("bare", |b| b.iter(|| block_on(bare(black_box(1))).unwrap()));
    group.bench_function("retry+closed_breaker", |b| {
        b.iter(|| block_on(pipeline.call(|| bare(black_box(1)))).unwrap())
    });
    group.finish();
}

/// The criterion groups, configured from the command line (`--measurement-time` ...).
fn benches() -> Criterion {
    let mut criterion = Criterion::default().configure_from_args();
    overhead(&mut criterion);
    criterion
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

fn main() {
    benches().final_summary();

    let pipeline = pipeline();
    let iterations = 1_000_000;
    let bare_cost = per_call(iterations, || {
        black_box(block_on(bare(black_box(1))).unwrap());
    });
    let wrapped_cost = per_call(iterations, || {
        black_box(block_on(pipeline.call(|| bare(black_box(1)))).unwrap());
    });
    let added = wrapped_cost.saturating_sub(bare_cost);
    // Printing the result is this binary's job.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "added cost per call (retry + closed breaker): {} ns (bare {} ns, wrapped {} ns); target < 200 ns",
            added.as_nanos(),
            bare_cost.as_nanos(),
            wrapped_cost.as_nanos()
        );
    }
}
