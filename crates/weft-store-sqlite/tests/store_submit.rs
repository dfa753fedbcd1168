//! `Store::submit_parts` on a SQLite file: the callback is called exactly
//! once, from the writer thread, when the commit is done or failed, also
//! when the store is dropped with the job queued; and an executor's flush
//! that commits through it holds nobody's records when it is held.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::store::{
    Appended, Durability, Entry, Record, RunStart, Store, StoreError, Submitted,
};
use weft_runtime::{Executor, JournalConfig, RunId};
use weft_store_sqlite::SqliteStore;
use weft_test_support::durable::{builder, World};
use weft_test_support::hooked::{AppendHook, Hooked};

type Answer = Result<Appended, (StoreError, Vec<Entry>)>;

fn started(run: RunId) -> Entry {
    Entry {
        run,
        seq: 0,
        record: Record::Started(Box::new(RunStart {
            workflow: "w".into(),
            source: "tasks: {}".into(),
            format: "yaml".into(),
            hash: String::new(),
            inputs: json!({}),
            parent: None,
            depth: 0,
            durability: Durability::WriteBehind,
            started_at: 1,
        })),
    }
}

/// Submits `parts` to `store`; the answer comes on the receiver.
fn submit(store: &SqliteStore, parts: Vec<Vec<Entry>>) -> mpsc::Receiver<Answer> {
    let (tx, rx) = mpsc::channel();
    let taken = store.submit_parts(
        parts,
        Box::new(move |answer| {
            let _ = tx.send(answer);
        }),
    );
    assert!(
        taken.is_ok(),
        "the SQLite store takes commits with a callback"
    );
    rx
}

/// Within 10 s, or an error.
async fn within<T>(
    f: impl std::future::Future<Output = T>,
) -> Result<T, tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_secs(10), f).await
}

fn answer(rx: &mpsc::Receiver<Answer>) -> Answer {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("no answer after 10 s")
}

#[tokio::test]
async fn a_submitted_commit_is_answered_once_it_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let (a, b) = (RunId::new(), RunId::new());
    let rx = submit(&store, vec![vec![started(a)], vec![started(b)]]);
    assert_eq!(answer(&rx).unwrap(), Appended::all());
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "called twice"
    );
    assert_eq!(store.load(a).await.unwrap(), vec![started(a)]);
    assert_eq!(store.load(b).await.unwrap(), vec![started(b)]);
}

#[tokio::test]
async fn a_refused_commit_gives_its_entries_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let a = RunId::new();
    // The run has no `Started` record: its record 1 is out of sequence.
    let mut late = started(a);
    late.seq = 1;
    let rx = submit(&store, vec![vec![late.clone()]]);
    let (e, back) = answer(&rx).unwrap_err();
    assert!(matches!(e, StoreError::Conflict(..)), "{e:?}");
    assert_eq!(back, vec![late]);
    assert!(matches!(store.load(a).await, Err(StoreError::NotFound(_))));
}

#[test]
fn each_callback_is_called_when_the_store_is_dropped_with_jobs_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let runs: Vec<RunId> = (0..20).map(|_| RunId::new()).collect();
    let answers: Vec<_> = runs
        .iter()
        .map(|&run| submit(&store, vec![vec![started(run)]]))
        .collect();
    drop(store);
    for rx in &answers {
        // The store finishes the jobs handed to it before it closes.
        assert_eq!(answer(rx).unwrap(), Appended::all());
        assert!(rx.try_recv().is_err(), "called twice");
    }
    let store = SqliteStore::open_read_only(&path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for run in runs {
        assert_eq!(rt.block_on(store.load(run)).unwrap().len(), 1);
    }
}

#[test]
fn a_read_only_store_answers_a_submit_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    drop(SqliteStore::open(&path).unwrap());
    let store = SqliteStore::open_read_only(&path).unwrap();
    let run = RunId::new();
    let rx = submit(&store, vec![vec![started(run)]]);
    let (e, back) = rx
        .try_recv()
        .expect("answered before submit_parts returned")
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    assert_eq!(back, vec![started(run)]);
}

/// Passes commits with a callback on to the SQLite store, counted.
#[derive(Default)]
struct Submits(AtomicUsize);

impl AppendHook for Submits {
    fn submit_parts(
        &self,
        inner: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        self.0.fetch_add(1, Ordering::SeqCst);
        inner.submit_parts(parts, done)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_held_after_one_poll_holds_nobodys_records() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(dir.path().join("runs.db")).unwrap());
    let store = Arc::new(Hooked::new(sqlite, Submits::default()));
    let world = Arc::new(World::default());
    let ex: Executor = builder(&world)
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_secs(60)))
        .build();
    let plan = Workflow::from_yaml_str(
        "tasks:\n  a: {action: work, next: [{do: b}]}\n  b: {action: work}\n",
    )
    .and_then(|w| w.compile(&ex))
    .unwrap();
    let first = within(ex.start(&plan, json!({})).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut held = Box::pin(ex.flush());
    // (Answered at once if the store's thread was that quick.)
    let first_poll = futures::poll!(&mut held);
    // Its commit was handed to the store's thread.
    assert_eq!(store.hook.0.load(Ordering::SeqCst), 1);
    let mut runs = vec![first.run_id];
    for _ in 0..5 {
        let out = within(ex.start(&plan, json!({})).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(out.succeeded(), "{:?}", out.errors);
        within(ex.flush()).await.expect("a flush hangs").unwrap();
        runs.push(out.run_id);
    }
    for run in runs {
        // Started, a, b, Ended.
        assert_eq!(store.load(run).await.unwrap().len(), 4);
    }
    match first_poll {
        std::task::Poll::Ready(answer) => answer.unwrap(),
        std::task::Poll::Pending => within(held).await.unwrap().unwrap(),
    }
}
