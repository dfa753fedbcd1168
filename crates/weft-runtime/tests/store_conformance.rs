//! The store conformance suite against the in-memory store, the reference
//! every other store is checked against; and against broken stores, to
//! show that it catches them.

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::BoxFuture;
use futures::FutureExt;
use weft_runtime::store::driver::conformance;
use weft_runtime::store::{Appended, Entry, RunFilter, RunSummary, Store, StoreError};
use weft_runtime::{MemoryStore, RunId};

#[tokio::test]
async fn memory_store_passes_the_conformance_suite() {
    conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
}

#[tokio::test]
async fn memory_store_passes_the_datastore_conformance_suite() {
    conformance::kv_run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
}

#[tokio::test]
#[should_panic(expected = "has no key-value datastore")]
async fn the_datastore_suite_needs_a_datastore() {
    conformance::kv_set_then_get(&PerRunStore(MemoryStore::new())).await;
}

/// A store that commits each run's entries on their own: not atomic.
struct PerRunStore(MemoryStore);

impl Store for PerRunStore {
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>> {
        async move {
            let mut runs: Vec<RunId> = entries.iter().map(|e| e.run).collect();
            runs.dedup();
            for run in runs {
                let own: Vec<Entry> = entries.iter().filter(|e| e.run == run).cloned().collect();
                self.0.append(&own).await?;
            }
            Ok(Appended::all())
        }
        .boxed()
    }
    fn load(&self, run: RunId) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.0.load(run)
    }
    fn get(&self, run: RunId) -> BoxFuture<'_, Result<Option<RunSummary>, StoreError>> {
        self.0.get(run)
    }
    fn list<'a>(&'a self, f: &'a RunFilter) -> BoxFuture<'a, Result<Vec<RunSummary>, StoreError>> {
        async move {
            // Oldest first, against the contract.
            let mut all = self.0.list(f).await?;
            all.reverse();
            Ok(all)
        }
        .boxed()
    }
    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.0.purge(before)
    }
    fn describe(&self) -> String {
        "per-run".into()
    }
}

#[tokio::test]
#[should_panic(expected = "`rejected_batch_leaves_nothing` fails on per-run")]
async fn the_suite_catches_a_store_that_is_not_atomic() {
    conformance::rejected_batch_leaves_nothing(&PerRunStore(MemoryStore::new())).await;
}

#[tokio::test]
#[should_panic(expected = "`list_filters_and_orders` fails on per-run")]
async fn the_suite_catches_a_store_that_lists_oldest_first() {
    conformance::list_filters_and_orders(&PerRunStore(MemoryStore::new())).await;
}
