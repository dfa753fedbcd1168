//! One run whose records a store refuses fails alone: the runs that shared
//! its commit are committed on their own and go on. Each test runs twice:
//! its commits made by the journal's writer, and made by a flush through a
//! store that takes them with a callback (`Store::submit_parts`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use weft_core::Workflow;
use weft_runtime::store::{
    Appended, AttemptOutcome, Entry, JournalConfig, MemoryStore, Record, Store, StoreError,
};
use weft_runtime::{ActionInput, Executor, RunId, RunStatus};
use weft_test_support::hooked::{AppendHook, Hooked, Submitting};

/// A memory store's appends, refused for every batch holding a record of
/// a run once an action of that run returned `poison: true` (as a store
/// refuses a value it cannot keep), with the runs of each append noted.
#[derive(Default)]
struct Poison {
    poisoned: Mutex<Vec<RunId>>,
    /// The runs of each append.
    appends: Mutex<Vec<Vec<RunId>>>,
}

type PoisonStore = Hooked<Poison>;

impl AppendHook for Poison {
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        async move {
            let mut runs: Vec<RunId> = entries.iter().map(|e| e.run).collect();
            runs.dedup();
            self.appends.lock().unwrap().push(runs);
            let refused = {
                let mut poisoned = self.poisoned.lock().unwrap();
                for e in entries {
                    if let Record::Attempt(a) = &e.record {
                        if let AttemptOutcome::Ok { result } = &a.outcome {
                            if result["poison"] == json!(true) {
                                poisoned.push(e.run);
                            }
                        }
                    }
                }
                entries.iter().any(|e| poisoned.contains(&e.run))
            };
            if refused {
                return Err(StoreError::unavailable(
                    "this store cannot keep a poisoned run",
                ));
            }
            inner.append(entries).await
        }
        .boxed()
    }
}

const FLOW: &str = "
input: [{poison: false}]
tasks:
  a: {action: work, input: {poison: '{{ parameters.poison }}'}, next: [{do: b}]}
  b: {action: core.sleep, input: {seconds: 0.5}}
output:
  - done: '{{ task.a.done }}'
";

/// How a test's commits are made: by the writer, every 200 ms (so that the
/// records of runs that end a task together share a commit), or by a
/// flush the test makes once those records were handed over, through a
/// store that takes a commit with a callback (the writer, given a minute,
/// commits nothing of its own accord).
#[derive(Clone, Copy, Debug)]
enum Path {
    Writer,
    Direct,
}

impl Path {
    /// `hooked`, as the executor's store; on the direct path, the store
    /// that takes commits with a callback too.
    #[allow(clippy::type_complexity)]
    fn store<H: AppendHook>(
        self,
        hooked: &Arc<Hooked<H>>,
    ) -> (Arc<dyn Store>, Option<Arc<Submitting<Hooked<H>>>>) {
        match self {
            Path::Writer => (hooked.clone(), None),
            Path::Direct => {
                let submitting = Arc::new(Submitting::new(hooked.clone()));
                (submitting.clone(), Some(submitting))
            }
        }
    }

    fn config(self) -> JournalConfig {
        JournalConfig::new().batch_interval(match self {
            Path::Writer => Duration::from_millis(200),
            Path::Direct => Duration::from_secs(60),
        })
    }
}

