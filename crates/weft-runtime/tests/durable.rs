//! Durable runs through the public API, on the in-memory store: what the
//! journal holds, resuming after a crash (a runtime dropped mid-run),
//! pause across a restart, re-run, sync durability, and a store that fails.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use weft_core::{TaskStatus, Workflow};
use weft_runtime::store::{Appended, Entry, Record, Store, StoreError};
use weft_runtime::{
    ActionInput, Durability, Executor, JournalConfig, MemoryStore, RunId, RunStatus,
};
use weft_test_support::durable::{builder, reach_the_gate, World, FLOW};
use weft_test_support::hooked::{AppendHook, Hooked, Submitting};
use weft_test_support::wait_for;

fn plan(ex: &Executor, text: &str) -> weft_core::Plan {
    Workflow::from_yaml_str(text)
        .and_then(|w| w.compile(ex))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An executor journaling to `store` with `config`.
fn journaled(store: Arc<dyn Store>, config: JournalConfig) -> Executor {
    Executor::builder()
        .store(store)
        .journal_config(config)
        .build()
}

/// One with-items task over the input `xs`.
const OVER_XS: &str =
    "input: [xs]\ntasks:\n  t: {with: '{{ parameters.xs }}', action: core.noop}\n";

#[tokio::test]
async fn a_durable_run_journals_what_it_handled() {
    let world = Arc::new(World::default());
    world.gate_open.store(true, Ordering::SeqCst);
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(&ex, FLOW);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    ex.flush().await.unwrap();
    let entries = store.load(id).await.unwrap();
    let Record::Started(start) = &entries[0].record else {
        panic!("first record {:?}", entries[0].record)
    };
    assert_eq!(start.inputs, json!({"n": 3}));
    assert!(start.source.contains("action: gate"));
    let attempts = entries
        .iter()
        .filter(|e| matches!(e.record, Record::Attempt(_)))
        .count();
    // a, three items, b, c.
    assert_eq!(attempts, 6);
    let Record::Ended(end) = &entries.last().unwrap().record else {
        panic!("last record")
    };
    assert_eq!(end.status, RunStatus::Succeeded);
    assert_eq!(end.output, out.output);
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..entries.len() as u64).collect::<Vec<_>>());
    let summary = store.get(id).await.unwrap().unwrap();
    assert_eq!(summary.status, RunStatus::Succeeded);
    assert_eq!(summary.workflow, "workflow");
}

/// The `Started` record of each run holds the hash of its own workflow's
/// text, whichever plan ran before it on the same executor.
#[tokio::test]
async fn each_run_records_the_hash_of_its_own_workflow() {
    let store = Arc::new(MemoryStore::new());
    let ex = Executor::builder()
        .action("noop", |_: ActionInput| async { Ok(Value::Null) })
        .store(store.clone())
        .build();
    let a_text = "tasks:\n  a: {action: noop}\n";
    let b_text = "tasks:\n  b: {action: noop}\n";
    let (a, b) = (plan(&ex, a_text), plan(&ex, b_text));
    let mut hashes = Vec::new();
    for p in [&a, &a, &b, &a] {
        let out = ex.start(p, json!({})).unwrap().await.unwrap();
        ex.flush().await.unwrap();
        let entries = store.load(out.run_id).await.unwrap();
        let Record::Started(start) = &entries[0].record else {
            panic!("first record {:?}", entries[0].record)
        };
        assert_eq!(start.hash, weft_runtime::store::source_hash(&start.source));
        hashes.push((start.source.clone(), start.hash.clone()));
    }
    assert_eq!(hashes[0].0, a_text);
    assert_eq!(hashes[2].0, b_text);
    assert_eq!(hashes[0], hashes[1]);
    assert_eq!(hashes[0], hashes[3]);
    assert_ne!(hashes[0].1, hashes[2].1);
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
fn a_run_resumes_after_a_crash_without_running_recorded_attempts_again() {
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let config = JournalConfig::new().batch_interval(Duration::from_millis(1));
    let mut run_id = None;
    on_doomed_runtime(async {
        let ex = builder(&world)
            .store(store.clone())
            .journal_config(config.clone())
            .build();
        let p = plan(&ex, FLOW);
        let run = ex.start(&p, json!({})).unwrap();
        run_id = Some(run.id());
        // `b` waits at the gate; everything before it is done.
        reach_the_gate(&world, &ex, &*store, run.id()).await;
        // The process dies here.
    });
    let id = run_id.unwrap();
    assert_eq!(
        futures::executor::block_on(store.get(id))
            .unwrap()
            .unwrap()
            .status,
        RunStatus::Running
    );
    world.gate_open.store(true, Ordering::SeqCst);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ex = builder(&world).store(store.clone()).build();
        let recovered = ex.recover().await.unwrap();
        assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
        assert_eq!(recovered.runs.len(), 1);
        let run = recovered.runs.into_iter().next().unwrap();
        assert_eq!(run.id(), id);
        let out = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        assert_eq!(out.output, json!({"seen": 3, "fan": 3, "c": 3}));
        // `a` and the items ran once; `b` was in flight: it ran again.
        assert_eq!(world.calls_of("a"), 1);
        assert_eq!(world.calls_of("fan"), 3);
        assert_eq!(world.calls_of("b"), 2);
        assert_eq!(world.calls_of("c"), 1);
        assert_eq!(world.executions_over_one(), 1);
        ex.flush().await.unwrap();
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            RunStatus::Succeeded
        );
        // Nothing is left to recover.
        assert!(ex.recover().await.unwrap().runs.is_empty());
    });
}

