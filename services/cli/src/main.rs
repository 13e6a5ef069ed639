//! `seam`: the Seam command line.
//!
//! ```text
//! seam migrate up                  apply pending migrations
//! seam migrate down [--to VERSION] revert migrations, newest first (default: all)
//! seam migrate status              list migrations, applied or pending
//! seam seed                        load demo data (idempotent)
//! seam token issue --user ID [--role R]... [--ttl 1h]
//!                                  print an access token for the API
//! seam storage verify [--prefix P] check the storage mirror against the primary
//! seam webhooks list [--status failed] [--provider P] [--limit N]
//!                                  the webhook event log, newest first
//! seam webhooks replay ID [--provider stripe]
//!                                  enqueue a logged webhook event again
//! ```
//!
//! The database comes from the same configuration as the services (`config/`,
//! `SEAM_ENV`, `SEAM_*` variables); `--database-url` overrides it.
//! Exit codes: 0 success, 1 failure, 2 bad usage or configuration.

mod storage;
mod token;
mod webhooks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seam_core::SecretString;
use seam_sql::Database;
use seam_wiring::{DatabaseBackend, Settings};

#[derive(Debug, Parser)]
#[command(name = "seam", version, about = "The Seam command line", long_about = None)]
struct Cli {
    /// Database URL (postgres://… or sqlite:…), overriding the configuration
    /// (which `SEAM_DATABASE__URL` also sets).
    #[arg(long, global = true)]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: Migrate,
    },
    /// Load demo data: a few products with stock and a customer. Safe to run twice.
    Seed,
    /// Dead-lettered messages: inspect, replay, purge.
    Dlq {
        #[command(subcommand)]
        action: Dlq,
    },
    /// Access tokens for the API.
    Token {
        #[command(subcommand)]
        action: token::Token,
    },
    /// File storage: check the mirror.
    Storage {
        #[command(subcommand)]
        action: storage::Storage,
    },
    /// Inbound webhook events: list the log, replay an event.
    Webhooks {
        #[command(subcommand)]
        action: webhooks::Webhooks,
    },
}

