//! `seam storage verify` on two local folders: the primary under `<data>/files` and the
//! mirror under `<data>/files-mirror`, written in process through the same wiring the
//! services use, then damaged on purpose.

use std::path::Path;
use std::process::{Command, Output};

use seam_storage::{ObjectKey, ObjectStorageExt, PutOptions};
use seam_wiring::{FileStorage, MirrorSettings, Settings};

/// Runs `seam` on the embedded defaults under `data`, plus `env`.
fn seam(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .env("SEAM_CONFIG_DIR", config)
        .env("SEAM_DATA_DIR", data)
        .env_remove("SEAM_ENV")
        .envs(env.iter().copied())
        .output()
        .expect("seam runs")
}

const WITH_MIRROR: &[(&str, &str)] = &[("SEAM_STORAGE__MIRROR__BACKEND", "local")];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes three objects through the mirrored storage, so both folders have them.
async fn write_mirrored(data: &Path) {
    let mut settings = Settings {
        data_dir: data.to_path_buf(),
        ..Settings::default()
    };
    settings.storage.mirror = Some(MirrorSettings::default());
    let storage = FileStorage::build(&settings).expect("the storage builds");
    for (key, content) in [
        ("tenants/t1/a.txt", "alpha"),
        ("tenants/t1/b.txt", "bravo"),
        ("tenants/t2/c.txt", "charlie"),
    ] {
        storage
            .storage()
            .put_bytes(
                &ObjectKey::parse(key).unwrap(),
                content.into(),
                PutOptions::default(),
            )
            .await
            .expect("put");
    }
}

#[tokio::test]
async fn verify_reports_missing_and_different_objects_and_fails() {
    let data = tempfile::tempdir().unwrap();
    write_mirrored(data.path()).await;
    let mirror = data.path().join("files-mirror");
    assert!(
        mirror.join("tenants/t1/a.txt").is_file(),
        "the mirror was written"
    );

    let output = seam(data.path(), &["storage", "verify"], WITH_MIRROR);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "checked 3 object(s): 0 missing from the mirror, 0 different\n"
    );

    // Damage the mirror: one object gone, one with other bytes of the same size.
    std::fs::remove_file(mirror.join("tenants/t1/a.txt")).unwrap();
    std::fs::write(mirror.join("tenants/t2/c.txt"), "CHARLIE").unwrap();

    let output = seam(data.path(), &["storage", "verify"], WITH_MIRROR);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "missing    tenants/t1/a.txt\n\
         different  tenants/t2/c.txt\n\
         checked 3 object(s): 1 missing from the mirror, 1 different\n"
    );
    assert_eq!(
        text(&output.stderr),
        "seam: the mirror does not match the primary storage (see the keys above)\n"
    );

    // A queued mirror is checked the same way (its stores are built with the database).
    let output = seam(
        data.path(),
        &["storage", "verify"],
        &[
            ("SEAM_STORAGE__MIRROR__BACKEND", "local"),
            ("SEAM_STORAGE__MIRROR__MODE", "queue"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout)
            .ends_with("checked 3 object(s): 1 missing from the mirror, 1 different\n")
    );

    // A prefix narrows the check.
    let output = seam(
        data.path(),
        &["storage", "verify", "--prefix", "tenants/t1/"],
        WITH_MIRROR,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stdout),
        "missing    tenants/t1/a.txt\n\
         checked 2 object(s) under \"tenants/t1/\": 1 missing from the mirror, 0 different\n"
    );
}

#[test]
fn verify_without_a_mirror_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    let output = seam(data.path(), &["storage", "verify"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("seam: no storage mirror is configured: add [storage.mirror]"),
        "{stderr}"
    );
}
