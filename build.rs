//! Turns on `cfg(weft_orquesta_live)` for `tests/orquesta_diff.rs` when
//! `WEFT_ORQUESTA_PYTHON` names a Python that can `import orquesta`;
//! without it, the live differential test shows as ignored.

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(weft_orquesta_live)");
    println!("cargo:rerun-if-env-changed=WEFT_ORQUESTA_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(python) = std::env::var_os("WEFT_ORQUESTA_PYTHON") else {
        return;
    };
    // Whether it imports Orquesta; when it does, Python also prints the
    // directive to run this script again when Orquesta's source changes
    // (an upgrade rewrites its `__init__.py`).
    let probe = "import orquesta; print('cargo::rerun-if-changed=' + orquesta.__file__)";
    let imports = Command::new(&python)
        .args(["-c", probe])
        .output()
        .map(|out| {
            print!("{}", String::from_utf8_lossy(&out.stdout));
            out.status.success()
        })
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
