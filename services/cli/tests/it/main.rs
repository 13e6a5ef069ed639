//! End-to-end tests of the `seam` command line against SQLite and the real PostgreSQL.

mod dlq;
mod storage;
mod token;
mod webhooks;

use std::path::Path;
use std::process::{Command, Output};

use seam_testkit::TestPostgres;

/// Runs `seam` with `args` against the database at `url`, from an empty folder so that
/// only the repository's config (through `SEAM_CONFIG_DIR`) applies.
fn seam(url: &str, args: &[&str]) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .arg("--database-url")
        .arg(url)
        .env("SEAM_CONFIG_DIR", config)
        .output()
        .expect("seam runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "seam failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every migration this build knows, as the CLI prints them (`1, 2, 3`).
fn all_versions(backend: seam_sql::Backend) -> String {
    let versions: Vec<String> = seam_sql::known_versions(backend)
        .iter()
        .map(i64::to_string)
        .collect();
    versions.join(", ")
}

fn the_whole_cycle(url: &str) {
    let backend = seam_sql::Backend::from_url(url).unwrap();
    let all = all_versions(backend);
    let latest = *seam_sql::known_versions(backend).last().unwrap();
    assert!(stdout(&seam(url, &["migrate", "up"])).ends_with(&format!(": applied {all}\n")));
    assert!(stdout(&seam(url, &["migrate", "up"])).ends_with(": up to date, nothing to apply\n"));

    let status = stdout(&seam(url, &["migrate", "status"]));
    let rows: Vec<&str> = status.lines().skip(2).collect();
    assert_eq!(
        rows.len(),
        seam_sql::known_versions(backend).len(),
        "{status}"
    );
    assert!(rows[0].starts_with("1        applied "), "{status}");
    assert!(rows.iter().all(|row| row.contains(" applied ")), "{status}");

    let seeded = stdout(&seam(url, &["seed"]));
    assert!(seeded.contains("seeded:"), "{seeded}");
    let again = stdout(&seam(url, &["seed"]));
    assert_ne!(seeded, again, "the second seed must report existing rows");

    let newest_first: Vec<String> = seam_sql::known_versions(backend)
        .iter()
        .rev()
        .filter(|version| **version > 1)
        .map(i64::to_string)
        .collect();
    assert!(
        stdout(&seam(url, &["migrate", "down", "--to", "1"]))
            .ends_with(&format!(": reverted {}\n", newest_first.join(", ")))
    );
    let status = stdout(&seam(url, &["migrate", "status"]));
    assert!(
        status.contains(&format!("{latest:<8} pending ")),
        "{status}"
    );
    assert!(stdout(&seam(url, &["migrate", "down"])).ends_with(": reverted 1\n"));
    assert!(stdout(&seam(url, &["migrate", "down"])).ends_with(": nothing to revert\n"));
    assert!(stdout(&seam(url, &["migrate", "up"])).ends_with(&format!(": applied {all}\n")));
}

#[test]
fn migrate_and_seed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    the_whole_cycle(&url);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_and_seed_on_postgres() {
    let database = TestPostgres::new().await;
    let url = database.url().to_owned();
    tokio::task::spawn_blocking(move || the_whole_cycle(&url))
        .await
        .unwrap();
    database.cleanup().await;
}

#[test]
fn an_unknown_version_is_refused_and_nothing_is_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    stdout(&seam(&url, &["migrate", "up"]));
    let output = seam(&url, &["migrate", "down", "--to", "77"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("seam: "), "{stderr}");
    assert!(stderr.contains("77"), "{stderr}");
    let status = stdout(&seam(&url, &["migrate", "status"]));
    assert!(!status.contains("pending"), "{status}");
}

#[test]
fn seeding_before_migrating_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let output = seam(&url, &["seed"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("seam migrate up"), "{stderr}");
}

#[test]
fn a_bad_url_is_a_usage_error() {
    let output = seam("mysql://root@127.0.0.1/seam", &["migrate", "status"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database.url"), "{stderr}");
}

#[test]
fn an_unreachable_server_fails_naming_it_without_the_password() {
    let output = seam(
        "postgres://seam:hunter2@127.0.0.1:1/seam",
        &["migrate", "status"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
