//! Tells the tests whether a Python with the `yaql` library is at hand
//! (`WEFT_YAQL_PYTHON`, or else `python3`): the YAQL differential suite
//! then recomputes its expectations live, and is ignored otherwise.

use std::process::Command;

/// Asks cargo to run this script again when `module`'s source changes (an
/// upgrade rewrites its `__init__.py`); Python prints the directive.
fn watch_module(python: &str, module: &str) {
    let code = format!("import {module}; print('cargo::rerun-if-changed=' + {module}.__file__)");
    let out = Command::new(python).args(["-c", &code]).output();
    out.into_iter()
        .filter(|o| o.status.success())
        .for_each(|o| print!("{}", String::from_utf8_lossy(&o.stdout)));
}

fn main() {
    println!("cargo:rerun-if-env-changed=WEFT_YAQL_PYTHON");
    println!("cargo:rustc-check-cfg=cfg(weft_yaql_python)");
    let python = std::env::var("WEFT_YAQL_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    watch_module(&python, "yaql");
    let found = Command::new(&python)
        .args(["-c", "import collections.abc, yaql"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        println!("cargo:rustc-cfg=weft_yaql_python");
        println!("cargo:rustc-env=WEFT_YAQL_PYTHON={python}");
    }
}