/// On the direct path (`submitting`), once `returned` reaches `n` (the
/// runs' first tasks ended), a flush, whose commit is made on the store's
/// thread: its answer.
async fn flush_on<H: AppendHook>(
    submitting: Option<&Submitting<Hooked<H>>>,
    ex: &Executor,
    returned: &AtomicUsize,
    n: usize,
) -> Option<Result<(), StoreError>> {
    let submitting = submitting?;
    weft_test_support::wait_for(|| returned.load(Ordering::SeqCst) == n).await;
    // Their outcomes handed over (the second task sleeps 0.5 s).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), ex.flush())
        .await
        .expect("the flush answers");
    assert_eq!(
        submitting.submits.load(Ordering::SeqCst),
        1,
        "the flush committed through the store's thread"
    );
    Some(answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_run_in_a_commit_fails_alone() {
    one_bad_run_in_a_commit_fails_alone_on(Path::Writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_run_in_a_flushs_commit_fails_alone() {
    one_bad_run_in_a_commit_fails_alone_on(Path::Direct).await;
}

async fn one_bad_run_in_a_commit_fails_alone_on(path: Path) {
    let store: Arc<PoisonStore> =
        Arc::new(Hooked::new(Arc::new(MemoryStore::default()), Poison::default()).named("poison"));
    let (executor_store, submitting) = path.store(&store);
    // The four runs' first tasks end together, once all four have started.
    let together = Arc::new(tokio::sync::Barrier::new(4));
    let returned = Arc::new(AtomicUsize::new(0));
    // The ends of the runs' first tasks share a commit; the second task
    // keeps the runs going until that commit is done.
    let ex = Executor::builder()
        .store(executor_store.clone())
        .journal_config(path.config())
        .action("work", {
            let returned = returned.clone();
            move |input: ActionInput| {
                let together = together.clone();
                let returned = returned.clone();
                let poison = input.get("poison").is_some_and(|v| {
                    *v == json!(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
                });
                async move {
                    together.wait().await;
                    returned.fetch_add(1, Ordering::SeqCst);
                    Ok::<Value, weft_runtime::ActionError>(json!({"done": true, "poison": poison}))
                }
            }
        })
        .build();
    let plan = Workflow::from_yaml_str(FLOW)
        .and_then(|w| w.compile(&ex))
        .unwrap();
    let good: Vec<_> = (0..3)
        .map(|_| ex.start(&plan, json!({})).unwrap())
        .collect();
    let bad = ex.start(&plan, json!({"poison": true})).unwrap();
    let bad_id = bad.id();
    let ids: Vec<RunId> = good.iter().map(|r| r.id()).collect();
    if let Some(answer) = flush_on(submitting.as_deref(), &ex, &returned, 4).await {
        let e = answer.expect_err("the bad run's error");
        assert!(e.to_string().contains("cannot keep a poisoned run"), "{e}");
    }

    let bad = tokio::time::timeout(Duration::from_secs(10), bad)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bad.status, RunStatus::Failed);
    assert!(
        bad.errors
            .iter()
            .any(|e| e.message.contains("cannot keep a poisoned run")),
        "{:?}",
        bad.errors
    );
    for run in good {
        let out = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        assert_eq!(out.output["done"], json!(true));
    }
    ex.flush().await.ok();
    // Good runs did share a commit with the bad run, and are in the store.
    let appends = store.hook.appends.lock().unwrap().clone();
    assert!(
        appends
            .iter()
            .any(|runs| runs.contains(&bad_id) && runs.iter().any(|r| ids.contains(r))),
        "no commit held the bad run with another: {appends:?}"
    );
    for id in ids {
        let summary = store.get(id).await.unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Succeeded);
    }
    // The bad run's journal ends where its store refused it.
    assert_ne!(
        store.get(bad_id).await.unwrap().map(|s| s.status),
        Some(RunStatus::Succeeded)
    );
}

/// A memory store's owned appends (the journal's commits), failed for
/// every commit of more than one run with none of its entries given back,
/// as by a store whose writing thread stopped.
struct Losing;

impl AppendHook for Losing {
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        async move {
            if entries.iter().any(|e| e.run != entries[0].run) {
                return Err((
                    StoreError::unavailable("this store lost a commit of several runs"),
                    Vec::new(),
                ));
            }
            inner.append(&entries).await.map_err(|e| (e, entries))
        }
        .boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_whose_entries_the_store_lost_fails_each_of_its_runs() {
    a_failed_commit_whose_entries_the_store_lost_fails_each_of_its_runs_on(Path::Writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flushs_commit_whose_entries_the_store_lost_fails_each_of_its_runs() {
    a_failed_commit_whose_entries_the_store_lost_fails_each_of_its_runs_on(Path::Direct).await;
}

async fn a_failed_commit_whose_entries_the_store_lost_fails_each_of_its_runs_on(path: Path) {
    let store = Arc::new(Hooked::new(Arc::new(MemoryStore::default()), Losing).named("losing"));
    let (executor_store, submitting) = path.store(&store);
    let returned = Arc::new(AtomicUsize::new(0));
    // The two runs' first records share a commit, which the store fails
    // without giving the entries back to be tried run by run.
    let ex = Executor::builder()
        .store(executor_store.clone())
        .journal_config(path.config())
        .action("work", {
            let returned = returned.clone();
            move |_: ActionInput| {
                let returned = returned.clone();
                async move {
                    returned.fetch_add(1, Ordering::SeqCst);
                    Ok::<Value, weft_runtime::ActionError>(json!({"done": true, "poison": false}))
                }
            }
        })
        .build();
    let plan = Workflow::from_yaml_str(FLOW)
        .and_then(|w| w.compile(&ex))
        .unwrap();
    let runs: Vec<_> = (0..2)
        .map(|_| ex.start(&plan, json!({})).unwrap())
        .collect();
    let ids: Vec<RunId> = runs.iter().map(|r| r.id()).collect();
    let flushed = flush_on(submitting.as_deref(), &ex, &returned, 2).await;
    for run in runs {
        let out = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status, RunStatus::Failed, "{:?}", out.errors);
        assert!(
            out.errors
                .iter()
                .any(|e| e.message.contains("lost a commit of several runs")),
            "{:?}",
            out.errors
        );
    }
    // Heard by the first flush after the commit.
    let e = match flushed {
        Some(answer) => answer.unwrap_err(),
        None => ex.flush().await.unwrap_err(),
    };
    assert!(e.to_string().contains("lost a commit"), "{e}");
    ex.flush().await.unwrap();
    for id in ids {
        assert_eq!(store.get(id).await.unwrap(), None);
    }
}