#[test]
fn a_paused_run_stays_paused_across_a_restart() {
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let mut run_id = None;
    on_doomed_runtime(async {
        let ex = builder(&world).store(store.clone()).build();
        let p = plan(&ex, FLOW);
        let run = ex.start(&p, json!({})).unwrap();
        run_id = Some(run.id());
        wait_for(|| world.calls_of("b") == 1).await;
        run.pause();
        world.gate_open.store(true, Ordering::SeqCst);
        world.gate.notify_waiters();
        wait_for(|| run.status() == RunStatus::Paused).await;
        ex.flush().await.unwrap();
    });
    let id = run_id.unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            RunStatus::Paused
        );
        let ex = builder(&world).store(store.clone()).build();
        let mut recovered = ex.recover().await.unwrap();
        let run = recovered.runs.pop().unwrap();
        wait_for(|| run.status() == RunStatus::Paused).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(world.calls_of("c"), 0, "nothing starts while paused");
        run.resume();
        let out = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        assert_eq!(
            world.calls_of("b"),
            1,
            "b finished before the pause took hold"
        );
        assert_eq!(world.calls_of("c"), 1);
    });
}

#[tokio::test]
async fn rerun_starts_again_from_the_failed_task_and_keeps_the_rest() {
    // Orquesta's rerun (test_workflow_conductor_rerun: rerun from a failed
    // task sees the variables published before it).
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(
        &ex,
        "
tasks:
  a: {action: work, input: {n: 7}, next: [{publish: [{x: '{{ result().n }}'}], do: b}]}
  b: {action: flaky, next: [{when: '{{ succeeded() }}', do: c}]}
  c: {action: work, input: {n: '{{ ctx(\"x\") + 1 }}'}}
output: [{c: '{{ task.c.n }}'}]
",
    );
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    ex.flush().await.unwrap();
    assert_eq!(
        store.get(id).await.unwrap().unwrap().status,
        RunStatus::Failed
    );

    let again = ex.rerun(id, &[]).await.unwrap();
    assert_eq!(again.id(), id);
    let out = tokio::time::timeout(Duration::from_secs(5), again)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"c": 8}));
    assert_eq!(world.calls_of("a"), 1, "a succeeded: it is not run again");
    assert_eq!(world.calls_of("b"), 2);
    // The records keep both attempts of `b`, and both ends.
    let names: Vec<String> = out.tasks.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["a", "b", "b", "c"]);
    assert_eq!(out.tasks[1].status, TaskStatus::Failed);
    ex.flush().await.unwrap();
    let entries = store.load(id).await.unwrap();
    let ends = entries
        .iter()
        .filter(|e| matches!(e.record, Record::Ended(_)))
        .count();
    assert_eq!(ends, 2);
    assert_eq!(
        store.get(id).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );

    // A run that did not end cannot be re-run; nor an unknown one.
    assert!(ex.rerun(RunId::new(), &[]).await.is_err());
}

#[tokio::test]
async fn rerun_from_a_named_task() {
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: work, next: [{do: b}]}\n  b: {action: work}\n",
    );
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    ex.flush().await.unwrap();
    let out = ex.rerun(out.run_id, &["a"]).await.unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(world.calls_of("a"), 2);
    assert_eq!(world.calls_of("b"), 2);
}

#[tokio::test]
async fn a_rerun_that_cannot_be_carried_out_is_refused_and_changes_nothing() {
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: work, next: [{when: '{{ failed() }}', do: b}]}\n  b: {action: work}\n",
    );
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    let id = out.run_id;
    ex.flush().await.unwrap();
    let before = store.load(id).await.unwrap();
    for (tasks, says) in [
        (
            &["nope"][..],
            "the workflow has no such task (its tasks: a, b)",
        ),
        (&["a", "nope"][..], "no such task"),
        (&["b"][..], "`b`: it never ran"),
        (&[][..], "nothing to re-run"),
    ] {
        let e = ex.rerun(id, tasks).await.expect_err("refused");
        assert!(
            matches!(e, weft_runtime::ResumeError::Rerun(r, _) if r == id),
            "{e:?}"
        );
        assert!(e.to_string().contains(says), "{tasks:?}: {e}");
        assert!(e.to_string().contains("the run is unchanged"), "{e}");
    }
    ex.flush().await.unwrap();
    assert_eq!(
        store.load(id).await.unwrap(),
        before,
        "nothing was recorded"
    );
    assert_eq!(
        store.get(id).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );
    assert_eq!(world.calls_of("a"), 1);
}

