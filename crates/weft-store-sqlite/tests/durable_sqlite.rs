//! Durable runs end to end on a SQLite file: a run is interrupted (its
//! runtime dropped, or its process killed), and a new store opened on the
//! same file resumes it without running the recorded attempts again.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::store::{Record, Store};
use weft_runtime::{
    ActionInput, Durability, Executor, JournalConfig, RunId, RunOptions, RunStatus,
};
use weft_store_sqlite::SqliteStore;
use weft_test_support::durable::{builder, reach_the_gate, World, FLOW};

/// Starts FLOW on a store in `path` and returns once `a` and the items are
/// done and committed, with `b` waiting at the gate.
async fn start_and_stop_at_the_gate(world: &Arc<World>, path: &Path) -> RunId {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let ex = builder(world)
        .store(store.clone())
        .journal_config(JournalConfig::new().batch_interval(Duration::from_millis(1)))
        .build();
    let plan = Workflow::from_yaml_str(FLOW)
        .and_then(|w| w.compile(&ex))
        .unwrap();
    let run = ex.start(&plan, json!({})).unwrap();
    reach_the_gate(world, &ex, &*store, run.id()).await;
    run.id()
}

/// Opens the file with a new store, resumes the run and checks what ran.
/// `ran_before` says whether this process saw the first part run.
async fn recover_and_finish(world: &Arc<World>, path: &Path, id: RunId, ran_before: bool) {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    assert_eq!(
        store.get(id).await.unwrap().unwrap().status,
        RunStatus::Running,
        "the file says the run was going on"
    );
    world.gate_open.store(true, Ordering::SeqCst);
    let ex = builder(world).store(store.clone()).build();
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
    // What was recorded did not run again here; `b` was in flight: it did.
    let before = usize::from(ran_before);
    assert_eq!(world.calls_of("a"), before);
    assert_eq!(world.calls_of("fan"), 3 * before);
    assert_eq!(world.calls_of("b"), 1 + before);
    assert_eq!(world.calls_of("c"), 1);
    ex.flush().await.unwrap();
    let summary = store.get(id).await.unwrap().unwrap();
    assert_eq!(summary.status, RunStatus::Succeeded);
    assert!(summary.ended_at.is_some());
    let journal = store.load(id).await.unwrap();
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..journal.len() as u64).collect::<Vec<_>>());
    let attempts = journal
        .iter()
        .filter(|e| matches!(e.record, Record::Attempt(_)))
        .count();
    assert_eq!(attempts, 6, "a, three items, b and c: one outcome each");
    assert!(ex.recover().await.unwrap().runs.is_empty());
}

#[test]
fn a_run_resumes_from_the_file_after_its_runtime_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let world = Arc::new(World::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let id = rt.block_on(start_and_stop_at_the_gate(&world, &path));
    // The tasks die with the runtime, and the store with them: its lock
    // goes, so a new store can open the file.
    drop(rt);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(recover_and_finish(&world, &path, id, true));
}

/// Set in the child process of the test below: the file to write.
const CHILD: &str = "WEFT_SQLITE_TEST_CHILD_FILE";

#[test]
fn a_run_resumes_from_the_file_after_its_process_is_killed() {
    if let Some(path) = std::env::var_os(CHILD) {
        // The child: run to the gate, say which run, and wait to be killed.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let id = rt.block_on(start_and_stop_at_the_gate(
            &Arc::default(),
            Path::new(&path),
        ));
        println!("READY {id}");
        std::thread::sleep(Duration::from_secs(30));
        panic!("the child was not killed");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_run_resumes_from_the_file_after_its_process_is_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let id = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // The test harness may print its own words before ours, on the line.
        .find_map(|line| line.split_once("READY ").map(|(_, id)| id.to_owned()))
        .unwrap_or_else(|| panic!("the child ended before its run reached the gate"));
    let id: RunId = id.trim().parse().unwrap();
    // SIGKILL: no destructor runs, the write-ahead log stays as it was.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        dir.path().join("runs.db-wal").exists(),
        "a killed writer leaves its write-ahead log"
    );
    let world = Arc::new(World::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(recover_and_finish(&world, &path, id, false));
}

#[tokio::test]
async fn a_full_database_fails_the_run_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.db");
    let options = weft_store_sqlite::SqliteOptions::new().max_size(256 * 1024);
    let store = Arc::new(SqliteStore::open_with(&path, &options).unwrap());
    // With sync durability `b` waits for `a`'s outcome to be committed,
    // so the failed commit stops the run before it goes on.
    let ex = Executor::builder()
        .store(store)
        .durability(weft_runtime::Durability::Sync)
        .action("big", |_: ActionInput| async {
            Ok(json!(weft_test_support::noise(1, 1 << 20)))
        })
        .build();
    let plan = Workflow::from_yaml_str(
        "tasks:\n  a: {action: big, next: [{do: b}]}\n  b: {action: big}\n",
    )
    .and_then(|w| w.compile(&ex))
    .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(5), ex.start(&plan, json!({})).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    let file = path.display().to_string();
    assert!(
        out.errors
            .iter()
            .any(|e| e.message.contains(&file) && e.message.contains("full")),
        "{:?}",
        out.errors
    );
}

#[tokio::test]
async fn a_run_whose_first_record_does_not_fit_is_not_kept_and_says_so() {
    // The store's file is full before the run's first record (its inputs
    // are large): the run is not in the store, and says so.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.db");
    let options = weft_store_sqlite::SqliteOptions::new().max_size(256 * 1024);
    let store = Arc::new(SqliteStore::open_with(&path, &options).unwrap());
    let world = Arc::new(World::default());
    let ex = builder(&world).store(store.clone()).build();
    let plan = Workflow::from_yaml_str(
        "input: [blob]\ntasks:\n  a: {action: work, input: {n: 1}, next: [{do: b}]}\n  b: {action: work}\n",
    )
    .and_then(|w| w.compile(&ex))
    .unwrap();
    // A `sync` run starts nothing before its first commit; a write-behind
    // run's actions do not wait for it, but the store keeps nothing of it.
    for durability in [Durability::Sync, Durability::WriteBehind] {
        let calls_before = world.calls_of("a");
        let run = ex
            .start_with(
                &plan,
                json!({"blob": weft_test_support::noise(1, 400_000)}),
                RunOptions::new().durability(durability),
            )
            .unwrap();
        let id = run.id();
        let e = run.recorded().await.unwrap_err();
        assert!(e.to_string().contains("full"), "{e}");
        let out = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
        // A write-behind run may end before its first commit fails: then
        // `recorded` (above) and the flush (below) are its report.
        if durability == Durability::Sync || out.status != RunStatus::Succeeded {
            assert_eq!(out.status, RunStatus::Failed);
            let file = path.display().to_string();
            assert!(
                out.errors
                    .iter()
                    .any(|e| e.message.contains(&format!("was not kept in {file}"))
                        && e.message.contains("full")
                        && e.message.contains("cannot be resumed")),
                "{:?}",
                out.errors
            );
        }
        if durability == Durability::Sync {
            assert_eq!(out.stats.actions_run, 0);
            assert_eq!(world.calls_of("a"), calls_before);
        }
        assert!(ex.flush().await.is_err(), "flush reports the failed commit");
        assert!(store.get(id).await.unwrap().is_none());
        assert!(store.load(id).await.is_err());
    }
    // A run that fits is kept.
    let run = ex.start(&plan, json!({"blob": "small"})).unwrap();
    run.recorded().await.unwrap();
    assert!(store.get(run.id()).await.unwrap().is_some());
    assert!(run.await.unwrap().succeeded());
}
