//! Integration tests of seam-config: layering and error messages.
//!
//! `figment::Jail` runs each test in a fresh working directory with its own
//! environment variables, serialised with the other jails.

// figment::Jail fixes the closure type; its error is large by design.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use figment::Jail;
use seam_config::{ConfigError, ConfigLoader, DatabaseBackend, Settings};
use seam_core::ExposeSecret;

fn load(jail: &Jail) -> Result<Settings, ConfigError> {
    ConfigLoader::from_env()
        .with_dir(jail.directory().join("config"))
        .load()
}

fn problems(jail: &Jail) -> Vec<String> {
    load(jail)
        .expect_err("configuration should be refused")
        .problems()
}

#[test]
fn compiled_in_defaults_run_with_no_files() {
    Jail::expect_with(|jail| {
        let settings = load(jail).expect("defaults are valid");
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.worker.port, 8081);
        assert_eq!(settings.database.backend, DatabaseBackend::Sqlite);
        assert_eq!(
            settings.database_url().unwrap().expose_secret(),
            "sqlite://data/seam.db?mode=rwc"
        );
        // Default secrets survive (they are never round-tripped through the redacting
        // serialiser).
        assert_eq!(
            settings.queue.amqp.url.expose_secret(),
            "amqp://guest:guest@127.0.0.1:5672/%2f"
        );
        Ok(())
    });
}

#[test]
fn layers_apply_in_order_defaults_file_environment_file_env_vars() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file(
            "config/default.toml",
            r#"
            [server]
            port = 9000
            request_timeout = "10s"
            [worker]
            concurrency = 2
            "#,
        )?;
        jail.create_file(
            "config/staging.toml",
            r#"
            [server]
            port = 9100
            [database]
            backend = "postgres"
            url = "postgres://seam:pw@db.internal:5432/seam"
            "#,
        )?;
        jail.set_env("SEAM_ENV", "staging");
        jail.set_env("SEAM_WORKER__CONCURRENCY", "8");
        let settings = load(jail).expect("valid settings");
        // default.toml over compiled-in defaults...
        assert_eq!(settings.server.request_timeout, Duration::from_secs(10));
        // ...the environment's file over default.toml...
        assert_eq!(settings.server.port, 9100);
        assert_eq!(settings.database.backend, DatabaseBackend::Postgres);
        // ...and environment variables over everything.
        assert_eq!(settings.worker.concurrency, 8);
        // Untouched keys keep their compiled-in default.
        assert_eq!(settings.server.body_limit_bytes, 1024 * 1024);
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_key_the_expectation_and_the_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_SERVER__PORT", "eighty");
        let problems = problems(jail);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0],
            "`server.port`: expected u16, found string \"eighty\" (from environment variable SEAM_SERVER__PORT)"
        );
        Ok(())
    });
}

#[test]
fn a_wrong_type_in_a_file_names_the_file() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file("config/default.toml", "[health]\ninterval = \"often\"\n")?;
        let problems = problems(jail);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("`health.interval`: "),
            "{problems:?}"
        );
        assert!(problems[0].contains("default.toml"), "{problems:?}");
        Ok(())
    });
}

#[test]
fn an_unknown_key_lists_the_valid_ones() {
    Jail::expect_with(|jail| {
        // A single underscore where `__` was meant is the classic mistake.
        jail.set_env("SEAM_DATABASE_URL", "postgres://x");
        let problems = problems(jail);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("`database_url`: unknown key; expected one of `data_dir`, `server`"),
            "{problems:?}"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_backend_lists_the_valid_ones() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_DATABASE__BACKEND", "mysql");
        let problems = problems(jail);
        assert_eq!(
            problems,
            vec![
                "`database.backend`: unknown value \"mysql\"; expected one of `sqlite`, `postgres` (from environment variable SEAM_DATABASE__BACKEND)"
            ]
        );
        Ok(())
    });
}

#[test]
fn postgres_needs_a_url_and_the_right_scheme() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_DATABASE__BACKEND", "postgres");
        let missing = problems(jail);
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0]
                .starts_with("`database.url`: required when `database.backend` is \"postgres\"")
        );

        jail.set_env("SEAM_DATABASE__URL", "mysql://root:hunter2@db/seam");
        let wrong = problems(jail);
        assert_eq!(
            wrong,
            vec![
                "`database.url`: expected a postgres://… URL for backend \"postgres\", found scheme \"mysql\""
            ]
        );
        assert!(!wrong[0].contains("hunter2"), "the password leaked");
        Ok(())
    });
}

