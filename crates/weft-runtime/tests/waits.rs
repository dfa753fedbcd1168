//! Durable waits through the public API: `core.ask` answered, a wrong
//! answer refused, a timeout running out, a signal by key, cancel while
//! waiting, and a wait that survives a crash and is answered after it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use weft_core::{TaskStatus, Workflow};
use weft_runtime::store::Store;
use weft_runtime::{
    Executor, JournalConfig, MemoryStore, RespondError, RunId, RunOutcome, RunStatus,
};
use weft_test_support::wait_for;

const ASK: &str = r#"
version: 1.0
tasks:
  start:
    action: core.noop
    next:
      - do: [ask, side]
  side:
    action: core.echo
    input: {message: beside}
  ask:
    action: core.ask
    input:
      route: ops
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
    next:
      - when: "{{ succeeded() }}"
        publish:
          - approved: "{{ result().response.approved }}"
        do: done
      - when: "{{ failed() }}"
        publish:
          - approved: timed out
        do: noop
  done:
    action: core.noop
output:
  - approved: "{{ ctx().approved }}"
"#;

fn plan(ex: &Executor, text: &str) -> weft_core::Plan {
    Workflow::from_yaml_str(text)
        .and_then(|w| w.compile(ex))
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn finish(run: weft_runtime::Run) -> RunOutcome {
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ended")
        .expect("an outcome")
}

fn task<'a>(out: &'a RunOutcome, name: &str) -> &'a weft_runtime::TaskRecord {
    out.tasks
        .iter()
        .find(|t| &*t.name == name)
        .unwrap_or_else(|| panic!("no task {name}"))
}

#[tokio::test]
async fn core_ask_is_answered_through_the_library() {
    let ex = Executor::new();
    let p = plan(&ex, ASK);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    // The other branch ends; then only the question is left: paused.
    wait_for(|| run.status() == RunStatus::Paused).await;
    let waits = ex.inquiries().await.unwrap();
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0].run, id);
    assert_eq!(waits[0].task, "ask");
    assert_eq!(waits[0].wait.details["route"], json!("ops"));
    assert_eq!(waits[0].wait.details["ttl"], json!(1440.0));
    assert!(waits[0].deadline_at.is_some());

    ex.respond(id, "ask", json!({"approved": true}))
        .await
        .unwrap();
    let out = finish(run).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"approved": true}));
    let ask = task(&out, "ask");
    assert_eq!(ask.status, TaskStatus::Succeeded);
    let result = ask.result.as_deref().unwrap();
    assert_eq!(result["response"], json!({"approved": true}));
    assert_eq!(result["route"], json!("ops"));
    assert_eq!(task(&out, "side").status, TaskStatus::Succeeded);
}

#[tokio::test]
async fn a_wrong_answer_is_refused_and_the_task_keeps_waiting() {
    let ex = Executor::new();
    let p = plan(&ex, ASK);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    wait_for(|| run.status() == RunStatus::Paused).await;

    let e = ex
        .respond(id, "ask", json!({"approved": "yes"}))
        .await
        .unwrap_err();
    assert!(matches!(e, RespondError::Rejected(_)), "{e:?}");
    assert!(e.to_string().contains("/approved"), "{e}");
    let e = ex.respond(id, "ask", json!({})).await.unwrap_err();
    assert!(matches!(e, RespondError::Rejected(_)), "{e:?}");
    assert!(e.to_string().contains("approved"), "{e}");
    let e = ex
        .respond(id, "nosuch", json!({"approved": true}))
        .await
        .unwrap_err();
    assert!(matches!(e, RespondError::NotWaiting(_)), "{e:?}");
    assert!(e.to_string().contains("`ask`"), "{e}");
    let e = ex
        .respond(RunId::new(), "ask", json!({"approved": true}))
        .await
        .unwrap_err();
    assert!(matches!(e, RespondError::UnknownRun(_)), "{e:?}");

    // Still waiting, and still answerable.
    assert_eq!(run.status(), RunStatus::Paused);
    assert_eq!(ex.inquiries().await.unwrap().len(), 1);
    ex.respond(id, "ask", json!({"approved": false}))
        .await
        .unwrap();
    let out = finish(run).await;
    assert_eq!(out.output, json!({"approved": false}));
    // Answered once: a second answer finds nothing waiting.
}