#[tokio::test]
async fn a_recorded_rerun_that_could_not_start_replays() {
    // Before re-runs were checked first, one with nothing to re-run (or an
    // unknown task) was recorded, then failed the run. Journals that hold
    // such records must still replay, failing the run the same way, or the
    // run could no longer be shown or re-run.
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: work, next: [{do: b}]}\n  b: {action: work}\n",
    );
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    let id = out.run_id;
    ex.flush().await.unwrap();

    for (tasks, message) in [
        (
            vec![],
            "nothing to re-run: no task failed the run or was canceled; name the tasks to re-run",
        ),
        (
            vec!["nope".to_owned()],
            "cannot re-run `nope`: the workflow has no such task",
        ),
    ] {
        let seq = store.load(id).await.unwrap().len() as u64;
        let step = match &store
            .load(id)
            .await
            .unwrap()
            .iter()
            .rev()
            .find_map(|e| match &e.record {
                Record::Attempt(a) => Some(a.step),
                _ => None,
            }) {
            Some(step) => *step,
            None => 0,
        };
        let entries = [
            Record::Command {
                step,
                command: weft_runtime::store::Command::Rerun { tasks },
            },
            Record::Ended(Box::new(weft_runtime::store::RunEnd {
                status: RunStatus::Failed,
                output: json!({}),
                errors: vec![weft_runtime::RunError {
                    task: None,
                    message: message.to_owned(),
                }],
                ended_at: 1,
            })),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, record)| Entry {
            run: id,
            seq: seq + i as u64,
            record,
        })
        .collect::<Vec<_>>();
        store.append(&entries).await.unwrap();
        let shown = ex.inspect(id).await.unwrap();
        assert_eq!(shown.status, RunStatus::Failed);
        assert_eq!(
            shown.errors.last().map(|e| e.message.as_str()),
            Some(message)
        );
    }
    // The replay goes on past those records: the run can be re-run.
    let out = ex.rerun(id, &["b"]).await.unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(world.calls_of("a"), 1);
    assert_eq!(world.calls_of("b"), 2);
}

#[tokio::test]
async fn a_rerun_right_after_the_run_ended_continues_its_whole_journal() {
    // Write-behind: when a run's future resolves, its last records may not
    // be committed yet. Re-running it at once (no flush in between) must
    // load them, not a journal that stops short and then collides with them.
    let world = Arc::new(World::default());
    let store = slow_store(Duration::from_millis(30));
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: work, next: [{do: b}]}\n  b: {action: work}\n",
    );
    let id = ex.start(&p, json!({})).unwrap().await.unwrap().run_id;
    let out = ex.rerun(id, &["a"]).await.unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let out = ex.rerun(id, &["b"]).await.unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    ex.flush().await.unwrap();
    assert_eq!((world.calls_of("a"), world.calls_of("b")), (2, 3));
    let ends = store
        .load(id)
        .await
        .unwrap()
        .iter()
        .filter(|e| matches!(e.record, Record::Ended(_)))
        .count();
    assert_eq!(ends, 3);
    let shown = ex.inspect(id).await.unwrap();
    assert_eq!(shown.task("b").count(), 3);
}

/// A memory store's appends, each delayed, with when each commit ended
/// noted.
struct Slow {
    delay: Duration,
    commits: Mutex<Vec<(std::time::Instant, usize)>>,
}

type SlowStore = Hooked<Slow>;

/// A memory store whose every append waits `delay` first.
fn slow_store(delay: Duration) -> Arc<SlowStore> {
    let slow = Slow {
        delay,
        commits: Mutex::new(Vec::new()),
    };
    Arc::new(Hooked::new(Arc::new(MemoryStore::new()), slow).named("slow"))
}

