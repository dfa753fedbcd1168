//! Sets `cfg(weft_browser)` when Chromium and its WebDriver are installed,
//! so that the browser test runs there and shows as ignored elsewhere, and
//! `cfg(weft_postgres_tests)` when `WEFT_TEST_POSTGRES_URL` is set, so that
//! the tests on a Postgres store show as ignored without a server.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_browser)");
    println!("cargo::rustc-check-cfg=cfg(weft_postgres_tests)");
    println!("cargo::rerun-if-env-changed=WEFT_TEST_POSTGRES_URL");
    if std::env::var_os("WEFT_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=weft_postgres_tests");
    }
    println!("cargo::rerun-if-env-changed=WEFT_CHROMIUM");
    println!("cargo::rerun-if-env-changed=WEFT_CHROMEDRIVER");
    let chromium =
        std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let driver =
        std::env::var("WEFT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    let mut found = true;
    for program in [&chromium, &driver] {
        let path = Path::new(program);
        if path.is_file() {
            println!("cargo::rerun-if-changed={program}");
        } else {
            found = false;
            // Looked at again when something is installed beside it (a
            // path that does not exist would make Cargo run this script,
            // and rebuild the crate, at every build).
            if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
                println!("cargo::rerun-if-changed={}", dir.display());
            }
        }
    }
    if found {
        println!("cargo::rustc-cfg=weft_browser");
    }
}
