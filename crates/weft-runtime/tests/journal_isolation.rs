//! One run whose records a store refuses fails alone: the runs that shared
//! its commit are committed on their own and go on.

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
use weft_test_support::hooked::{AppendHook, Hooked};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_run_in_a_commit_fails_alone() {
    let store: Arc<PoisonStore> =
        Arc::new(Hooked::new(Arc::new(MemoryStore::default()), Poison::default()).named("poison"));
    // The four runs' first tasks end together, once all four have started.
    let together = Arc::new(tokio::sync::Barrier::new(4));
    // Commits gather for 200 ms, so that the ends of the runs' first tasks
    // share a commit; the second task keeps the runs going until that
    // commit is done.
    let ex = Executor::builder()
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_millis(200)))
        .action("work", move |input: ActionInput| {
            let together = together.clone();
            let poison = input.get("poison").is_some_and(|v| {
                *v == json!(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
            });
            async move {
                together.wait().await;
                Ok::<Value, weft_runtime::ActionError>(json!({"done": true, "poison": poison}))
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
    let store = Arc::new(Hooked::new(Arc::new(MemoryStore::default()), Losing).named("losing"));
    // Commits gather for 200 ms: the two runs' first records share one,
    // which the store fails without giving the entries back to be tried
    // run by run.
    let ex = Executor::builder()
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_millis(200)))
        .action("work", |_: ActionInput| async {
            Ok::<Value, weft_runtime::ActionError>(json!({"done": true, "poison": false}))
        })
        .build();
    let plan = Workflow::from_yaml_str(FLOW)
        .and_then(|w| w.compile(&ex))
        .unwrap();
    let runs: Vec<_> = (0..2)
        .map(|_| ex.start(&plan, json!({})).unwrap())
        .collect();
    let ids: Vec<RunId> = runs.iter().map(|r| r.id()).collect();
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
    let e = ex.flush().await.unwrap_err();
    assert!(e.to_string().contains("lost a commit"), "{e}");
    for id in ids {
        assert_eq!(store.get(id).await.unwrap(), None);
    }
}
