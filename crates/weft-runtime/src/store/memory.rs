//! A [`Store`] in memory: for tests, and as the reference the conformance
//! suite checks every store against.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::driver::check_key;
use super::{
    millis, Appended, Entry, KvEntry, KvStore, Record, RunFilter, RunSummary, Store, StoreError,
};
use crate::id::RunId;

/// Keeps journals in memory; they live as long as the store.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_runtime::{Executor, MemoryStore};
///
/// let store = Arc::new(MemoryStore::new());
/// let executor = Executor::builder().store(store.clone()).build();
/// # let _ = executor;
/// ```
#[derive(Default)]
pub struct MemoryStore {
    runs: Mutex<HashMap<RunId, Stored>>,
    /// Fails every append with this message (to test a full disk).
    failing: Mutex<Option<String>>,
    /// The key–value datastore, by scope and name.
    kv: Mutex<BTreeMap<(String, String), KvEntry>>,
}

struct Stored {
    summary: RunSummary,
    entries: Vec<Entry>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Makes every later append fail with `message` (or succeed again,
    /// with `None`): a full disk or a lost connection, for tests.
    pub fn fail_appends(&self, message: Option<&str>) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = message.map(str::to_owned);
    }

    /// Records committed so far, over all runs.
    pub fn record_count(&self) -> usize {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.values().map(|r| r.entries.len()).sum()
    }

    fn append_now(&self, entries: &[Entry]) -> Result<Appended, StoreError> {
        if let Some(m) = self
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(StoreError::unavailable(m));
        }
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        // Check everything first: all or nothing.
        let mut next: HashMap<RunId, u64> = HashMap::new();
        for e in entries {
            let expected = match next.get(&e.run) {
                Some(n) => *n,
                None => runs.get(&e.run).map_or(0, |r| r.entries.len() as u64),
            };
            if e.seq != expected {
                return Err(StoreError::Conflict(format!(
                    "run {}: record {} does not follow on from record {}",
                    e.run,
                    e.seq,
                    expected as i64 - 1
                )));
            }
            if (e.seq == 0) != matches!(e.record, Record::Started(_)) {
                return Err(StoreError::Conflict(format!(
                    "run {}: a journal starts with its `started` record, and has only one",
                    e.run
                )));
            }
            next.insert(e.run, expected + 1);
        }
        let now = millis(SystemTime::now());
        for e in entries {
            let stored = match &e.record {
                Record::Started(start) => runs.entry(e.run).or_insert(Stored {
                    summary: RunSummary::started(e.run, start, now),
                    entries: Vec::new(),
                }),
                _ => match runs.get_mut(&e.run) {
                    Some(s) => s,
                    None => return Err(StoreError::NotFound(e.run)),
                },
            };
            stored.summary.follow(&e.record, now);
            stored.entries.push(e.clone());
        }
        Ok(Appended::all())
    }
}

impl Store for MemoryStore {
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>> {
        futures::future::ready(self.append_now(entries)).boxed()
    }

    fn load(&self, run: RunId) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let r = match runs.get(&run) {
            Some(s) => Ok(s.entries.clone()),
            None => Err(StoreError::NotFound(run)),
        };
        futures::future::ready(r).boxed()
    }

    fn load_from(&self, run: RunId, from: u64) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let r = match runs.get(&run) {
            Some(s) => Ok(s
                .entries
                .get(usize::try_from(from).unwrap_or(usize::MAX)..)
                .map(<[Entry]>::to_vec)
                .unwrap_or_default()),
            None => Err(StoreError::NotFound(run)),
        };
        futures::future::ready(r).boxed()
    }

    fn get(&self, run: RunId) -> BoxFuture<'_, Result<Option<RunSummary>, StoreError>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        futures::future::ready(Ok(runs.get(&run).map(|s| s.summary.clone()))).boxed()
    }

    fn list<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunSummary>, StoreError>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<RunSummary> = runs
            .values()
            .map(|s| s.summary.clone())
            .filter(|s| filter.matches(s))
            .collect();
        // Newest first; ids sort by creation time.
        out.sort_by_key(|s| std::cmp::Reverse(s.id));
        if let Some(n) = filter.limit {
            out.truncate(n);
        }
        futures::future::ready(Ok(out)).boxed()
    }

    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        let cutoff = millis(before);
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let n = runs.len();
        runs.retain(|_, s| {
            !(s.summary.status.is_terminal() && s.summary.ended_at.is_some_and(|e| e < cutoff))
        });
        futures::future::ready(Ok(n - runs.len())).boxed()
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn kv(&self) -> Option<&dyn KvStore> {
        Some(self)
    }
}

impl KvStore for MemoryStore {
    fn kv_set<'a>(&'a self, entry: &'a KvEntry) -> BoxFuture<'a, Result<(), StoreError>> {
        let done = check_key(&entry.scope, &entry.name).map(|()| {
            let mut stored = entry.clone();
            stored.updated_at = millis(SystemTime::now());
            self.kv
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((entry.scope.clone(), entry.name.clone()), stored);
        });
        async move { done }.boxed()
    }

    fn kv_get<'a>(
        &'a self,
        scope: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<KvEntry>, StoreError>> {
        let kv = self.kv.lock().unwrap_or_else(|p| p.into_inner());
        let found = kv.get(&(scope.to_owned(), name.to_owned())).cloned();
        async move { Ok(found) }.boxed()
    }

    fn kv_list<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<KvEntry>, StoreError>> {
        let kv = self.kv.lock().unwrap_or_else(|p| p.into_inner());
        let found = kv
            .values()
            .filter(|e| e.scope == scope && e.name.starts_with(prefix))
            .cloned()
            .collect();
        async move { Ok(found) }.boxed()
    }

    fn kv_delete<'a>(
        &'a self,
        scope: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut kv = self.kv.lock().unwrap_or_else(|p| p.into_inner());
        let removed = kv.remove(&(scope.to_owned(), name.to_owned())).is_some();
        async move { Ok(removed) }.boxed()
    }
}