#[derive(Debug, Subcommand)]
enum Dlq {
    /// List dead letters of a queue, oldest first.
    List {
        /// The queue (`orders` or `order-emails`); default: both.
        #[arg(long)]
        queue: Option<String>,
        /// At most this many per queue.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one dead letter in full.
    Show {
        /// Its id, as `list` prints it.
        id: String,
    },
    /// Put dead letters back on their queue.
    Replay {
        /// One dead letter's id.
        id: Option<String>,
        /// Every dead letter of the queue (or of both queues).
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// With --all: only this queue.
        #[arg(long, requires = "all")]
        queue: Option<String>,
    },
    /// Delete dead letters for good.
    Purge {
        /// The queue; default: both.
        #[arg(long)]
        queue: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Migrate {
    /// Apply every pending migration.
    Up,
    /// Revert applied migrations, newest first.
    Down {
        /// Keep migrations up to and including this version (default: revert all).
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
    },
    /// List migrations and whether they are applied.
    Status,
}

/// What went wrong, and the exit code that says so.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }

    fn failed(error: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: error.to_string(),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("seam: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Warnings and errors only, on standard error: standard output is the command's answer.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut settings: Settings = seam_wiring::load_settings().map_err(Failure::usage)?;
    if let Some(url) = cli.database_url {
        settings.database.backend = if url.starts_with("postgres") {
            DatabaseBackend::Postgres
        } else {
            DatabaseBackend::Sqlite
        };
        settings.database.url = Some(SecretString::from(url));
    }
    let command = match cli.command {
        Command::Token { action } => return token::run(&settings, action).await,
        // Storage commands need no database.
        Command::Storage { action } => return storage::run(&settings, action).await,
        command => command,
    };
    let config = seam_wiring::sql_config(&settings);
    config.validate().map_err(Failure::usage)?;
    let database = Database::connect(&config).await.map_err(Failure::failed)?;
    let result = execute(&settings, &database, command).await;
    database.close().await;
    result
}

fn queues(queue: Option<String>) -> Vec<String> {
    queue.map_or_else(
        || {
            vec![
                seam_orders::ORDERS_QUEUE.to_owned(),
                seam_orders::EMAILS_QUEUE.to_owned(),
            ]
        },
        |queue| vec![queue],
    )
}

fn parse_uuid(text: &str) -> Result<uuid::Uuid, Failure> {
    uuid::Uuid::parse_str(text.trim())
        .map_err(|_| Failure::usage(format!("{text:?} is not a dead-letter id (a UUID)")))
}

#[allow(clippy::print_stdout)]
async fn dlq(settings: &Settings, database: &Database, action: Dlq) -> Result<(), Failure> {
    let adapters = seam_wiring::Adapters::build(settings, database)
        .await
        .map_err(Failure::failed)?;
    let letters = adapters.queue.dead_letters;
    match action {
        Dlq::List { queue, limit } => {
            println!(
                "{:<36}  {:<13} {:<8} {:<20}  REASON",
                "ID", "QUEUE", "ATTEMPTS", "DEAD-LETTERED AT"
            );
            for queue in queues(queue) {
                for letter in letters.list(&queue, limit).await.map_err(Failure::failed)? {
                    println!(
                        "{:<36}  {:<13} {:<8} {:<20}  {}",
                        letter.id,
                        letter.queue,
                        letter.attempts,
                        letter
                            .dead_lettered_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        letter.reason
                    );
                }
            }
        }
        Dlq::Show { id } => {
            let letter = letters
                .get(parse_uuid(&id)?)
                .await
                .map_err(Failure::failed)?;
            let shown = serde_json::json!({
                "id": letter.id,
                "queue": letter.queue,
                "reason": letter.reason,
                "attempts": letter.attempts,
                "first_failed_at": letter.first_failed_at,
                "last_failed_at": letter.last_failed_at,
                "dead_lettered_at": letter.dead_lettered_at,
                "envelope": letter.envelope,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).map_err(Failure::failed)?
            );
        }
        Dlq::Replay { id: Some(id), .. } => {
            letters
                .replay(parse_uuid(&id)?)
                .await
                .map_err(Failure::failed)?;
            println!("replayed {id}");
        }
        Dlq::Replay {
            id: None,
            all: true,
            queue,
        } => {
            for queue in queues(queue) {
                let count = letters.replay_all(&queue).await.map_err(Failure::failed)?;
                println!("{queue}: replayed {count}");
            }
        }
        Dlq::Replay {
            id: None,
            all: false,
            ..
        } => {
            return Err(Failure::usage("give a dead-letter id, or --all"));
        }
        Dlq::Purge { queue } => {
            for queue in queues(queue) {
                let count = letters.purge(&queue).await.map_err(Failure::failed)?;
                println!("{queue}: purged {count}");
            }
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn execute(
    settings: &Settings,
    database: &Database,
    command: Command,
) -> Result<(), Failure> {
    let target = database.redacted_url();
    match command {
        Command::Migrate {
            action: Migrate::Up,
        } => {
            let applied = database.migrate_up().await.map_err(failed)?;
            if applied.is_empty() {
                println!("{target}: up to date, nothing to apply");
            } else {
                println!("{target}: applied {}", versions(&applied));
            }
        }
        Command::Migrate {
            action: Migrate::Down { to },
        } => {
            let reverted = database.migrate_down(to).await.map_err(failed)?;
            if reverted.is_empty() {
                println!("{target}: nothing to revert");
            } else {
                println!("{target}: reverted {}", versions(&reverted));
            }
        }
        Command::Migrate {
            action: Migrate::Status,
        } => {
            let statuses = database.migration_status().await.map_err(failed)?;
            println!("{target}");
            println!(
                "{:<8} {:<8} {:<26} DESCRIPTION",
                "VERSION", "STATE", "APPLIED AT"
            );
            let mut problems = 0;
            for status in &statuses {
                let state = match (status.applied, status.checksum_ok, status.known) {
                    (true, _, false) => {
                        problems += 1;
                        "unknown"
                    }
                    (true, false, true) => {
                        problems += 1;
                        "changed"
                    }
                    (true, true, true) => "applied",
                    (false, _, _) => "pending",
                };
                let applied_at = status
                    .applied_at
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "-".to_owned());
                println!(
                    "{:<8} {:<8} {:<26} {}",
                    status.version, state, applied_at, status.description
                );
            }
            if problems > 0 {
                return Err(Failure::failed(format!(
                    "{problems} applied migration(s) differ from this build: \
                     `changed` means the file was edited after it was applied (restore it); \
                     `unknown` means a newer release migrated this database"
                )));
            }
        }
        Command::Dlq { action } => dlq(settings, database, action).await?,
        Command::Token { action } => token::run(settings, action).await?,
        Command::Storage { action } => storage::run(settings, action).await?,
        Command::Webhooks { action } => webhooks::run(settings, database, action).await?,
        Command::Seed => {
            let summary = database.seed().await.map_err(failed)?;
            println!("{target}: seeded: {summary}");
        }
    }
    Ok(())
}

fn failed(error: seam_sql::Error) -> Failure {
    // Only a malformed configuration is a usage error; a database in the wrong state
    // (pending or edited migrations, an unknown version) is a failure of the command.
    let code = if matches!(error, seam_sql::Error::Config { .. }) {
        2
    } else {
        1
    };
    Failure {
        code,
        message: error.to_string(),
    }
}

fn versions(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
