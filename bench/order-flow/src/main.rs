//! The order-flow benchmarks, each printing its figure beside its floor and target:
//!
//! 1. `api`: `POST /v1/orders` on Postgres, `seam-api` in process vs a raw axum + sqlx
//!    handler doing the same work (target >= 0.8x the floor's req/s).
//! 2. `worker`: the worker's `ConsumerLoop` over the RabbitMQ adapter vs a raw lapin
//!    consumer, same prefetch (target >= 0.7x the floor's messages/s).
//! 3. `relay`: commit-to-publish-confirm lag of the outbox relay (target p99 < 100 ms).
//!
//! `cargo run --release -p seam-bench-order-flow -- <api|worker|relay|all>`. Needs
//! Postgres (`SEAM_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and RabbitMQ (`SEAM_BENCH_AMQP_URL`, default the local broker as guest). Each run
//! makes its own database and broker names and removes them. Request counts and
//! durations are fixed; everything is on loopback. A missed target is reported, not an
//! error: the exit status is non-zero only when a benchmark could not run.
#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

mod api;
mod database;
mod load;
mod relay;
mod stats;
mod worker;

use std::process::ExitCode;

use stats::{Verdict, mark};

const USAGE: &str = "usage: seam-bench-order-flow <api|worker|relay|all>";

fn main() -> ExitCode {
    let which: Vec<String> = std::env::args().skip(1).collect();
    let selected: Vec<&str> = match which.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["all"] | [] => vec!["api", "worker", "relay"],
        ["api"] => vec!["api"],
        ["worker"] => vec!["worker"],
        ["relay"] => vec!["relay"],
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
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
    runtime.block_on(run(&selected))
}

async fn run(selected: &[&str]) -> ExitCode {
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut failed = false;
    for name in selected {
        let outcome = match *name {
            "api" => api::run().await,
            "worker" => worker::run().await,
            _ => relay::run().await,
        };
        match outcome {
            Ok(verdict) => verdicts.push(verdict),
            Err(error) => {
                failed = true;
                eprintln!("benchmark {name} failed: {error:#}");
            }
        }
        println!();
    }
    println!("== Summary");
    for verdict in &verdicts {
        println!(
            "   {:<22} {}  [{}]",
            verdict.name,
            verdict.figure,
            mark(verdict.met)
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
