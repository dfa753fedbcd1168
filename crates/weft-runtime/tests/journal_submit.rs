//! A flush that commits what waits itself, through a store that takes a
//! commit with a callback (`Store::submit_parts`): nothing is hostage to a
//! flush whose future is held and never polled again, or dropped; a failed
//! commit fails its run and is heard by one flush, and not by a barrier.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::store::Durability;
use weft_runtime::store::{join_parts, Entry, Record, Store, StoreError, Submitted};
use weft_runtime::{Executor, JournalConfig, MemoryStore, RunOptions, RunStatus};
use weft_test_support::durable::{builder, World, FLOW};
use weft_test_support::hooked::{AppendHook, Hooked};

/// Takes commits with a callback, made on a thread of its own: held while
/// the gate is shut, refused while `fail` counts down.
struct Threaded {
    inner: Arc<dyn Store>,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    shut: Mutex<bool>,
    opened: Condvar,
    /// Commits still to refuse.
    fail: AtomicUsize,
    /// Commits handed over with a callback.
    submits: AtomicUsize,
    /// Callbacks called.
    answered: AtomicUsize,
}

impl State {
    fn shut(&self, shut: bool) {
        *self.shut.lock().unwrap() = shut;
        self.opened.notify_all();
    }
}

impl AppendHook for Threaded {
    fn submit_parts(
        &self,
        _: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        self.state.submits.fetch_add(1, Ordering::SeqCst);
        let (inner, state) = (self.inner.clone(), self.state.clone());
        std::thread::spawn(move || {
            let mut shut = state.shut.lock().unwrap();
            while *shut {
                shut = state.opened.wait(shut).unwrap();
            }
            drop(shut);
            let refuse = state
                .fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let result = if refuse {
                Err((
                    StoreError::unavailable("this store refuses the commit"),
                    join_parts(parts),
                ))
            } else {
                futures::executor::block_on(inner.append_parts(parts))
            };
            state.answered.fetch_add(1, Ordering::SeqCst);
            done(result);
        });
        Ok(())
    }
}

type ThreadedStore = Hooked<Threaded>;

fn threaded() -> Arc<ThreadedStore> {
    let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
    Arc::new(Hooked::new(
        inner.clone(),
        Threaded {
            inner,
            state: Arc::default(),
        },
    ))
}

/// An executor with the durable tests' actions on `store`, whose writer
/// commits nothing of its own accord for a minute: what is committed, a
/// flush commits.
fn executor(world: &Arc<World>, store: Arc<ThreadedStore>) -> Executor {
    builder(world)
        .store(store)
        .journal_config(JournalConfig::new().batch_interval(Duration::from_secs(60)))
        .build()
}

const CHAIN: &str = "tasks:\n  a: {action: work, next: [{do: b}]}\n  b: {action: work}\n";

fn plan(ex: &Executor, text: &str) -> weft_core::Plan {
    Workflow::from_yaml_str(text)
        .and_then(|w| w.compile(ex))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Within 10 s, or the test fails.
async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("still waiting after 10 s")
}

