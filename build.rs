//! Turns the Postgres store tests on when `KOOGATE_TEST_DATABASE_URL` is set at build time; without it
//! they are compiled as `#[ignore]`d with a reason, so `cargo test` lists every one as skipped.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(koogate_pg)");
    println!("cargo::rerun-if-env-changed=KOOGATE_TEST_DATABASE_URL");
    if std::env::var("KOOGATE_TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo::rustc-cfg=koogate_pg");
    }
}
