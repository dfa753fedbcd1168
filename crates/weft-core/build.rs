//! Tells the tests whether a Python with the `yaql` library is at hand
//! (`WEFT_YAQL_PYTHON`, or else `python3`): the YAQL differential suite
//! then recomputes its expectations live, and is ignored otherwise.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WEFT_YAQL_PYTHON");
    println!("cargo:rustc-check-cfg=cfg(weft_yaql_python)");
    let python = std::env::var("WEFT_YAQL_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let found = Command::new(&python)
        .args(["-c", "import collections.abc, yaql"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        println!("cargo:rustc-cfg=weft_yaql_python");
        println!("cargo:rustc-env=WEFT_YAQL_PYTHON={python}");
    }
}