impl AppendHook for Slow {
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        async move {
            tokio::time::sleep(self.delay).await;
            let r = inner.append(entries).await;
            self.commits
                .lock()
                .unwrap()
                .push((std::time::Instant::now(), entries.len()));
            r
        }
        .boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sync_durability_no_task_starts_before_its_cause_is_committed() {
    let store = slow_store(Duration::from_millis(20));
    let starts: Arc<Mutex<Vec<(String, std::time::Instant)>>> = Arc::default();
    let s = starts.clone();
    let ex = Executor::builder()
        .store(store.clone())
        .durability(Durability::Sync)
        .action("note", move |input: ActionInput| {
            let s = s.clone();
            async move {
                s.lock()
                    .unwrap()
                    .push((input.task.to_string(), std::time::Instant::now()));
                Ok(Value::Null)
            }
        })
        .build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: note, next: [{do: b}]}\n  b: {action: note, next: [{do: c}]}\n  c: {action: note}\n",
    );
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    let starts = starts.lock().unwrap().clone();
    let commits = store.hook.commits.lock().unwrap().clone();
    // Each task started after a commit that came after the previous task
    // started (the one that recorded its predecessor's outcome).
    assert_eq!(starts.len(), 3);
    for pair in starts.windows(2) {
        let (prev, next) = (pair[0].1, pair[1].1);
        assert!(
            commits.iter().any(|(t, _)| *t > prev && *t <= next),
            "{} started without a commit after {} started",
            pair[1].0,
            pair[0].0
        );
    }
    // The first task waited for the run's first record too.
    assert!(commits[0].0 <= starts[0].1);
    // And the outcome came after the last record was committed.
    let entries = store.load(out.run_id).await.unwrap();
    assert!(matches!(entries.last().unwrap().record, Record::Ended(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_write_behind_run_commits_once() {
    a_short_write_behind_run_commits_once_on(false).await;
}

/// The same, its commit a flush's, through a store that takes a commit
/// with a callback (made on the store's thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_write_behind_run_commits_once_through_the_stores_thread() {
    a_short_write_behind_run_commits_once_on(true).await;
}

async fn a_short_write_behind_run_commits_once_on(direct: bool) {
    let store = slow_store(Duration::ZERO);
    let submitting = Arc::new(Submitting::new(store.clone()));
    let ex = Executor::builder()
        .store(if direct {
            submitting.clone() as Arc<dyn Store>
        } else {
            store.clone()
        })
        // On the direct path, the flush makes the only commit.
        .journal_config(JournalConfig::new().batch_interval(if direct {
            Duration::from_secs(60)
        } else {
            JournalConfig::new().batch_interval
        }))
        .action("noop", |_: ActionInput| async { Ok(Value::Null) })
        .build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: noop, next: [{do: b}]}\n  b: {action: noop, next: [{do: c}]}\n  c: {action: noop}\n",
    );
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    ex.flush().await.unwrap();
    // `Started`, three attempts and `Ended`, in one commit.
    let commits = store.hook.commits.lock().unwrap().clone();
    assert_eq!(
        commits.iter().map(|c| c.1).collect::<Vec<_>>(),
        [5],
        "{commits:?}"
    );
    let entries = store.load(out.run_id).await.unwrap();
    assert_eq!(entries.len(), 5);
    assert!(matches!(entries[0].record, Record::Started(_)));
    let submitted = submitting.submitted.load(Ordering::SeqCst);
    assert_eq!(submitted, if direct { 5 } else { 0 });
}

#[tokio::test]
async fn a_run_id_is_in_the_store_once_recorded_says_so_or_after_a_flush() {
    // The journal's batch interval is a minute: the first record is
    // committed at once only because someone asks for it.
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world)
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_secs(60)))
        .build();
    let p = plan(&ex, FLOW);
    let run = ex.start(&p, json!({})).unwrap();
    tokio::time::timeout(Duration::from_secs(5), run.recorded())
        .await
        .expect("`recorded` has the first record committed at once")
        .unwrap();
    let summary = store.get(run.id()).await.unwrap().expect("in the store");
    assert_eq!(summary.status, RunStatus::Running);
    assert!(matches!(
        store.load(run.id()).await.unwrap()[0].record,
        Record::Started(_)
    ));
    // A flush right after `start` commits the first record too: it was
    // handed over before `start` returned.
    let other = ex.start(&p, json!({})).unwrap();
    tokio::time::timeout(Duration::from_secs(5), ex.flush())
        .await
        .unwrap()
        .unwrap();
    assert!(store.get(other.id()).await.unwrap().is_some());
    world.gate_open.store(true, Ordering::SeqCst);
    world.gate.notify_waiters();
    for run in [run, other] {
        assert!(run.await.unwrap().succeeded());
    }
}

#[test]
fn a_crash_before_the_first_commit_loses_the_run_but_not_what_its_actions_did() {
    // Write-behind: the actions start before the run's first record is
    // committed. A process that dies before that commit leaves nothing of
    // the run in the store (nothing resumes it), and what its actions did
    // stays done.
    let store = slow_store(Duration::from_secs(3600));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut run_id = None;
    on_doomed_runtime(async {
        let c = calls.clone();
        let ex = Executor::builder()
            .store(store.clone())
            .action("count", move |_: ActionInput| {
                c.fetch_add(1, Ordering::SeqCst);
                async { Ok(Value::Null) }
            })
            .build();
        let p = plan(
            &ex,
            "tasks:\n  a: {action: count, next: [{do: b}]}\n  b: {action: count}\n",
        );
        let run = ex.start(&p, json!({})).unwrap();
        run_id = Some(run.id());
        wait_for(|| calls.load(Ordering::SeqCst) == 2).await;
        // The process dies here, its first commit still on its way.
    });
    let id = run_id.unwrap();
    assert!(store.hook.commits.lock().unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert!(store.inner.get(id).await.unwrap().is_none());
        // A new process on the same store finds nothing to resume.
        let ex = Executor::builder().store(store.clone()).build();
        let recovered = ex.recover().await.unwrap();
        assert!(recovered.runs.is_empty() && recovered.failed.is_empty());
        assert!(ex.resume_run(id).await.is_err());
    });
}

