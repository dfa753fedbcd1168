//! StackStorm's inquiry examples (`examples.orquesta-ask-*`), run unchanged
//! with StackStorm's `core` pack and answered through
//! `Executor::respond`, to the ends StackStorm's integration tests expect
//! (`st2tests/integration/orquesta/test_wiring_inquiry.py`): consecutive
//! questions, two asked at once, one asked in a sub-workflow, and one with
//! several parameters whose answer decides the route.
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use weft_core::Workflow;
use weft_runtime::{Executor, RunId, RunOutcome, RunStatus};
use weft_stackstorm::{PackExt, Packs};

fn executor() -> Executor {
    weft_stackstorm::install_functions().expect("functions install first");
    let packs = Packs::new()
        .load(common::st2("core"))
        .and_then(|p| p.load(common::st2("examples")))
        .unwrap_or_else(|e| panic!("StackStorm's packs do not load: {e}"));
    Executor::builder().packs(&packs).build()
}

/// The questions seen, each a set of the tasks that waited at once.
type Asked = Vec<BTreeSet<String>>;

/// Runs the example workflow `name` and answers the questions it asks
/// with `answer(task)`, once `at_once` of them wait unanswered, until the
/// run ends (30 s at most).
async fn run_answering(
    name: &str,
    at_once: usize,
    answer: impl Fn(&str) -> Value,
) -> (RunOutcome, Asked) {
    let ex = executor();
    let file = common::st2("examples").join(format!("actions/workflows/{name}.yaml"));
    let plan = Workflow::from_file(&file)
        .and_then(|w| w.compile(&ex))
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
    let run = ex.start(&plan, json!({})).expect("start");
    tokio::pin!(run);
    let mut answered: BTreeSet<(RunId, String)> = BTreeSet::new();
    let mut asked = Asked::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::select! {
            out = &mut run => return (out.expect("run lost"), asked),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} did not end within 30 s"
        );
        let waits = ex.inquiries().await.expect("inquiries");
        let new: Vec<_> = waits
            .iter()
            .filter(|w| !answered.contains(&(w.run, w.task.clone())))
            .collect();
        if new.is_empty() || new.len() < at_once {
            continue;
        }
        asked.push(waits.iter().map(|w| w.task.clone()).collect());
        for w in new {
            ex.respond(w.run, &w.task, answer(&w.task))
                .await
                .unwrap_or_else(|e| panic!("{name}: answering {} was refused: {e}", w.task));
            answered.insert((w.run, w.task.clone()));
        }
    }
}

fn set(tasks: &[&str]) -> BTreeSet<String> {
    tasks.iter().map(|t| (*t).to_owned()).collect()
}

fn stdout(out: &RunOutcome, task: &str) -> String {
    let t = out
        .tasks
        .iter()
        .find(|t| &*t.name == task)
        .unwrap_or_else(|| panic!("no task {task}: {:?}", out.tasks));
    t.result.as_deref().cloned().unwrap_or(Value::Null)["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_questions_are_asked_one_after_the_other() {
    let (out, asked) =
        run_answering("orquesta-ask-consecutive", 1, |_| json!({"approved": true})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        asked,
        vec![set(&["get_approval"]), set(&["get_confirmation"])]
    );
    assert_eq!(stdout(&out, "finish"), "Automation completed.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_questions_wait_together_and_the_join_waits_for_both() {
    let (out, asked) =
        run_answering("orquesta-ask-parallel", 2, |_| json!({"approved": true})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    // Both wait side by side (none is answered before both are asked),
    // and the run ends only once both are answered.
    assert_eq!(asked, vec![set(&["ask_jack", "ask_jill"])]);
    assert_eq!(stdout(&out, "finish"), "Automation completed.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_asked_in_a_sub_workflow_is_answered_there() {
    let (out, asked) = run_answering("orquesta-ask-nested", 1, |_| json!({"approved": true})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(asked, vec![set(&["get_approval"])]);
    assert_eq!(stdout(&out, "finish"), "Automation completed.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_of_several_parameters_decides_the_route() {
    let (out, _) = run_answering(
        "orquesta-ask-multiple-parameters",
        1,
        |_| json!({"approved": true, "department_id": 42, "extra_output": "from ops"}),
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(stdout(&out, "echo_extra_message"), "Extra info from ops.");
    assert_eq!(
        stdout(&out, "finish"),
        "Approved by department 42. Automation completed."
    );

    let (out, _) = run_answering(
        "orquesta-ask-multiple-parameters",
        1,
        |_| json!({"approved": true, "department_id": 7}),
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert!(out.tasks.iter().all(|t| &*t.name != "echo_extra_message"));
    assert_eq!(
        stdout(&out, "finish"),
        "Approved by department 7. Automation completed."
    );

    // Refused: the workflow goes to `stop`, then `fail`.
    let (out, _) = run_answering(
        "orquesta-ask-multiple-parameters",
        1,
        |_| json!({"approved": false, "department_id": 7}),
    )
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(stdout(&out, "stop"), "Automation stopped.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_breaks_the_schema_is_refused_and_the_question_stays() {
    let ex = executor();
    let file =
        common::st2("examples").join("actions/workflows/orquesta-ask-multiple-parameters.yaml");
    let plan = Workflow::from_file(&file)
        .and_then(|w| w.compile(&ex))
        .unwrap();
    let run = ex.start(&plan, json!({})).unwrap();
    let id = run.id();
    let mut waits = Vec::new();
    for _ in 0..2000 {
        waits = ex.inquiries().await.unwrap();
        if !waits.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(waits.len(), 1, "{waits:?}");
    // `department_id` is required and a number.
    let refused = ex
        .respond(
            id,
            "get_approval",
            json!({"approved": true, "department_id": "x"}),
        )
        .await;
    assert!(refused.is_err(), "a wrong answer was taken");
    assert_eq!(ex.inquiries().await.unwrap().len(), 1);
    ex.respond(
        id,
        "get_approval",
        json!({"approved": true, "department_id": 1}),
    )
    .await
    .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
}
