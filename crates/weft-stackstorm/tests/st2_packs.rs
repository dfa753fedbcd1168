//! StackStorm's own `core` and `examples` packs, unchanged (see
//! tests/st2/README.md): they load, their actions run with StackStorm's
//! results, and every workflow action that cannot be used says why.
mod common;

use serde_json::json;
use weft_core::ActionCatalog;
use weft_runtime::{Executor, RunStatus};
use weft_stackstorm::{PackExt, Packs};

fn packs() -> Packs {
    // StackStorm's expression functions, as the `weft` command has them:
    // before anything in this test binary compiles.
    weft_stackstorm::install_functions().expect("functions install first");
    Packs::new()
        .load(common::st2("core"))
        .and_then(|p| p.load(common::st2("examples")))
        .unwrap_or_else(|e| panic!("StackStorm's packs do not load: {e}"))
}

fn executor() -> Executor {
    Executor::builder().packs(&packs()).build()
}

#[test]
fn the_core_and_examples_packs_load() {
    let packs = packs();
    assert_eq!(packs.packs()[0].reference(), "core");
    assert_eq!(packs.packs()[1].reference(), "examples");
    assert!(packs.action("core.local").is_some());
    assert!(packs.action("examples.orquesta-sequential").is_some());
    // The remote and Windows actions load, and say why they cannot run.
    let remote = packs.action("core.remote").unwrap();
    assert!(remote.unavailable().unwrap().contains("`remote-shell-cmd`"));
}

#[tokio::test]
async fn core_echo_is_stackstorms_and_gives_stdout() {
    let ex = executor();
    let out = common::call(&ex, "core.echo", "{message: hello}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out),
        json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "hello", "stderr": ""})
    );
    // Its `cmd` is immutable in StackStorm's metadata.
    let err = common::compile_error(
        &ex,
        "tasks:\n  t:\n    action: core.echo\n    input: {message: x, cmd: ls}\n",
    );
    assert!(err.message().contains("immutable"), "{err}");
}

#[tokio::test]
async fn core_local_runs_a_command_with_its_timeout() {
    let ex = executor();
    let out = common::call(
        &ex,
        "core.local",
        "{cmd: \"echo a; echo b >&2\", timeout: 5}",
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::result(&out)["stdout"], "a");
    assert_eq!(common::result(&out)["stderr"], "b");
}

#[tokio::test]
async fn python_actions_of_the_packs_run() {
    let ex = executor();
    let out = common::call(&ex, "core.uuid", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let uuid = common::result(&out)["result"].as_str().unwrap().to_owned();
    assert_eq!(uuid.len(), 36, "{uuid}");
    let out = common::call(&ex, "core.uuid", "{uuid_type: uuid7}").await;
    assert!(
        common::error(&out).contains("must be one of"),
        "{}",
        common::error(&out)
    );
    // isprime imports from the pack's lib/.
    let out = common::call(&ex, "examples.isprime", "{value: 13}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::result(&out)["result"], true);
}

#[tokio::test]
async fn a_shell_script_gets_its_positional_parameters() {
    let ex = executor();
    let out = common::call(
        &ex,
        "examples.local_script_runner_print_to_stdout_and_stderr",
        "{count: 3, sleep_delay: 0}",
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::result(&out)["stdout"], "stdout line 2");
    assert_eq!(
        common::result(&out)["stderr"],
        "stderr line 1\nstderr line 3"
    );
}

/// `orquesta-test-field-escaping`: vars, publishes and outputs with dots
/// in their names, through a Python action. StackStorm's own integration
/// test expects this output.
#[tokio::test]
async fn an_examples_workflow_runs_to_stackstorms_result() {
    let ex = executor();
    let out = common::call(&ex, "examples.orquesta-test-field-escaping", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out),
        json!({"output": {
            "wf.hostname.with.periods": {
                "hostname.domain.tld": "vars.value.with.periods",
                "hostname2.domain.tld": {"stdout": "vars.nested.value.with.periods"}
            },
            "wf.output.with.periods": "vars.nested.value.with.periods"
        }})
    );
}

/// StackStorm's workflows that test its expression functions run to the
/// outputs its integration tests expect (`test_wiring_functions.py`).
#[tokio::test]
async fn the_function_workflows_run_to_stackstorms_results() {
    let ex = executor();
    for (name, output) in [
        (
            "path",
            json!({"basename": "file.txt", "dirname": "/path/to/some"}),
        ),
        (
            "regex",
            json!({"match": true, "replace": "wxyz", "search": true, "substring": "668 Infinite Dr"}),
        ),
        ("time", json!({"time": "3h25m45s"})),
        (
            "version",
            json!({
                "compare_equal": 0,
                "compare_more_than": -1,
                "compare_less_than": 1,
                "equal": true,
                "more_than": false,
                "less_than": false,
                "match": true,
                "bump_major": "1.0.0",
                "bump_minor": "0.11.0",
                "bump_patch": "0.10.1",
                "strip_patch": "0.10"
            }),
        ),
    ] {
        let reference = format!("examples.orquesta-test-jinja-{name}-functions");
        let out = common::call(&ex, &reference, "{}").await;
        assert_eq!(
            out.status,
            RunStatus::Succeeded,
            "{reference}: {:?}",
            out.errors
        );
        assert_eq!(
            common::result(&out),
            json!({ "output": output }),
            "{reference}"
        );
    }
    // `task("task0")` of a task that never ran fails the run with
    // StackStorm's message.
    let out = common::call(&ex, "examples.orquesta-test-jinja-task-nonexistent", "{}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        format!("{:?}", out.errors).contains("Unable to find task execution for \\\"task0\\\"."),
        "{:?}",
        out.errors
    );
}

