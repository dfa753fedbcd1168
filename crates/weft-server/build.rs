//! Sets `cfg(weft_browser)` when Chromium and its WebDriver are installed,
//! so that the browser test runs there and shows as ignored elsewhere.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_browser)");
    println!("cargo::rerun-if-env-changed=WEFT_CHROMIUM");
    println!("cargo::rerun-if-env-changed=WEFT_CHROMEDRIVER");
    let chromium =
        std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let driver =
        std::env::var("WEFT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    // Looked at again when either appears or changes (a path that does not
    // exist makes Cargo run this script at every build: it is cheap).
    println!("cargo::rerun-if-changed={chromium}");
    println!("cargo::rerun-if-changed={driver}");
    if Path::new(&chromium).is_file() && Path::new(&driver).is_file() {
        println!("cargo::rustc-cfg=weft_browser");
    }
}
