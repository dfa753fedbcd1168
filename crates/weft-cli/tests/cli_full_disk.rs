//! A full disk under `weft run --db`, for real: a small tmpfs mounted in a
//! mount namespace of the test's own (`unshare`), filled up. Opening the
//! store on it says the disk is full; a run whose first record does not
//! fit is not reported as kept.
//!
//! Needs `unshare --user --map-root-user --mount` (`build.rs` checks);
//! without it the test is ignored.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// Runs `script` with `sh` in a new user and mount namespace, with `$1`
/// the mount point, `$2` the `weft` binary and `$3` the scratch directory
/// (outside the mount) where the script leaves what the test reads.
fn in_namespace(mnt: &Path, scratch: &Path, script: &str) {
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(mnt)
        .arg(env!("CARGO_BIN_EXE_weft"))
        .arg(scratch)
        .output()
        .expect("run unshare");
    assert!(
        out.status.success(),
        "the script failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(scratch: &Path, name: &str) -> String {
    std::fs::read_to_string(scratch.join(name)).unwrap_or_default()
}

#[cfg_attr(
    not(weft_mount_tests),
    ignore = "needs `unshare --user --map-root-user --mount` to mount a small tmpfs"
)]
#[test]
fn a_full_disk_is_named_and_a_run_that_does_not_fit_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path();
    let mnt = scratch.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(
        scratch.join("wf.yaml"),
        "input: [{blob: small}]\ntasks:\n  a: {action: core.echo, input: {message: hi}}\n",
    )
    .unwrap();
    // A first record of some 300 KB: it cannot fit in what is left below
    // (text the store's LZ4 cannot shrink: a row of one letter repeated
    // would be packed to a kilobyte or two and fit).
    std::fs::write(
        scratch.join("big.json"),
        json!({"blob": weft_test_support::noise(1, 300_000)}).to_string(),
    )
    .unwrap();
    in_namespace(
        &mnt,
        scratch,
        r#"
set -u
mount -t tmpfs -o size=1m tmpfs "$1" || exit 1
"$2" run -q --db "$1/runs.db" "$3/wf.yaml" > /dev/null 2> "$3/first.err" || exit 1
# Room for the store's index and log, not for the big run; then nothing.
dd if=/dev/zero of="$1/spare" bs=4096 count=40 2> /dev/null || exit 1
dd if=/dev/zero of="$1/fill" bs=4096 2> /dev/null
"$2" run -q --db "$1/runs.db" "$3/wf.yaml" > /dev/null 2> "$3/full.err"
echo $? > "$3/full.code"
rm "$1/spare"
"$2" run --json --db "$1/runs.db" --inputs "$3/big.json" "$3/wf.yaml" > "$3/big.out" 2> "$3/big.err"
echo $? > "$3/big.code"
"$2" runs --json --db "$1/runs.db" > "$3/runs.out" 2> "$3/runs.err"
"#,
    );
    assert_eq!(
        read(scratch, "first.err").lines().count(),
        1,
        "{}",
        read(scratch, "first.err")
    );

    // No room at all: opening the store says the disk is full.
    let full = read(scratch, "full.err");
    assert_eq!(read(scratch, "full.code").trim(), "2", "{full}");
    assert!(full.contains("the disk is full"), "{full}");
    assert!(!full.contains("an i/o error"), "{full}");

    // Room to open, not to keep the run: no id is handed out as kept.
    let big_err = read(scratch, "big.err");
    assert_eq!(read(scratch, "big.code").trim(), "1", "{big_err}");
    assert!(!big_err.contains("(kept in"), "{big_err}");
    let big: Value = serde_json::from_str(&read(scratch, "big.out"))
        .unwrap_or_else(|e| panic!("{e}: {}\n{big_err}", read(scratch, "big.out")));
    assert_eq!(big["run_id"], Value::Null, "{big}");
    assert_eq!(big["stats"]["actions_run"], json!(0), "{big}");
    let message = big["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("was not kept in"), "{message}");
    assert!(message.contains("full"), "{message}");
    let runs: Value = serde_json::from_str(&read(scratch, "runs.out"))
        .unwrap_or_else(|e| panic!("{e}: {}", read(scratch, "runs.err")));
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
}
