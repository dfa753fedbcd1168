//! `core.local`: values from outside never run as commands, the process
//! group dies with the attempt, and the output kept in memory is capped.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_core::TaskStatus;
use weft_runtime::{Executor, RunStatus};

async fn one(action_and_input: &str) -> weft_runtime::RunOutcome {
    let ex = Executor::new();
    // Names only: these tests check what the action itself accepts (a
    // plan compiled against the executor is checked before it runs; see
    // `builtin_inputs_are_checked_when_compiling`).
    let p = common::plan_names_only(&ex, &format!("tasks:\n  t: {{{action_and_input}}}\n"));
    common::run(&ex, &p, json!({})).await
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.get(name)
        .unwrap_or_else(|| panic!("no `{name}` in the result {v}"))
}

// ---- injection ---------------------------------------------------------------

/// Values that create `marker` if a shell reads them as code, and a few
/// that are only awkward.
fn hostile(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("x; touch {m}"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("'; touch {m}; echo '"),
        format!("\"; touch {m}; echo \""),
        format!("x\ntouch {m}"),
        format!("x\r\ntouch {m}\n"),
        format!("'\\''; touch {m} #"),
        format!("' $(touch {m}) '"),
        format!("| touch {m}"),
        format!("&& touch {m}"),
        format!("-n x; touch {m}"),
        format!("${{IFS}}; touch {m}"),
        String::new(),
        "'".to_owned(),
        "it's \"quoted\" \\ $HOME * ~ %s %%".to_owned(),
    ]
}

const THREE_WAYS: &str = r#"
input: [values]
tasks:
  via_args:
    with: {items: "{{ parameters.values }}"}
    action: core.local
    input: {args: [printf, "%s", "{{ item }}"]}
  via_shell_quote:
    with: {items: "{{ parameters.values }}"}
    action: core.local
    input: {cmd: "printf %s {{ item | shell_quote }}"}
  via_env:
    with: {items: "{{ parameters.values }}"}
    action: core.local
    input: {cmd: 'printf %s "$VALUE"', env: {VALUE: "{{ item }}"}}
"#;

#[tokio::test]
async fn templated_values_never_run_through_args_shell_quote_or_env() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let values = hostile(&marker);
    let ex = Executor::new();
    let plan = common::plan(&ex, THREE_WAYS);
    let out = common::run(&ex, &plan, json!({ "values": values })).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    for task in ["via_args", "via_shell_quote", "via_env"] {
        let results = common::result(&out, task);
        let results = results.as_array().expect("a list of item results");
        assert_eq!(results.len(), values.len());
        for (value, result) in values.iter().zip(results) {
            assert_eq!(field(result, "stdout"), value, "{task}: {value:?}");
        }
    }
    assert!(!marker.exists(), "an injected command ran");
}

#[tokio::test]
async fn a_value_templated_bare_into_cmd_does_run() {
    // The check above can fail: the same value, unquoted, runs.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "input: [value]\ntasks:\n  t: {action: core.local, input: {cmd: \"echo {{ parameters.value }}\"}}\n",
    );
    let value = format!("x; touch {}", marker.display());
    let out = common::run(&ex, &plan, json!({ "value": value })).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert!(marker.exists());
}

#[tokio::test]
async fn args_are_found_in_path_and_scalars_become_strings() {
    let out = one(r#"action: core.local, input: {args: [printf, "%s|%s|%s", 3, true, 1.5]}"#).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(field(&common::result(&out, "t"), "stdout"), "3|true|1.5");
}

#[tokio::test]
async fn args_with_a_non_zero_exit_fail_with_the_result_attached() {
    let out =
        one(r#"action: core.local, input: {args: [sh, -c, "echo out; exit 4", "a b"]}"#).await;
    assert_eq!(out.status, RunStatus::Failed);
    let rec = &out.tasks[0];
    assert_eq!(rec.status, TaskStatus::Failed);
    let err = rec.error.as_deref().unwrap_or_default();
    assert!(
        err.contains("`sh -c 'echo out; exit 4' 'a b'` exited with code 4"),
        "{err}"
    );
    let result = common::result(&out, "t");
    assert_eq!(field(&result, "stdout"), "out\n");
    assert_eq!(field(&result, "return_code"), 4);
    assert_eq!(field(&result, "succeeded"), false);
}

#[tokio::test]
async fn local_inputs_are_validated() {
    for (task, expect) in [
        (
            "action: core.local",
            "core.local: missing input `args` (a program and its arguments, run without a shell) or `cmd`",
        ),
        (
            "action: core.local, input: {cmd: ls, args: [ls]}",
            "give `cmd` or `args`, not both",
        ),
        (
            "action: core.local, input: {args: ls}",
            "input `args` must be a list of strings (the program, then its arguments), not a string",
        ),
        (
            "action: core.local, input: {args: []}",
            "input `args` is empty: give the program to run",
        ),
        (
            "action: core.local, input: {args: [ls, {a: 1}]}",
            "`args[1]` must be a string, not a map",
        ),
        (
            "action: core.local, input: {args: [ls, null]}",
            "`args[1]` must be a string, not null",
        ),
        (
            "action: core.local, input: {args: [ls], max_output_bytes: -1}",
            "`max_output_bytes` must be a whole number of bytes, 0 or more, not -1",
        ),
        (
            "action: core.local, input: {args: [ls], max_output_bytes: 1.5}",
            "`max_output_bytes` must be a whole number of bytes",
        ),
        (
            "action: core.local, input: {args: [weft-no-such-program-here]}",
            "core.local: cannot run `weft-no-such-program-here`",
        ),
        (
            "action: core.local, input: {args: [ls], cwd: /weft-no-such-dir}",
            "cannot run `ls` in `/weft-no-such-dir`",
        ),
        (
            "action: core.local, input: {args: [ls], shell: true}",
            "unknown input `shell`",
        ),
    ] {
        let out = one(task).await;
        assert_eq!(out.status, RunStatus::Failed, "{task}");
        let err = out.tasks[0].error.as_deref().unwrap_or_default();
        assert!(err.contains(expect), "{task}: {err}");
    }
}

// ---- the process group ---------------------------------------------------------

/// Whether `pid` is a live process (a zombie counts as dead: it runs no
/// more, and reaping it is its parent's business).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
    }
}

