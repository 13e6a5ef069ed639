//! Rebuilds the crate when a migration is added, removed or changed: `sqlx::migrate!`
//! embeds the files, but cargo only tracks the ones that existed at the last build.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
