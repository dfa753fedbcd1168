//! Configuration for the tests that need something of the machine, so that
//! without it they are reported as ignored, not as passed:
//!
//! * `cfg(weft_postgres_tests)` when `WEFT_TEST_POSTGRES_URL` is set (a
//!   PostgreSQL server to run against);
//! * `cfg(weft_mount_tests)` on Linux when `unshare --user --map-root-user
//!   --mount` works here, so that a test can mount a small tmpfs and fill
//!   it (a full disk) without touching the machine's own mounts.

use std::process::{Command, Stdio};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(weft_mount_tests)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=WEFT_TEST_POSTGRES_URL");
    if std::env::var_os("WEFT_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=weft_postgres_tests");
    }
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let host_is_target = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if linux && host_is_target {
        let mounts = Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounts {
            println!("cargo::rustc-cfg=weft_mount_tests");
        }
    }
}
