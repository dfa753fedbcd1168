//! A store that passes every call on to a store it wraps, but for appends,
//! which go through a hook of the test's: a store that refuses some
//! records, loses a commit, takes its time or counts its commits, without
//! forwarding `load`, `get`, `list` and the rest by hand.

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::BoxFuture;
use weft_runtime::store::{
    join_parts, Appended, Entry, KvStore, RunFilter, RunSummary, SharedStore, Store, StoreError,
    Submitted,
};
use weft_runtime::RunId;

/// What a [`Hooked`] store does with appends, given the store it wraps.
pub trait AppendHook: Send + Sync + 'static {
    /// [`Store::append`]. This default passes the entries on to `inner`.
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        inner.append(entries)
    }

    /// [`Store::append_owned`]. This default is the trait's own: it calls
    /// [`AppendHook::append`] and gives the entries back when it fails.
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        Box::pin(async move {
            match self.append(inner, &entries).await {
                Ok(done) => Ok(done),
                Err(e) => Err((e, entries)),
            }
        })
    }

    /// [`Store::append_parts`]. This default is the trait's own: it joins
    /// the parts and calls [`AppendHook::append_owned`].
    fn append_parts<'a>(
        &'a self,
        inner: &'a dyn Store,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.append_owned(inner, join_parts(parts))
    }

    /// [`Store::submit_parts`]. This default has no such path (it gives
    /// both back, as the trait's default does), so that a hook of the
    /// appends sees every commit: a hook that lets the inner store take
    /// commits with a callback says so by passing them on
    /// (`inner.submit_parts(parts, done)`), or wraps `done`.
    ///
    /// # Errors
    ///
    /// The parts and `done`, untouched: no such path.
    #[allow(clippy::type_complexity)]
    fn submit_parts(
        &self,
        inner: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let _ = inner;
        Err((parts, done))
    }
}

/// The store `inner`, its appends through `hook`; every other call goes
/// to `inner` as it is. It describes itself as `inner` does, or by the
/// name [`Hooked::named`] gives it.
pub struct Hooked<H> {
    /// The store that keeps what is appended.
    pub inner: Arc<dyn Store>,
    /// What is done with appends (and what the test looks at afterwards).
    pub hook: H,
    name: Option<String>,
}

impl<H: AppendHook> Hooked<H> {
    /// `inner` with its appends through `hook`.
    pub fn new(inner: Arc<dyn Store>, hook: H) -> Hooked<H> {
        Hooked {
            inner,
            hook,
            name: None,
        }
    }

    /// The store described as `name` ([`Store::describe`], which the
    /// messages of failed commits show).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Hooked<H> {
        self.name = Some(name.into());
        self
    }
}

impl<H: AppendHook> Store for Hooked<H> {
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>> {
        self.hook.append(&*self.inner, entries)
    }

    fn append_owned(
        &self,
        entries: Vec<Entry>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.hook.append_owned(&*self.inner, entries)
    }

    fn append_parts(
        &self,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.hook.append_parts(&*self.inner, parts)
    }

    fn submit_parts(
        &self,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        self.hook.submit_parts(&*self.inner, parts, done)
    }

    fn load(&self, run: RunId) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.inner.load(run)
    }

    fn load_from(&self, run: RunId, from: u64) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.inner.load_from(run, from)
    }

    fn get(&self, run: RunId) -> BoxFuture<'_, Result<Option<RunSummary>, StoreError>> {
        self.inner.get(run)
    }

    fn list<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunSummary>, StoreError>> {
        self.inner.list(filter)
    }

    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.inner.purge(before)
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.inner.describe(),
        }
    }

    fn shared(&self) -> Option<&dyn SharedStore> {
        self.inner.shared()
    }

    fn kv(&self) -> Option<&dyn KvStore> {
        self.inner.kv()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::FutureExt;
    use serde_json::json;
    use weft_runtime::store::{Durability, MemoryStore, Record, RunStart};
    use weft_runtime::RunStatus;

    use super::*;

    /// Counts the appends; refuses a batch of more than two entries.
    #[derive(Default)]
    struct Picky {
        appends: AtomicUsize,
    }

    impl AppendHook for Picky {
        fn append<'a>(
            &'a self,
            inner: &'a dyn Store,
            entries: &'a [Entry],
        ) -> BoxFuture<'a, Result<Appended, StoreError>> {
            self.appends.fetch_add(1, Ordering::Relaxed);
            async move {
                if entries.len() > 2 {
                    return Err(StoreError::unavailable("too many"));
                }
                inner.append(entries).await
            }
            .boxed()
        }
    }

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

    #[tokio::test]
    async fn appends_go_through_the_hook_and_the_rest_to_the_inner_store() {
        let store = Hooked::new(Arc::new(MemoryStore::new()), Picky::default());
        let (a, b, c) = (RunId::new(), RunId::new(), RunId::new());
        store.append(&[started(a)]).await.unwrap();
        // The owned append goes through the hook's `append`, and a refused
        // batch comes back whole.
        store.append_owned(vec![started(b)]).await.unwrap();
        let three = vec![started(c), started(RunId::new()), started(RunId::new())];
        let (e, back) = store.append_owned(three.clone()).await.unwrap_err();
        assert_eq!(e, StoreError::unavailable("too many"));
        assert_eq!(back, three);
        assert_eq!(store.hook.appends.load(Ordering::Relaxed), 3);
        // Reads are the inner store's.
        assert_eq!(store.load(a).await.unwrap(), vec![started(a)]);
        assert_eq!(
            store.get(b).await.unwrap().map(|s| s.status),
            Some(RunStatus::Running)
        );
        assert_eq!(store.get(c).await.unwrap(), None);
        assert_eq!(store.list(&RunFilter::all()).await.unwrap().len(), 2);
        assert_eq!(store.describe(), MemoryStore::new().describe());
        assert_eq!(store.named("picky").describe(), "picky");
    }
}