/// Polls `done` for up to 5 s.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

fn read_pid(path: &Path) -> u32 {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (the command did not start?)", path.display()));
    text.trim().parse().expect("a pid")
}

/// A command whose shell starts a grandchild and waits for it, writing
/// both pids into `dir`.
fn family(dir: &Path) -> String {
    format!(
        "sleep 30 & echo $! > {d}/grandchild; echo $$ > {d}/shell; wait",
        d = dir.display()
    )
}

async fn assert_family_gone(dir: &Path) {
    let grandchild = read_pid(&dir.join("grandchild"));
    let shell = read_pid(&dir.join("shell"));
    assert!(
        eventually(|| !running(grandchild)).await,
        "the grandchild {grandchild} outlived its attempt"
    );
    // The shell is our child: it must be reaped, not left a zombie.
    assert!(
        eventually(|| !Path::new(&format!("/proc/{shell}")).exists()).await,
        "the shell {shell} was not reaped"
    );
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        &format!(
            "tasks:\n  t:\n    action: core.local\n    input: {{cmd: \"{}\"}}\n    timeout: 1\n",
            family(dir.path())
        ),
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.tasks[0].status, TaskStatus::TimedOut);
    assert_family_gone(dir.path()).await;
}

#[tokio::test]
async fn abort_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        &format!(
            "tasks:\n  t: {{action: core.local, input: {{cmd: \"{}\"}}}}\n",
            family(dir.path())
        ),
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let shell_file = dir.path().join("shell");
    assert!(
        eventually(|| std::fs::read_to_string(&shell_file).is_ok_and(|s| s.ends_with('\n'))).await,
        "the command did not start"
    );
    run.abort();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the run ends after abort")
        .expect("run lost");
    assert_eq!(out.status, RunStatus::Canceled);
    assert_family_gone(dir.path()).await;
}

#[tokio::test]
async fn a_finished_command_leaves_its_detached_background_process_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("bg");
    let out = one(&format!(
        "action: core.local, input: {{cmd: \"sleep 30 > /dev/null 2>&1 & echo $! > {}\"}}",
        pidfile.display()
    ))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let pid = read_pid(&pidfile);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let alive = running(pid);
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    assert!(alive, "the background process {pid} was killed");
}

// ---- the output cap ----------------------------------------------------------

#[tokio::test]
async fn output_beyond_the_default_cap_is_counted_not_kept() {
    // 50 MB on each stream, marked at both ends.
    let out = one(
        r#"action: core.local, input: {cmd: "printf HEAD; head -c 50000000 /dev/zero; printf TAIL; printf head >&2; head -c 50000000 /dev/zero >&2; printf tail >&2"}"#,
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let r = common::result(&out, "t");
    let stdout = field(&r, "stdout").as_str().unwrap();
    let stderr = field(&r, "stderr").as_str().unwrap();
    assert_eq!(stdout.len(), 1 << 20);
    assert_eq!(stderr.len(), 1 << 20);
    // stdout keeps its first bytes, stderr its last
    assert!(stdout.starts_with("HEAD\0"));
    assert!(stderr.ends_with("\0tail"));
    assert_eq!(field(&r, "stdout_truncated"), true);
    assert_eq!(field(&r, "stderr_truncated"), true);
    assert_eq!(field(&r, "stdout_total_bytes"), 50_000_008);
    assert_eq!(field(&r, "stderr_total_bytes"), 50_000_008);
}

#[tokio::test]
async fn max_output_bytes_sets_the_cap() {
    let out = one(
        r#"action: core.local, input: {args: [sh, -c, "printf abcdefgh; printf 12345678 >&2"], max_output_bytes: 5}"#,
    )
    .await;
    assert_eq!(
        common::result(&out, "t"),
        json!({
            "stdout": "abcde", "stderr": "45678", "return_code": 0, "succeeded": true,
            "stdout_truncated": true, "stderr_truncated": true,
            "stdout_total_bytes": 8, "stderr_total_bytes": 8,
        })
    );
    // exactly the cap is not truncated; 0 keeps nothing
    let out = one(r#"action: core.local, input: {cmd: "printf abcde", max_output_bytes: 5}"#).await;
    let r = common::result(&out, "t");
    assert_eq!(
        (field(&r, "stdout"), field(&r, "stdout_truncated")),
        (&json!("abcde"), &json!(false))
    );
    let out = one(r#"action: core.local, input: {cmd: "printf abcde", max_output_bytes: 0}"#).await;
    let r = common::result(&out, "t");
    assert_eq!(
        (field(&r, "stdout"), field(&r, "stdout_truncated")),
        (&json!(""), &json!(true))
    );
}

#[tokio::test]
async fn a_cut_never_splits_a_character() {
    // "aé€" is 1 + 2 + 3 bytes; 4 bytes of head end inside the euro sign.
    let out = one(
        r#"action: core.local, input: {cmd: "printf 'aé€'; printf 'aé€' >&2", max_output_bytes: 4}"#,
    )
    .await;
    let r = common::result(&out, "t");
    assert_eq!(field(&r, "stdout"), "aé");
    // the last 4 bytes start inside the é
    assert_eq!(field(&r, "stderr"), "€");
}
