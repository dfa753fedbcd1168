//! The store conformance suite against `SqliteStore`, each property on a
//! new file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use weft_runtime::store::driver::conformance;
use weft_runtime::store::Store;
use weft_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

fn new_file(dir: &tempfile::TempDir, n: &AtomicUsize) -> PathBuf {
    dir.path()
        .join(format!("runs-{}.db", n.fetch_add(1, Ordering::SeqCst)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        let path = new_file(&dir, &n);
        async move { Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn Store> }
    })
    .await;
}

/// The same with every new run moved into `runs` after its commit (a
/// batch of 1, where 64 wait otherwise): the suite's runs are then read,
/// changed and purged in `runs`, and those of a batch in both tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_conformance_suite_with_every_run_moved() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    let options = SqliteOptions::new().move_batch(1);
    conformance::run_all(|| {
        let path = new_file(&dir, &n);
        let options = options.clone();
        async move { Arc::new(SqliteStore::open_with(&path, &options).unwrap()) as Arc<dyn Store> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_datastore_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::kv_run_all(|| {
        let path = new_file(&dir, &n);
        async move { Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn Store> }
    })
    .await;
}

/// A file without the datastore's table (no key was ever set) reads as
/// empty, also opened read-only; a read-only store refuses to set keys.
#[tokio::test]
async fn the_datastore_table_is_made_when_first_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let kv = store.kv().unwrap();
    assert_eq!(kv.kv_get("system", "a").await.unwrap(), None);
    assert!(kv.kv_list("system", "").await.unwrap().is_empty());
    assert!(!kv.kv_delete("system", "a").await.unwrap());
    kv.kv_set(&weft_runtime::store::KvEntry::new("system", "a", "1"))
        .await
        .unwrap();
    let reader = SqliteStore::open_read_only(&path).unwrap();
    let got = reader.kv().unwrap().kv_get("system", "a").await.unwrap();
    assert_eq!(got.map(|e| e.value), Some("1".to_owned()));
    let err = reader
        .kv()
        .unwrap()
        .kv_set(&weft_runtime::store::KvEntry::new("system", "b", "2"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

/// `synchronous = NORMAL` changes when SQLite syncs, nothing else: a few
/// properties show that such a store works.
#[tokio::test]
async fn sqlite_store_with_synchronous_normal_appends_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new().synchronous(Synchronous::Normal);
    let open = |name: &str| SqliteStore::open_with(dir.path().join(name), &options).unwrap();
    conformance::append_then_load_interleaved_runs(&open("a.db")).await;
    conformance::rejected_batch_leaves_nothing(&open("b.db")).await;
    conformance::summary_follows_records(&open("c.db")).await;
}

#[test]
fn sqlite_store_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<SqliteStore>();
    check::<SqliteOptions>();
}