#[tokio::test]
async fn a_store_that_fails_fails_the_run_loudly() {
    let store = Arc::new(MemoryStore::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .store(store.clone())
        .action("count", move |_: ActionInput| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(Value::Null) }
        })
        .build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: count, next: [{do: b}]}\n  b: {action: core.sleep, input: {seconds: 0.2}, next: [{do: c}]}\n  c: {action: count}\n",
    );
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    run.recorded().await.unwrap();
    assert!(store.get(id).await.unwrap().is_some());
    store.fail_appends(Some("disk full"));
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.errors.iter().any(|e| e.message.contains("disk full")
            && e.message.contains("journal")
            && e.message.contains("can be resumed")),
        "{:?}",
        out.errors
    );
    // It stopped: `c` never ran.
    assert!(calls.load(Ordering::SeqCst) <= 1);
}

#[tokio::test]
async fn a_run_whose_first_record_fails_is_not_kept_and_says_so() {
    // A run is in the store once `recorded` says so; when its first commit
    // fails, `recorded` says why, the run fails with an error that says it
    // was not kept, and the store has nothing of it. A `sync` run, or one
    // started with `recorded_first`, started nothing; a write-behind run's
    // actions do not wait for that commit.
    let store = Arc::new(MemoryStore::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .store(store.clone())
        .action("count", move |_: ActionInput| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(Value::Null) }
        })
        .build();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: count, next: [{do: b}]}\n  b: {action: count}\n",
    );
    for (durability, recorded_first) in [
        (Durability::WriteBehind, false),
        (Durability::Sync, false),
        (Durability::WriteBehind, true),
    ] {
        store.fail_appends(Some("disk full"));
        let calls_before = calls.load(Ordering::SeqCst);
        let mut options = weft_runtime::RunOptions::new().durability(durability);
        if recorded_first {
            options = options.recorded_first();
        }
        let run = ex.start_with(&p, json!({}), options).unwrap();
        let id = run.id();
        match run.recorded().await {
            Err(weft_runtime::NotRecorded::Failed(e)) => {
                assert!(e.to_string().contains("disk full"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let out = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
        // A write-behind run may end before its first commit fails: then
        // `recorded` (above) and the flush (below) are its report.
        let held = durability == Durability::Sync || recorded_first;
        if held || out.status != RunStatus::Succeeded {
            assert_eq!(out.status, RunStatus::Failed);
            assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
            let msg = &out.errors[0].message;
            assert!(msg.contains("was not kept in"), "{msg}");
            assert!(msg.contains("disk full"), "{msg}");
            assert!(msg.contains("cannot be resumed"), "{msg}");
            assert!(!msg.contains("can be resumed from"), "{msg}");
        }
        if durability == Durability::Sync || recorded_first {
            assert_eq!(out.stats.actions_run, 0);
            assert_eq!(calls.load(Ordering::SeqCst), calls_before);
        }
        store.fail_appends(None);
        // Whatever the run handed over after its first record is not
        // written either, once the store takes writes again; the flush
        // reports the failed commit.
        assert!(ex.flush().await.is_err(), "flush reports the failed commit");
        assert!(store.get(id).await.unwrap().is_none());
        assert!(matches!(store.load(id).await, Err(StoreError::NotFound(_))));
        assert!(ex.resume_run(id).await.is_err());
    }
    // The executor goes on: the next run is kept.
    let run = ex.start(&p, json!({})).unwrap();
    run.recorded().await.unwrap();
    let id = run.id();
    assert!(run.await.unwrap().succeeded());
    ex.flush().await.unwrap();
    assert!(store.get(id).await.unwrap().is_some());
    // Runs kept in memory, and runs brought back from the store, say so.
    let memory = ex
        .start_with(&p, json!({}), weft_runtime::RunOptions::new().in_memory())
        .unwrap();
    assert!(matches!(
        memory.recorded().await,
        Err(weft_runtime::NotRecorded::InMemory)
    ));
    memory.await.unwrap();
    let again = ex.rerun(id, &["b"]).await.unwrap();
    again.recorded().await.unwrap();
    assert!(again.await.unwrap().succeeded());
}

#[tokio::test]
async fn a_plan_without_text_cannot_run_durably_but_can_in_memory() {
    let store = Arc::new(MemoryStore::new());
    let ex = Executor::builder().store(store).build();
    let def = Workflow::from_yaml_str("tasks:\n  a: {action: core.noop}\n")
        .unwrap()
        .into_def();
    let p = def.compile(&ex).unwrap();
    let err = ex.start(&p, json!({})).unwrap_err();
    let err = err.workflow().expect("a workflow error");
    assert!(err.message().contains("workflow's text"), "{err}");
    let out = ex
        .start_with(&p, json!({}), weft_runtime::RunOptions::new().in_memory())
        .unwrap()
        .await
        .unwrap();
    assert!(out.succeeded());
}

#[tokio::test]
async fn inspect_rebuilds_a_run_from_its_journal_without_running_it() {
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let ex = builder(&world).store(store.clone()).build();
    let p = plan(&ex, FLOW);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    reach_the_gate(&world, &ex, &*store, id).await;
    // Mid-run, from an executor that has none of its actions.
    let other = Executor::builder().store(store.clone()).build();
    let seen = other.inspect(id).await.unwrap();
    assert_eq!(seen.status, RunStatus::Running);
    let b = seen.task("b").next().unwrap();
    assert_eq!(b.status, TaskStatus::Running);
    assert_eq!(seen.task("a").next().unwrap().status, TaskStatus::Succeeded);
    assert_eq!(seen.task("c").count(), 0);
    let before: usize = world.calls.lock().unwrap().values().sum();

    world.gate_open.store(true, Ordering::SeqCst);
    world.gate.notify_waiters();
    let out = run.await.unwrap();
    ex.flush().await.unwrap();
    let seen = other.inspect(id).await.unwrap();
    assert_eq!(seen.status, out.status);
    assert_eq!(seen.output, out.output);
    let names = |o: &weft_runtime::RunOutcome| {
        o.tasks
            .iter()
            .map(|t| (t.name.to_string(), t.status, t.result.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&seen), names(&out));
    // Inspecting ran nothing.
    let after: usize = world.calls.lock().unwrap().values().sum();
    assert_eq!(after, before + 1, "only `c` ran, and it ran live");
}

#[tokio::test]
async fn a_commit_that_fails_after_the_run_ended_is_reported_by_flush() {
    // Write-behind: the run ends before its last records are committed; if
    // that commit fails, the next flush says so.
    let store = Arc::new(MemoryStore::new());
    let ex = Executor::builder()
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_millis(50)))
        .build();
    let p = plan(&ex, "tasks:\n  a: {action: core.noop}\n");
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    assert!(out.succeeded());
    store.fail_appends(Some("disk full"));
    let err = ex.flush().await.unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    // Reported once.
    store.fail_appends(None);
    ex.flush().await.unwrap();
}

/// A `sync` run's end waits for its records' commit; it must not take
/// for itself the error of an earlier commit that failed, which only the
/// next `Executor::flush` can report (a write-behind run that lost its
/// records has nobody else to hear of it).
#[tokio::test]
async fn a_sync_runs_end_leaves_an_earlier_failed_commit_to_flush() {
    let store = Arc::new(MemoryStore::new());
    let ex = Executor::builder()
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_secs(30)))
        .build();
    let p = plan(&ex, "tasks:\n  a: {action: core.noop}\n");
    let lost = ex.start(&p, json!({})).unwrap();
    let lost_id = lost.id();
    assert!(lost.await.unwrap().succeeded());
    // Its records wait for the interval; a commit asked for now fails.
    store.fail_appends(Some("disk full"));
    ex.inquiries().await.unwrap();
    store.fail_appends(None);
    let sync = ex
        .start_with(
            &p,
            json!({}),
            weft_runtime::RunOptions::new().durability(Durability::Sync),
        )
        .unwrap();
    let sync_id = sync.id();
    assert!(sync.await.unwrap().succeeded());
    assert!(store.get(sync_id).await.unwrap().is_some());
    let err = ex.flush().await.unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert!(store.get(lost_id).await.unwrap().is_none());
    // Reported once.
    ex.flush().await.unwrap();
}

