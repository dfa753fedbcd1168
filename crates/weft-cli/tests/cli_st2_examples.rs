//! StackStorm's `examples` pack run by reference from the command line,
//! with StackStorm's `core` pack: `weft run --pack … examples.NAME -i …`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{json, Value};

fn st2(pack: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../weft-stackstorm/tests/st2")
        .join(pack)
}

#[test]
fn the_sequential_example_greets_as_in_stackstorm() {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .timeout(Duration::from_secs(120))
        .args(["run", "-q", "--pack"])
        .arg(st2("core"))
        .arg("--pack")
        .arg(st2("examples"))
        .args([
            "--st2-api-url",
            "http://127.0.0.1:9101/v1",
            "examples.orquesta-sequential",
            "-i",
            "name=Thanos",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["result"]["output"],
        json!({"greeting": "Thanos, All your base are belong to us!"})
    );
}
