//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the migration files
//! at compile time, and cargo does not watch a folder that no source file names.
fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
}