/// The sequence numbers of `id`'s journal.
async fn seqs(store: &dyn Store, id: weft_runtime::RunId) -> Vec<u64> {
    store
        .load(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_polled_once_then_held_holds_nobodys_records() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, CHAIN);
    let first = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
    assert!(first.succeeded(), "{:?}", first.errors);
    // Polled once: its commit is handed to the store. Then held, never
    // polled again, not dropped.
    let mut held = Box::pin(ex.flush());
    // (Answered at once if the store's thread was that quick.)
    let first_poll = futures::poll!(&mut held);
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    for _ in 0..5 {
        let out = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
        assert!(out.succeeded(), "{:?}", out.errors);
        soon(ex.flush()).await.unwrap();
        // a, b: Started, two outcomes, Ended.
        assert_eq!(seqs(&*store, out.run_id).await, vec![0, 1, 2, 3]);
    }
    assert_eq!(seqs(&*store, first.run_id).await, vec![0, 1, 2, 3]);
    assert!(store.hook.state.submits.load(Ordering::SeqCst) > 1);
    // Polled again at last, it has its answer.
    match first_poll {
        std::task::Poll::Ready(answer) => answer.unwrap(),
        std::task::Poll::Pending => soon(held).await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_dropped_mid_commit_leaves_its_records_committed() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, CHAIN);
    let out = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    store.hook.state.shut(true);
    let mut flush = Box::pin(ex.flush());
    assert!(futures::poll!(&mut flush).is_pending());
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    drop(flush);
    // The next flush waits for the commit in flight (handed to the
    // writer: it starts no commit of its own), and then answers. Polled
    // again after the writer had time to answer it wrongly, while the
    // store still holds the commit.
    let mut next = Box::pin(ex.flush());
    assert!(futures::poll!(&mut next).is_pending());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        futures::poll!(&mut next).is_pending(),
        "a flush answered before the commit ended"
    );
    assert_eq!(store.hook.state.answered.load(Ordering::SeqCst), 0);
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    store.hook.state.shut(false);
    soon(next).await.unwrap();
    assert_eq!(store.hook.state.answered.load(Ordering::SeqCst), 1);
    assert_eq!(seqs(&*store, out.run_id).await, vec![0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_of_a_flush_fails_its_run_and_one_flush_hears_it() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, FLOW);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    // At the gate, nothing committed yet (its `Started` record among what
    // waits): the flush's commit of it is refused, and the run is failed.
    weft_test_support::wait_for(|| world.calls_of("b") == 1).await;
    store.hook.state.fail.store(1, Ordering::SeqCst);
    let err = soon(ex.flush())
        .await
        .expect_err("the refused commit's error");
    assert!(err.to_string().contains("refuses"), "{err}");
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    world.gate_open.store(true, Ordering::SeqCst);
    world.gate.notify_waiters();
    let out = soon(run).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed, "{:?}", out.errors);
    assert!(
        format!("{:?}", out.errors).contains("could not be committed (this store refuses"),
        "{:?}",
        out.errors
    );
    // Heard once: the next flush has no error to tell.
    soon(ex.flush()).await.unwrap();
    assert!(matches!(store.load(id).await, Err(StoreError::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barrier_leaves_the_error_of_its_commit_for_a_flush() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, CHAIN);
    let out = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    store.hook.state.fail.store(1, Ordering::SeqCst);
    // Resuming a run waits for a barrier first: its commit, refused, is
    // the barrier's. The run is not in the store.
    let resumed = soon(ex.resume_run(out.run_id)).await;
    assert!(resumed.is_err());
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    let err = soon(ex.flush()).await.expect_err("the barrier's error");
    assert!(err.to_string().contains("refuses"), "{err}");
    soon(ex.flush()).await.unwrap();
    assert!(matches!(
        store.load(out.run_id).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A store whose path the journal may not take: the flush goes through the
/// writer, as before, and the store is asked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_the_path_is_asked_once() {
    struct Counting(AtomicUsize);
    impl AppendHook for Counting {
        fn submit_parts(
            &self,
            _: &dyn Store,
            parts: Vec<Vec<Entry>>,
            done: Submitted,
        ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err((parts, done))
        }
    }
    let world = Arc::new(World::default());
    let store = Arc::new(Hooked::new(
        Arc::new(MemoryStore::new()),
        Counting(AtomicUsize::new(0)),
    ));
    let ex = builder(&world)
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_secs(60)))
        .build();
    let p = plan(&ex, CHAIN);
    for _ in 0..3 {
        let out = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
        assert!(out.succeeded(), "{:?}", out.errors);
        soon(ex.flush()).await.unwrap();
        let entries = store.load(out.run_id).await.unwrap();
        assert!(matches!(entries[0].record, Record::Started(_)));
        assert_eq!(entries.len(), 4);
    }
    assert_eq!(store.hook.0.load(Ordering::SeqCst), 1);
}

/// A run whose records are in a commit that fails after the run has
/// ended (write-behind: it did not wait for it) hands over the rest of its
/// records before its scheduler is gone: they are not written, and the
/// next flush, which takes them, has no error of its own to tell (were
/// they written, the store would refuse them, their journal's start
/// missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_of_a_run_gone_after_its_failed_commit_are_not_written() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, FLOW);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    weft_test_support::wait_for(|| world.calls_of("b") == 1).await;
    // The flush's commit (the run's records so far) is held, and will be
    // refused.
    store.hook.state.shut(true);
    store.hook.state.fail.store(1, Ordering::SeqCst);
    let refused = tokio::spawn({
        let ex = ex.clone();
        async move { ex.flush().await }
    });
    weft_test_support::wait_for(|| store.hook.state.submits.load(Ordering::SeqCst) == 1).await;
    // Meanwhile the run goes on to its end, and its scheduler is gone.
    world.gate_open.store(true, Ordering::SeqCst);
    world.gate.notify_waiters();
    let out = soon(run).await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    store.hook.state.shut(false);
    let err = soon(refused)
        .await
        .unwrap()
        .expect_err("the refused commit");
    assert!(err.to_string().contains("refuses"), "{err}");
    soon(ex.flush()).await.unwrap();
    soon(ex.flush()).await.unwrap();
    assert!(matches!(store.load(id).await, Err(StoreError::NotFound(_))));
}