#[tokio::test]
async fn a_ttl_that_runs_out_times_the_task_out() {
    // 0.001 minutes: 60 ms.
    let text = ASK.replace("route: ops", "route: ops\n      ttl: 0.001");
    let ex = Executor::new();
    let p = plan(&ex, &text);
    let out = finish(ex.start(&p, json!({})).unwrap()).await;
    let ask = task(&out, "ask");
    assert_eq!(ask.status, TaskStatus::TimedOut, "{:?}", ask);
    assert_eq!(out.output, json!({"approved": "timed out"}));
    // The failure was handled by its transition.
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
}

#[tokio::test]
async fn an_unhandled_timeout_fails_the_run() {
    let text = r#"
version: 1.0
tasks:
  hold:
    action: core.wait_event
    input: {key: order-42, timeout: 0.05}
"#;
    let ex = Executor::new();
    let p = plan(&ex, text);
    let out = finish(ex.start(&p, json!({})).unwrap()).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(task(&out, "hold").status, TaskStatus::TimedOut);
}

#[tokio::test]
async fn a_signal_by_key_ends_a_wait_event() {
    let text = r#"
version: 1.0
input: [n]
tasks:
  hold:
    action: core.wait_event
    input: {key: "order-{{ ctx().n }}", schema: {type: integer}}
    next:
      - publish: [{got: "{{ result().response }}"}]
output:
  - got: "{{ ctx().got }}"
"#;
    let ex = Executor::new();
    let p = plan(&ex, text);
    let run = ex.start(&p, json!({"n": 7})).unwrap();
    let id = run.id();
    wait_for(|| run.status() == RunStatus::Paused).await;
    let e = ex.signal(id, "order-8", json!(1)).await.unwrap_err();
    assert!(e.to_string().contains("key `order-7`"), "{e}");
    let e = ex.signal(id, "order-7", json!("one")).await.unwrap_err();
    assert!(matches!(e, RespondError::Rejected(_)), "{e:?}");
    ex.signal(id, "order-7", json!(1)).await.unwrap();
    let out = finish(run).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"got": 1}));
}

#[tokio::test]
async fn canceling_a_waiting_run_ends_it() {
    let ex = Executor::new();
    let p = plan(&ex, ASK);
    let run = ex.start(&p, json!({})).unwrap();
    wait_for(|| run.status() == RunStatus::Paused).await;
    run.cancel();
    let out = finish(run).await;
    assert_eq!(out.status, RunStatus::Canceled);
    assert_eq!(task(&out, "ask").status, TaskStatus::Canceled);
}

/// Runs `f` on a runtime of its own and drops the runtime after it: the
/// tasks it spawned die with it, as they would with the process.
fn on_doomed_runtime<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(f);
    rt.shutdown_background();
}

#[test]
fn a_wait_survives_a_crash_and_is_answered_after_it() {
    let store = Arc::new(MemoryStore::new());
    let config = JournalConfig::new().batch_interval(Duration::from_millis(1));
    let mut run_id = None;
    on_doomed_runtime(async {
        let ex = Executor::builder()
            .store(store.clone())
            .journal_config(config.clone())
            .build();
        let p = plan(&ex, ASK);
        let run = ex.start(&p, json!({})).unwrap();
        run_id = Some(run.id());
        wait_for(|| run.status() == RunStatus::Paused).await;
        ex.flush().await.unwrap();
        // The process dies here.
    });
    let id = run_id.unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            RunStatus::Paused
        );
        let ex = Executor::builder().store(store.clone()).build();
        // Nobody runs it: the store says what waits.
        let waits = ex.inquiries().await.unwrap();
        assert_eq!(waits.len(), 1, "{waits:?}");
        assert_eq!(waits[0].task, "ask");
        let shown = ex.inspect(id).await.unwrap();
        assert_eq!(task(&shown, "ask").status, TaskStatus::Pending);
        // Refused while nobody runs it too.
        let e = ex
            .respond(id, "ask", json!({"approved": 1}))
            .await
            .unwrap_err();
        assert!(matches!(e, RespondError::Rejected(_)), "{e:?}");
        // Taken into the journal, for whoever resumes it.
        ex.respond(id, "ask", json!({"approved": true}))
            .await
            .unwrap();
        assert!(ex.inquiries().await.unwrap().is_empty());
        let mut recovered = ex.recover().await.unwrap();
        assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
        let out = finish(recovered.runs.pop().unwrap()).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        assert_eq!(out.output, json!({"approved": true}));
        let result: &Value = task(&out, "ask").result.as_deref().unwrap();
        assert_eq!(result["response"], json!({"approved": true}));
    });
}

