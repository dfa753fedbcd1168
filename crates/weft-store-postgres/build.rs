//! Turns on `cfg(weft_postgres_tests)` when `WEFT_TEST_POSTGRES_URL` is
//! set, so that the tests that need a PostgreSQL server are reported as
//! ignored without one, not as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_postgres_tests)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=WEFT_TEST_POSTGRES_URL");
    if std::env::var_os("WEFT_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=weft_postgres_tests");
    }
}