/// Drops the callback of the first `drop` commits uncalled, at once or on
/// a thread that panics holding it (as a store's thread that panics in
/// its commit); the commits after it go through the writer (the memory
/// store has no such path).
struct Dropping {
    drop: AtomicUsize,
    panics: bool,
}

impl AppendHook for Dropping {
    fn submit_parts(
        &self,
        _: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let dropped = self
            .drop
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !dropped {
            return Err((parts, done));
        }
        if self.panics {
            std::thread::spawn(move || {
                let _held = (parts, done);
                panic!("the store's thread panics in a commit");
            });
        } else {
            drop((parts, done));
        }
        Ok(())
    }
}

/// A commit whose callback the store drops uncalled fails: its run fails,
/// the flush hears the error, and nothing is left waiting for it (the next
/// flushes answer, the next runs are committed).
async fn a_commit_whose_callback_is_dropped_fails(panics: bool) {
    let world = Arc::new(World::default());
    let store = Arc::new(Hooked::new(
        Arc::new(MemoryStore::new()),
        Dropping {
            drop: AtomicUsize::new(1),
            panics,
        },
    ));
    let ex = builder(&world)
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_secs(60)))
        .build();
    let run = ex.start(&plan(&ex, FLOW), json!({})).unwrap();
    let id = run.id();
    weft_test_support::wait_for(|| world.calls_of("b") == 1).await;
    let err = soon(ex.flush())
        .await
        .expect_err("a commit nobody answered is not Ok");
    assert!(
        err.to_string().contains("without saying how it went"),
        "{err}"
    );
    assert_eq!(store.hook.drop.load(Ordering::SeqCst), 0);
    world.gate_open.store(true, Ordering::SeqCst);
    world.gate.notify_waiters();
    let out = soon(run).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed, "{:?}", out.errors);
    soon(ex.flush()).await.unwrap();
    // Its records, in the lost commit, were never committed, and what it
    // recorded since is not written.
    assert!(matches!(store.load(id).await, Err(StoreError::NotFound(_))));
    // Nothing waits on the lost commit: the next run is committed.
    let p = plan(&ex, CHAIN);
    let out = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    soon(ex.flush()).await.unwrap();
    assert_eq!(seqs(&*store, out.run_id).await, vec![0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_callback_the_store_drops_fails() {
    a_commit_whose_callback_is_dropped_fails(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_store_thread_panics_fails() {
    a_commit_whose_callback_is_dropped_fails(true).await;
}

/// The executor dropped while a flush's commit is held in the store: the
/// commit goes on without it, and its records are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_dropped_mid_commit_leaves_its_records_committed() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, CHAIN);
    let out = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    store.hook.state.shut(true);
    let mut flush = Box::pin(ex.flush());
    assert!(futures::poll!(&mut flush).is_pending());
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    drop(flush);
    drop(p);
    drop(ex);
    store.hook.state.shut(false);
    weft_test_support::wait_for(|| store.hook.state.answered.load(Ordering::SeqCst) == 1).await;
    assert_eq!(seqs(&*store, out.run_id).await, vec![0, 1, 2, 3]);
}

/// The runtime shut down while a flush's commit is held in the store, and
/// the commit then fails: the flush, polled again on another thread,
/// hears the error (nobody is left to settle the commit), as does the run
/// whose records it held.
#[test]
fn a_commit_that_fails_after_its_runtime_shut_down_is_told() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = Arc::new(World::default());
    let store = threaded();
    let (ex, mut flush) = rt.block_on(async {
        let ex = executor(&world, store.clone());
        let p = plan(&ex, FLOW);
        let run = ex.start(&p, json!({})).unwrap();
        weft_test_support::wait_for(|| world.calls_of("b") == 1).await;
        drop(run);
        store.hook.state.shut(true);
        store.hook.state.fail.store(1, Ordering::SeqCst);
        let mut flush = Box::pin({
            let ex = ex.clone();
            async move { ex.flush().await }
        });
        assert!(futures::poll!(&mut flush).is_pending());
        (ex, flush)
    });
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    drop(rt);
    store.hook.state.shut(false);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(futures::executor::block_on(&mut flush));
    });
    let answer = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the flush still waits after 10 s");
    let err = answer.expect_err("the failed commit's error");
    assert!(err.to_string().contains("refuses"), "{err}");
    assert_eq!(store.hook.state.answered.load(Ordering::SeqCst), 1);
    drop(ex);
}