#[tokio::test]
async fn inspect_gives_a_with_items_instance_the_end_its_last_item_recorded() {
    let store = Arc::new(MemoryStore::new());
    let ex = Executor::builder().store(store.clone()).build();
    let p = plan(
        &ex,
        "tasks:\n  fan:\n    with: {items: '{{ [1, 2, 3] }}'}\n    action: core.echo\n    input: {message: '{{ item }}'}\n",
    );
    let out = ex.start(&p, json!({})).unwrap().await.unwrap();
    ex.flush().await.unwrap();
    let ran = out.tasks[0].ended_at.unwrap();
    // Shown later, the instance still ended when its items did, not when
    // it was replayed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = ex.inspect(out.run_id).await.unwrap();
    let shown = seen.tasks[0].ended_at.unwrap();
    let apart = shown.duration_since(ran).unwrap_or_else(|e| e.duration());
    assert!(apart < Duration::from_millis(100), "ended {apart:?} apart");
    assert!(seen.tasks[0].duration().unwrap() < Duration::from_millis(100));
}

/// Items of one with-items task, some recorded and some in flight at the
/// crash, interleaved: a replay finishes the recorded ones from their
/// records without running them, and runs the others again, each once.
#[test]
fn a_with_items_run_resumes_with_only_the_items_in_flight_run_again() {
    let world = Arc::new(World::default());
    let store = Arc::new(MemoryStore::new());
    let config = JournalConfig::new().batch_interval(Duration::from_millis(1));
    let builder = |world: &Arc<World>| {
        let w = world.clone();
        builder(world).action("odd_at_gate", move |input: ActionInput| {
            let w = w.clone();
            async move {
                w.count(&input);
                let n = input.get("n").and_then(Value::as_u64).unwrap_or(0);
                while n % 2 == 1 && !w.gate_open.load(Ordering::SeqCst) {
                    let notified = w.gate.notified();
                    if w.gate_open.load(Ordering::SeqCst) {
                        break;
                    }
                    notified.await;
                }
                Ok(json!(n * 10))
            }
        })
    };
    let flow = "
tasks:
  items:
    with: '{{ range(9) | list }}'
    action: odd_at_gate
    input: {n: '{{ item }}'}
output:
  - all: '{{ task.items }}'
";
    let mut run_id = None;
    on_doomed_runtime(async {
        let ex = builder(&world)
            .store(store.clone())
            .journal_config(config.clone())
            .build();
        let run = ex.start(&plan(&ex, flow), json!({})).unwrap();
        run_id = Some(run.id());
        wait_for(|| world.calls_of("items") == 9).await;
        // The even items end; the odd ones wait at the gate.
        let id = run.id();
        let store = store.clone();
        // A write-behind run's first records may not be committed yet:
        // the store does not know the run until they are.
        let recorded = move || match futures::executor::block_on(store.load(id)) {
            Ok(entries) => entries
                .iter()
                .filter(|e| matches!(e.record, Record::Attempt(_)))
                .count(),
            Err(StoreError::NotFound(_)) => 0,
            Err(e) => panic!("{e}"),
        };
        wait_for(|| recorded() == 5).await;
        ex.flush().await.unwrap();
        // The process dies here.
    });
    let id = run_id.unwrap();
    world.gate_open.store(true, Ordering::SeqCst);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ex = builder(&world).store(store.clone()).build();
        let seen = ex.inspect(id).await.unwrap();
        assert_eq!(seen.status, RunStatus::Running);
        let recovered = ex.recover().await.unwrap();
        assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
        let run = recovered.runs.into_iter().next().unwrap();
        let out = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        assert_eq!(
            out.output,
            json!({"all": [0, 10, 20, 30, 40, 50, 60, 70, 80]})
        );
        // Each even item ran once; each odd one twice (in flight at the
        // crash, so run again), and nothing else ran again.
        let calls = world.calls.lock().unwrap().clone();
        for n in 0..9 {
            let runs: usize = calls
                .iter()
                .filter(|(k, _)| k.split('/').nth(1) == Some("items"))
                .filter(|(k, _)| k.split('/').nth(3) == Some(&n.to_string()))
                .map(|(_, c)| *c)
                .sum();
            assert_eq!(runs, if n % 2 == 1 { 2 } else { 1 }, "item {n}: {calls:?}");
        }
        assert_eq!(world.executions_over_one(), 4);
    });
}

