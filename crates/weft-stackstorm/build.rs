//! Turns on the live differential tests when `WEFT_ORQUESTA_PYTHON` names
//! a Python that has what they ask; without it they show as ignored:
//!
//! * `cfg(weft_st2_functions_live)`: PyYAML, semver, jsonpath-rw and
//!   orjson, for `tests/functions_st2.rs` (`scripts/st2_functions_expect.py`);
//! * `cfg(weft_orquesta_jinja_live)`: those and Orquesta (with Jinja2), for
//!   `tests/jinja_orquesta.rs` (`scripts/jinja_expect.py`).

use std::process::Command;

fn imports(python: &std::ffi::OsStr, modules: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_st2_functions_live)");
    println!("cargo::rustc-check-cfg=cfg(weft_orquesta_jinja_live)");
    println!("cargo::rerun-if-env-changed=WEFT_ORQUESTA_PYTHON");
    println!("cargo::rerun-if-changed=build.rs");
    let Some(python) = std::env::var_os("WEFT_ORQUESTA_PYTHON") else {
        return;
    };
    let functions = "yaml, semver, jsonpath_rw, orjson";
    if imports(&python, functions) {
        println!("cargo::rustc-cfg=weft_st2_functions_live");
        println!(
            "cargo::rustc-env=WEFT_LIVE_PYTHON={}",
            python.to_string_lossy()
        );
        if imports(&python, "orquesta, jinja2") {
            println!("cargo::rustc-cfg=weft_orquesta_jinja_live");
        } else {
            println!(
                "cargo::warning=WEFT_ORQUESTA_PYTHON={} cannot `import orquesta, jinja2`: the live Jinja test stays ignored",
                python.to_string_lossy()
            );
        }
    } else {
        println!(
            "cargo::warning=WEFT_ORQUESTA_PYTHON={} cannot `import {functions}`: the live StackStorm-functions test stays ignored",
            python.to_string_lossy()
        );
    }
}