#[test]
fn a_resumed_wait_is_still_pending_and_answered_live() {
    let store = Arc::new(MemoryStore::new());
    let mut run_id = None;
    on_doomed_runtime(async {
        let ex = Executor::builder().store(store.clone()).build();
        let p = plan(&ex, ASK);
        let run = ex.start(&p, json!({})).unwrap();
        run_id = Some(run.id());
        wait_for(|| run.status() == RunStatus::Paused).await;
        ex.flush().await.unwrap();
    });
    let id = run_id.unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ex = Executor::builder().store(store.clone()).build();
        let run = ex.resume_run(id).await.unwrap();
        wait_for(|| run.status() == RunStatus::Paused).await;
        assert_eq!(ex.inquiries().await.unwrap().len(), 1);
        ex.respond(id, "ask", json!({"approved": false}))
            .await
            .unwrap();
        let out = finish(run).await;
        assert_eq!(out.output, json!({"approved": false}));
        ex.flush().await.unwrap();
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            RunStatus::Succeeded
        );
        // The journal replays to the same end.
        let shown = ex.inspect(id).await.unwrap();
        assert_eq!(task(&shown, "ask").status, TaskStatus::Succeeded);
    });
}

#[test]
fn a_deadline_that_passed_while_nobody_ran_the_run_expires_at_once_on_resume() {
    let text = r#"
version: 1.0
tasks:
  hold:
    action: core.wait_event
    input: {key: callback, timeout: 2}
"#;
    let store = Arc::new(MemoryStore::new());
    let mut run_id = None;
    on_doomed_runtime(async {
        let ex = Executor::builder().store(store.clone()).build();
        let p = plan(&ex, text);
        let run = ex.start(&p, json!({})).unwrap();
        run_id = Some(run.id());
        wait_for(|| run.status() == RunStatus::Paused).await;
        ex.flush().await.unwrap();
    });
    let id = run_id.unwrap();
    // The deadline passes while no process runs the run.
    std::thread::sleep(Duration::from_millis(2100));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ex = Executor::builder().store(store.clone()).build();
        let began = std::time::Instant::now();
        let run = ex.resume_run(id).await.unwrap();
        let out = finish(run).await;
        // The journaled deadline counts, not a new one from the resume.
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "took {:?}",
            began.elapsed()
        );
        assert_eq!(out.status, RunStatus::Failed);
        assert_eq!(task(&out, "hold").status, TaskStatus::TimedOut);
        ex.flush().await.unwrap();
        let journal = store.load(id).await.unwrap();
        assert!(journal.iter().any(|e| matches!(
            &e.record,
            weft_runtime::store::Record::Command {
                command: weft_runtime::store::Command::Expire { .. },
                ..
            }
        )));
    });
}

/// Asking a run for its waits, or answering it, as it ends gets an answer
/// (from the run, or that it is gone), not a wait without end: a message
/// that reaches a run after its scheduler's last read is never read, and
/// its reply channel lives as long as any handle of the run does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_a_run_as_it_ends_never_hangs() {
    let ex = Executor::builder().build();
    let p = plan(
        &ex,
        "version: 1.0\ntasks:\n  a: {action: core.noop, next: [{do: b}]}\n  b: {action: core.noop}\n",
    );
    for _ in 0..300 {
        let run = ex.start(&p, json!({})).unwrap();
        let id = run.id();
        let asking = {
            let ex = ex.clone();
            tokio::spawn(async move {
                while ex.run(id).is_some() {
                    let waits = ex.inquiries().await.unwrap();
                    assert!(waits.is_empty(), "{waits:?}");
                    let answered = ex.respond(id, "a", json!({})).await;
                    assert!(
                        matches!(
                            answered,
                            Err(RespondError::NotWaiting { .. } | RespondError::UnknownRun(_))
                        ),
                        "{answered:?}"
                    );
                }
            })
        };
        assert_eq!(finish(run).await.status, RunStatus::Succeeded);
        tokio::time::timeout(Duration::from_secs(5), asking)
            .await
            .expect("inquiries and respond answered as the run ended")
            .unwrap();
    }
}
