//! Turns the Postgres store tests on when `KOOGATE_TEST_DATABASE_URL` is set at build time; without it
//! they are compiled as `#[ignore]`d with a reason, so `cargo test` lists every one as skipped. Also
//! rebuilds when a migration is added (they are embedded).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(koogate_pg)");
    println!("cargo::rerun-if-env-changed=KOOGATE_TEST_DATABASE_URL");
    // `sqlx::migrate!` embeds the migrations at compile time: a new one must rebuild the crate.
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var("KOOGATE_TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo::rustc-cfg=koogate_pg");
    }
}
