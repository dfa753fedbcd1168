//! Turns on `cfg(weft_orquesta_live)` for `tests/orquesta_diff.rs` when
//! `WEFT_ORQUESTA_PYTHON` names a Python that can `import orquesta`;
//! without it, the live differential test shows as ignored.

use std::process::Command;

/// Asks cargo to run this script again when `module`'s source changes (an
/// upgrade rewrites its `__init__.py`): what the script found would
/// otherwise stay as it was at the first build.
fn watch_module(python: &std::ffi::OsStr, module: &str) {
    let out = Command::new(python)
        .args(["-c", &format!("import {module}; print({module}.__file__)")])
        .output();
    if let Ok(out) = out {
        let file = String::from_utf8_lossy(&out.stdout);
        let file = file.trim();
        if out.status.success() && !file.is_empty() {
            println!("cargo::rerun-if-changed={file}");
        }
    }
}

fn main() {
    println!("cargo:rustc-check-cfg=cfg(weft_orquesta_live)");
    println!("cargo:rerun-if-env-changed=WEFT_ORQUESTA_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(python) = std::env::var_os("WEFT_ORQUESTA_PYTHON") else {
        return;
    };
    watch_module(&python, "orquesta");
    let imports = Command::new(&python)
        .args(["-c", "import orquesta"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if imports {
        println!("cargo:rustc-cfg=weft_orquesta_live");
        println!(
            "cargo:rustc-env=WEFT_ORQUESTA_LIVE_PYTHON={}",
            python.to_string_lossy()
        );
    } else {
        println!(
            "cargo:warning=WEFT_ORQUESTA_PYTHON={} cannot `import orquesta`: the live Orquesta test stays ignored",
            python.to_string_lossy()
        );
    }
}