#[tokio::test]
async fn a_full_batch_is_committed_without_waiting_for_the_batch_interval() {
    // The batch interval is a minute and nobody flushes: the run's records
    // are committed because `batch_records` of them wait.
    let store = Arc::new(MemoryStore::new());
    let ex = journaled(
        store.clone(),
        JournalConfig::new()
            .batch_records(50)
            .batch_interval(Duration::from_secs(60)),
    );
    let p = plan(&ex, OVER_XS);
    let xs: Vec<u32> = (0..200).collect();
    let out = ex.start(&p, json!({ "xs": xs })).unwrap().await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    let mut committed = 0;
    for _ in 0..2500 {
        committed = store.load(out.run_id).await.map_or(0, |e| e.len());
        if committed >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(committed >= 50, "{committed} records committed");
}

/// Holds the first append until `open` is notified; notes each append's
/// number of records.
#[derive(Default)]
struct Gate {
    open: tokio::sync::Notify,
    sizes: Mutex<Vec<usize>>,
}

impl AppendHook for Gate {
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        async move {
            let first = {
                let mut sizes = self.sizes.lock().unwrap();
                sizes.push(entries.len());
                sizes.len() == 1
            };
            if first {
                self.open.notified().await;
            }
            inner.append(entries).await
        }
        .boxed()
    }
}