#[test]
fn worker_relay_and_retry_timings_are_settings_and_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_WORKER__RELAY_LEASE", "5s");
        jail.set_env("SEAM_WORKER__RETRY_BASE_DELAY", "250ms");
        let settings = load(jail).expect("valid timings");
        assert_eq!(settings.worker.relay_lease, Duration::from_secs(5));
        assert_eq!(settings.worker.retry_base_delay, Duration::from_millis(250));

        jail.set_env("SEAM_WORKER__RELAY_LEASE", "10ms");
        jail.set_env("SEAM_WORKER__RETRY_MAX_DELAY", "100ms");
        let problems = problems(jail);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("`worker.relay_lease`: must be at least 1s")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("`worker.retry_max_delay`")),
            "{problems:?}"
        );
        Ok(())
    });
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_WORKER__CONCURRENCY", "0");
        jail.set_env("SEAM_DATABASE__MAX_CONNECTIONS", "0");
        jail.set_env("SEAM_HEALTH__DEGRADED_AFTER", "10s");
        let problems = problems(jail);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("`worker.concurrency`: expected 1 to 1024, found 0"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("`database.max_connections`"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("health.degraded_after (10s)"))
        );
        Ok(())
    });
}

#[test]
fn a_named_environment_must_have_its_file() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_ENV", "prod");
        let error = load(jail).unwrap_err();
        assert!(matches!(error, ConfigError::MissingEnvironmentFile { .. }));
        assert!(
            error.to_string().starts_with("SEAM_ENV=prod but "),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .ends_with("prod.toml does not exist (create it, or unset SEAM_ENV)"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn secrets_from_env_are_redacted_in_the_startup_dump() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_DATABASE__BACKEND", "postgres");
        jail.set_env(
            "SEAM_DATABASE__URL",
            "postgres://seam:hunter2@127.0.0.1/seam",
        );
        let settings = load(jail).expect("valid settings");
        assert_eq!(
            settings.database_url().unwrap().expose_secret(),
            "postgres://seam:hunter2@127.0.0.1/seam"
        );
        let dump = settings.redacted_json();
        assert!(!dump.contains("hunter2"), "{dump}");
        assert!(dump.contains(r#""url":"[REDACTED]""#), "{dump}");
        assert!(!format!("{settings:?}").contains("hunter2"));
        Ok(())
    });
}

#[test]
fn shipped_config_files_are_valid() {
    // The repository's own config/ folder: default.toml and every overlay must load,
    // given the secrets that deployments pass through the environment.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config")
        .canonicalize()
        .expect("the repository has a config folder");
    let mut overlays = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|ext| ext == "toml") && stem != "default" {
            overlays.push(stem);
        }
    }
    assert!(overlays.len() >= 3, "{overlays:?}");
    Jail::expect_with(|jail| {
        jail.set_env(
            "SEAM_DATABASE__URL",
            "postgres://seam:secret@127.0.0.1:5432/seam",
        );
        // Production signs with configured keys, given like the database URL.
        jail.set_env(
            "SEAM_AUTH__ISSUER__KEYS",
            r#"[{kid = "2026-11", algorithm = "RS256", private_key_file = "/run/secrets/seam-signing.pem"}]"#,
        );
        for overlay in &overlays {
            let mut loader = ConfigLoader::from_env()
                .with_dir(&dir)
                .with_environment(Some(overlay.clone()));
            if overlay == "test" {
                // The test overlay keeps SQLite; the URL above is for the others.
                loader = loader.without_env_vars();
            }
            if let Err(error) = loader.load::<Settings>() {
                panic!("config/{overlay}.toml does not load: {error}");
            }
        }
        Ok(())
    });
}

#[test]
fn integration_backends_are_enums_with_their_own_checks() {
    Jail::expect_with(|jail| {
        jail.set_env("SEAM_EMAIL__BACKEND", "sendgrid");
        jail.set_env("SEAM_QUEUE__BACKEND", "amqp");
        jail.set_env("SEAM_QUEUE__AMQP__URL", "http://rabbit");
        jail.set_env("SEAM_CACHE__BACKEND", "memcached");
        let first = problems(jail);
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(
            first[0].starts_with("`cache.backend`: unknown value \"memcached\"; expected one of `memory`, `redis`, `none`"),
            "{first:?}"
        );

        jail.set_env("SEAM_CACHE__BACKEND", "redis");
        assert_eq!(
            problems(jail),
            vec![
                "`queue.amqp.url`: expected an amqp:// or amqps:// URL",
                "`email.sendgrid.api_key`: required when `email.backend` is \"sendgrid\" (set SEAM_EMAIL__SENDGRID__API_KEY)",
            ]
        );

        jail.set_env(
            "SEAM_QUEUE__AMQP__URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        );
        jail.set_env("SEAM_EMAIL__SENDGRID__API_KEY", "SG.secret");
        let settings = load(jail).expect("valid");
        assert_eq!(settings.queue.backend, seam_config::QueueBackend::Amqp);
        assert_eq!(settings.email.backend, seam_config::EmailBackend::Sendgrid);
        assert!(!settings.redacted_json().contains("SG.secret"));
        Ok(())
    });
}
