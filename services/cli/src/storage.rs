//! `seam storage verify`: does the mirror hold what the primary storage holds?

use clap::Subcommand;
use seam_wiring::{FileStorage, MirrorMode, Settings};

use crate::Failure;

/// File storage commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Storage {
    /// Check that the mirror (`[storage.mirror]`) holds every object of the primary
    /// storage with the same content; list what is missing or different. Exits 1 when
    /// the mirror does not match.
    Verify {
        /// Only objects whose keys start with this (e.g. `tenants/<user id>/`).
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

/// Runs a storage command on the configured storage.
#[allow(clippy::print_stdout)]
pub(crate) async fn run(settings: &Settings, action: Storage) -> Result<(), Failure> {
    match action {
        Storage::Verify { prefix } => {
            if settings.storage.mirror.is_none() {
                return Err(Failure::usage(
                    "no storage mirror is configured: add [storage.mirror] to the configuration \
                     (or set SEAM_STORAGE__MIRROR__BACKEND and its settings)",
                ));
            }
            // A queued mirror's stores are built with the database that holds its queue.
            let queued = settings
                .storage
                .mirror
                .as_ref()
                .is_some_and(|mirror| mirror.mode == MirrorMode::Queue);
            let storage = if queued {
                let config = seam_wiring::sql_config(settings);
                config.validate().map_err(Failure::usage)?;
                let database = seam_sql::Database::connect(&config)
                    .await
                    .map_err(Failure::failed)?;
                let built = FileStorage::build_with_database(settings, &database);
                let storage = built.map_err(Failure::usage);
                database.close().await;
                storage?
            } else {
                FileStorage::build(settings).map_err(Failure::usage)?
            };
            let report = storage.verify(&prefix).await.map_err(Failure::failed)?;
            for key in &report.missing {
                println!("missing    {key}");
            }
            for key in &report.different {
                println!("different  {key}");
            }
            let under = if prefix.is_empty() {
                String::new()
            } else {
                format!(" under {prefix:?}")
            };
            println!(
                "checked {} object(s){under}: {} missing from the mirror, {} different",
                report.checked,
                report.missing.len(),
                report.different.len()
            );
            if !report.is_consistent() {
                return Err(Failure::failed(
                    "the mirror does not match the primary storage (see the keys above)",
                ));
            }
        }
    }
    Ok(())
}