#[tokio::test]
async fn a_writer_that_fell_behind_takes_everything_waiting_in_one_commit() {
    // Commits start at every record (`batch_records(1)`); the first is held
    // while the run hands over 200 more. Once it ends, the next commit takes
    // all that waits, not four batches of a record each, so a writer whose
    // commits are slower than the records come does not fall further behind.
    let store = Arc::new(Hooked::new(Arc::new(MemoryStore::new()), Gate::default()));
    let ex = journaled(
        store.clone(),
        JournalConfig::new()
            .batch_records(1)
            .batch_interval(Duration::from_secs(60)),
    );
    let p = plan(
        &ex,
        "input: [xs]\ntasks:\n  t: {with: {items: '{{ parameters.xs }}', concurrency: 1}, action: core.noop}\n",
    );
    let xs: Vec<u32> = (0..200).collect();
    let out = ex.start(&p, json!({ "xs": xs })).unwrap().await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    wait_for(|| !store.hook.sizes.lock().unwrap().is_empty()).await;
    store.hook.open.notify_one();
    ex.flush().await.unwrap();
    let sizes = store.hook.sizes.lock().unwrap().clone();
    assert_eq!(sizes.iter().sum::<usize>(), 202, "{sizes:?}");
    assert!(sizes.len() <= 3, "{} commits: {sizes:?}", sizes.len());
}

/// Runs that hand over more records than the backlog has room for: each
/// turn waits for room, which every commit gives back, also the room of a
/// turn whose records joined the batch before them. Were any kept, the
/// later runs would wait for room that never comes.
#[tokio::test]
async fn a_backlog_smaller_than_the_runs_gets_its_room_back_at_each_commit() {
    let store = Arc::new(MemoryStore::new());
    let ex = journaled(
        store.clone(),
        JournalConfig::new()
            .backlog_records(4)
            .batch_interval(Duration::from_millis(1)),
    );
    let chain = plan(
        &ex,
        "tasks:\n  a: {action: core.noop, next: [{do: b}]}\n  b: {action: core.noop, next: [{do: c}]}\n  c: {action: core.noop}\n",
    );
    let wide = plan(&ex, OVER_XS);
    let xs: Vec<u32> = (0..50).collect();
    for _ in 0..3 {
        let runs = [
            (ex.start(&chain, json!({})).unwrap(), 3),
            (ex.start(&wide, json!({ "xs": xs })).unwrap(), 50),
        ];
        for (run, attempts) in runs {
            let out = tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .expect("the run still waits for room in the backlog")
                .unwrap();
            assert!(out.succeeded(), "{:?}", out.errors);
            ex.flush().await.unwrap();
            let entries = store.load(out.run_id).await.unwrap();
            let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, (0..attempts + 2).collect::<Vec<_>>());
            assert!(matches!(entries[0].record, Record::Started(_)));
            assert!(matches!(entries.last().unwrap().record, Record::Ended(_)));
        }
    }
}

/// With `sync` durability a turn's launches wait for their records' commit.
/// An abort handled in the same turn, after a launch was held, must keep
/// that action from ever starting: spawned after the commit, nothing would
/// stop it, and it would run after its run had ended.
#[tokio::test]
async fn an_abort_in_the_turn_that_holds_a_launch_keeps_its_action_from_starting() {
    for _ in 0..20 {
        let store = slow_store(Duration::from_millis(2));
        let handle: Arc<Mutex<Option<weft_runtime::RunHandle>>> = Arc::default();
        let ran = Arc::new(AtomicUsize::new(0));
        let (h, r) = (handle.clone(), ran.clone());
        let ex = Executor::builder()
            .store(store.clone())
            .durability(Durability::Sync)
            .action("abort_after", move |_: ActionInput| {
                let h = h.lock().unwrap().clone().expect("the run's handle is set");
                async move {
                    // Queued behind this task's report and `c`'s: the
                    // scheduler takes the three in one turn, launches `b`
                    // (held until its record is committed), then aborts.
                    tokio::spawn(async move { h.abort() });
                    Ok(Value::Null)
                }
            })
            .action("noop", |_: ActionInput| async { Ok(Value::Null) })
            .action("mark", move |_: ActionInput| {
                let r = r.clone();
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    Ok(Value::Null)
                }
            })
            .build();
        let p = plan(
            &ex,
            "tasks:\n  a: {action: abort_after, next: [{do: b}]}\n  b: {action: mark}\n  c: {action: noop}\n",
        );
        let run = ex.start(&p, json!({})).unwrap();
        *handle.lock().unwrap() = Some(run.handle());
        let out = run.await.unwrap();
        assert_eq!(out.status, RunStatus::Canceled, "{:?}", out.errors);
        // Whatever was spawned has had its chance to run.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(ran.load(Ordering::SeqCst), 0, "b ran after the abort");
        let records = store.load(out.run_id).await.unwrap();
        assert!(matches!(records.last().unwrap().record, Record::Ended(_)));
    }
}
