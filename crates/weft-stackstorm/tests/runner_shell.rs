//! `local-shell-cmd` and `local-shell-script`: StackStorm's arguments,
//! environment and result shape, and `core.local`'s hardening.
mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use weft_runtime::RunStatus;

#[tokio::test]
async fn a_command_gives_stackstorms_result() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.greet", "{name: ada}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out),
        json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "Hello, ada", "stderr": ""})
    );
}

#[tokio::test]
async fn a_non_zero_exit_fails_the_task_with_the_result_attached() {
    let ex = common::executor();
    let plan = common::plan(
        &ex,
        "tasks:\n  t:\n    action: demo.fail_cmd\n    next:\n      - when: \"{{ failed() }}\"\n        publish: [code: \"{{ result().return_code }}\", err: \"{{ result().stderr }}\"]\n        do: noop\noutput: [{code: \"{{ ctx().code }}\"}, {err: \"{{ ctx().err }}\"}]\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"code": 3, "err": "err"}));
    let ex2 = common::executor();
    let out = common::call(&ex2, "demo.fail_cmd", "{}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        common::result(&out),
        json!({"failed": true, "succeeded": false, "return_code": 3, "stdout": "out", "stderr": "err"})
    );
    assert!(
        common::error(&out).contains("exited with code 3"),
        "{}",
        common::error(&out)
    );
}

#[tokio::test]
async fn output_that_is_json_is_read_as_json_after_one_line_end_is_stripped() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.json_out", "{}").await;
    assert_eq!(common::result(&out)["stdout"], json!({"a": [1, 2]}));
    let out = common::call(&ex, "demo.run", "{cmd: \"printf 'a\\n\\n'\"}").await;
    assert_eq!(common::result(&out)["stdout"], json!("a\n"));
}

#[tokio::test]
async fn a_script_gets_named_then_positional_arguments_as_stackstorm_passes_them() {
    let ex = common::executor();
    let out = common::call(
        &ex,
        "demo.args",
        r#"{text: "a b", count: 3, ratio: 2.0, flag: true, quiet: false, tags: [x, 1], opts: {k: "it's"}, pos_text: "p q", pos_flag: true, pos_list: [1, two], pos_obj: {k: 1}}"#,
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let stdout = common::result(&out)["stdout"].as_str().unwrap().to_owned();
    let args: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        args,
        [
            "[--text=a b]",
            "[--count=3]",
            "[--ratio=2.0]",
            "[--flag]",
            "[--tags=['x', 1]]",
            "[--opts={'k': \"it's\"}]",
            // positional, in order: text, boolean as 1, list joined,
            // integer 0 as "", object as JSON, null as ""
            "[p q]",
            "[1]",
            "[1,two]",
            "[]",
            "[{\"k\":1}]",
            "[]",
        ]
    );
}

#[tokio::test]
async fn a_script_gets_its_environment_kwarg_op_and_directory() {
    let ex = common::executor();
    let dir = tempfile::tempdir().unwrap();
    let input = format!(
        "{{word: hi, env: {{GREETING: salut}}, cwd: \"{}\"}}",
        dir.path().display()
    );
    let out = common::call(&ex, "demo.env", &input).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let real = dir.path().canonicalize().unwrap();
    assert_eq!(
        common::result(&out)["stdout"],
        json!(format!(
            "greeting=salut pack=demo dir={} args=-word=hi",
            real.display()
        ))
    );
}

#[tokio::test]
async fn a_script_that_is_not_executable_is_made_so_as_stackstorm_does() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("p");
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    std::fs::write(dir.join("pack.yaml"), "name: p\n").unwrap();
    std::fs::write(
        dir.join("actions/s.yaml"),
        "name: s\nrunner_type: local-shell-script\nentry_point: s.sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("actions/s.sh"), "#!/bin/sh\necho ran\n").unwrap();
    use weft_stackstorm::PackExt;
    let ex = weft_runtime::Executor::builder()
        .pack(&dir)
        .unwrap()
        .build();
    let out = common::call(&ex, "p.s", "{}").await;
    assert_eq!(common::result(&out)["stdout"], "ran", "{:?}", out.errors);
}

fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
    }
}

#[tokio::test]
async fn the_runner_timeout_kills_the_whole_process_group() {
    let ex = common::executor();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = common::call(
        &ex,
        "demo.slow",
        &format!("{{dir: \"{}\"}}", dir.path().display()),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status, RunStatus::Failed);
    let result = common::result(&out);
    assert_eq!(result["return_code"], -9);
    assert_eq!(result["error"], "Action failed to complete in 1 seconds");
    assert!(
        common::error(&out).contains("timeout of 1 s"),
        "{}",
        common::error(&out)
    );
    let pid: u32 = std::fs::read_to_string(dir.path().join("grandchild"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !running(pid),
        "the background process {pid} outlived the timeout"
    );
}

#[tokio::test]
async fn sudo_is_refused() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.sudo", "{}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        common::error(&out).contains("`sudo: true` is not supported"),
        "{}",
        common::error(&out)
    );
}