/// A sync run's first record, handed over while a flush's commit is held,
/// is taken by the next flush, which commits it through the store's
/// thread: that thread answers the run, which goes on only then.
#[tokio::test]
async fn a_sync_runs_ack_is_answered_from_the_stores_thread() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, CHAIN);
    let behind = soon(ex.start(&p, json!({})).unwrap()).await.unwrap();
    assert!(behind.succeeded(), "{:?}", behind.errors);
    store.hook.state.shut(true);
    let mut held = Box::pin(ex.flush());
    assert!(futures::poll!(&mut held).is_pending());
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 1);
    let sync = ex
        .start_with(
            &p,
            json!({}),
            RunOptions::new().durability(Durability::Sync),
        )
        .unwrap();
    // Its `Started` record waits behind the commit in flight; the run waits
    // for it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(world.calls_of("a"), 1, "the sync run went on uncommitted");
    store.hook.state.shut(false);
    soon(held).await.unwrap();
    // Answered first, before the writer: this flush finds nobody
    // committing, and commits the sync run's record itself.
    let mut next = Box::pin(ex.flush());
    let first_poll = futures::poll!(&mut next);
    assert_eq!(store.hook.state.submits.load(Ordering::SeqCst), 2);
    if first_poll.is_pending() {
        soon(next).await.unwrap();
    }
    let out = soon(sync).await.unwrap();
    assert!(out.succeeded(), "{:?}", out.errors);
    assert_eq!(seqs(&*store, out.run_id).await, vec![0, 1, 2, 3]);
}

/// A run whose records are in a flush's commit records more (a pause)
/// while the commit is held; the commit then fails, the run hears it and
/// fails, and its scheduler is gone: what it recorded since is not
/// written, and the next flush has no error of its own to tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_of_a_run_failed_by_a_flushs_commit_are_not_written() {
    let world = Arc::new(World::default());
    let store = threaded();
    let ex = executor(&world, store.clone());
    let p = plan(&ex, FLOW);
    let run = ex.start(&p, json!({})).unwrap();
    let id = run.id();
    weft_test_support::wait_for(|| world.calls_of("b") == 1).await;
    // The fan's outcomes handed over too.
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.hook.state.shut(true);
    store.hook.state.fail.store(1, Ordering::SeqCst);
    let refused = tokio::spawn({
        let ex = ex.clone();
        async move { ex.flush().await }
    });
    weft_test_support::wait_for(|| store.hook.state.submits.load(Ordering::SeqCst) == 1).await;
    // Recorded after the commit took the run's records.
    run.pause();
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.hook.state.shut(false);
    let err = soon(refused)
        .await
        .unwrap()
        .expect_err("the refused commit");
    assert!(err.to_string().contains("refuses"), "{err}");
    let out = soon(run).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed, "{:?}", out.errors);
    soon(ex.flush()).await.unwrap();
    soon(ex.flush()).await.unwrap();
    assert!(matches!(store.load(id).await, Err(StoreError::NotFound(_))));
}