/// `orquesta-ask-basic`, as StackStorm's integration test runs it
/// (`test_wiring_inquiry.py`): the workflow pauses with `get_approval`
/// pending; answered `{"approved": true}`, it succeeds.
#[tokio::test]
async fn orquesta_ask_basic_pauses_and_succeeds_once_answered() {
    let ex = executor();
    let plan = common::plan(
        &ex,
        "tasks:\n  t:\n    action: examples.orquesta-ask-basic\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let mut waits = Vec::new();
    for _ in 0..2500 {
        waits = ex.inquiries().await.unwrap();
        if !waits.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].task, "get_approval");
    // The question is asked in the workflow's own run (a sub-workflow).
    let child = waits[0].run;
    assert_ne!(child, run.id());
    assert_eq!(ex.status(child), Some(RunStatus::Paused));
    ex.respond(child, "get_approval", json!({"approved": true}))
        .await
        .unwrap();
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
}

#[test]
fn every_workflow_action_compiles_or_says_why_not() {
    let packs = packs();
    let ex = Executor::builder().packs(&packs).build();
    let mut compiled = Vec::new();
    let mut refused = Vec::new();
    for a in packs.actions().filter(|a| a.runner() == "orquesta") {
        match ex.unavailable(a.reference()) {
            None => compiled.push(a.reference().to_owned()),
            Some(why) => {
                // The reason names the workflow file and a place in it.
                let file = a.entry_point().unwrap().display().to_string();
                assert!(why.contains(&file), "{}: {why}", a.reference());
                refused.push((a.reference().to_owned(), why));
            }
        }
    }
    assert_eq!(compiled.len() + refused.len(), 66);
    // The five others: a fixture pack or action that is not there, a
    // remote runner, and StackStorm's own inspection failures.
    assert_eq!(compiled.len(), 61, "{refused:?}");
    for name in [
        "field-escaping",
        "jinja-path-functions",
        "jinja-regex-functions",
        "jinja-task-functions",
        "jinja-task-nonexistent",
        "jinja-time-functions",
        "jinja-version-functions",
    ] {
        let reference = format!("examples.orquesta-test-{name}");
        assert!(
            compiled.contains(&reference),
            "{reference} does not compile"
        );
    }
    eprintln!(
        "{} of 66 workflow actions compile: {compiled:?}",
        compiled.len()
    );
    for (name, why) in &refused {
        eprintln!("{name}: {why}");
    }
}
