//! Turns on the live differential tests when `WEFT_ORQUESTA_PYTHON` names
//! a Python that has what they ask; without it they show as ignored:
//!
//! * `cfg(weft_st2_functions_live)`: PyYAML, semver, jsonpath-rw and
//!   orjson, for `tests/functions_st2.rs` (`scripts/st2_functions_expect.py`);
//! * `cfg(weft_orquesta_jinja_live)`: those and Orquesta 1.6 or later
//!   (with Jinja2), for `tests/jinja_orquesta.rs` (`scripts/jinja_expect.py`).
//!   PyPI's newest Orquesta is 1.2.0: install it from its source.

use std::process::Command;

fn imports(python: &std::ffi::OsStr, modules: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

/// Asks cargo to run this script again when `module`'s source changes (an
/// upgrade rewrites its `__init__.py`); Python prints the directive.
fn watch_module(python: &std::ffi::OsStr, module: &str) {
    let code = format!("import {module}; print('cargo::rerun-if-changed=' + {module}.__file__)");
    let out = Command::new(python).args(["-c", &code]).output();
    out.into_iter()
        .filter(|o| o.status.success())
        .for_each(|o| print!("{}", String::from_utf8_lossy(&o.stdout)));
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_st2_functions_live)");
    println!("cargo::rustc-check-cfg=cfg(weft_orquesta_jinja_live)");
    println!("cargo::rerun-if-env-changed=WEFT_ORQUESTA_PYTHON");
    println!("cargo::rerun-if-changed=build.rs");
    let Some(python) = std::env::var_os("WEFT_ORQUESTA_PYTHON") else {
        return;
    };
    for module in [
        "orquesta",
        "jinja2",
        "yaml",
        "semver",
        "jsonpath_rw",
        "orjson",
    ] {
        watch_module(&python, module);
    }
    let functions = "yaml, semver, jsonpath_rw, orjson";
    if imports(&python, functions) {
        println!("cargo::rustc-cfg=weft_st2_functions_live");
        println!(
            "cargo::rustc-env=WEFT_LIVE_PYTHON={}",
            python.to_string_lossy()
        );
        // The recorded answers are Orquesta 1.6.0's. The newest on PyPI,
        // 1.2.0, reads `collections.Mapping`, gone since Python 3.10: its
        // `item()` fails there, and the test would call that a difference.
        let recent = "orquesta, jinja2, re, sys; \
             sys.exit([int(re.match(r'\\d*', p).group() or 0) \
             for p in orquesta.__version__.split('.')[:2]] < [1, 6])";
        if imports(&python, recent) {
            println!("cargo::rustc-cfg=weft_orquesta_jinja_live");
        } else if imports(&python, "orquesta, jinja2") {
            println!(
                "cargo::warning=WEFT_ORQUESTA_PYTHON={} has an Orquesta older than 1.6 (PyPI's newest is 1.2.0): \
                 install Orquesta from its source (`pip install <checkout of StackStorm/orquesta>`); \
                 the live Jinja test stays ignored",
                python.to_string_lossy()
            );
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
