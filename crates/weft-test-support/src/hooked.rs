//! A store that passes every call on to a store it wraps, but for appends,
//! which go through a hook of the test's: a store that refuses some
//! records, loses a commit, takes its time or counts its commits, without
//! forwarding `load`, `get`, `list` and the rest by hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
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

/// The store `inner`, taking commits with a callback
/// ([`Store::submit_parts`]): each is made by `inner`'s
/// [`Store::append_parts`] on a thread of this store's own, one after the
/// other, which then calls back, as a store with a writing thread does. A
/// hook of `inner` (a [`Hooked`] store's) sees those commits as it sees the
/// rest, so that a test of the journal's commits runs on the path where a
/// flush commits through the store's thread as well as on the writer's.
/// Every other call goes to `inner` as it is.
pub struct Submitting<S: ?Sized> {
    /// The store that makes the commits.
    pub inner: Arc<S>,
    /// Commits handed over with a callback.
    pub submits: AtomicUsize,
    /// Records in them.
    pub submitted: AtomicUsize,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

type Job = (Vec<Vec<Entry>>, Submitted);

impl<S: Store + ?Sized> Submitting<S> {
    /// `inner`, taking commits with a callback.
    pub fn new(inner: Arc<S>) -> Submitting<S> {
        Submitting {
            inner,
            submits: AtomicUsize::new(0),
            submitted: AtomicUsize::new(0),
            jobs: Mutex::new(None),
        }
    }

    /// The sender of the commits' thread, started on first use. `None`:
    /// it could not be started.
    fn jobs(&self) -> Option<mpsc::Sender<Job>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let inner = self.inner.clone();
            std::thread::Builder::new()
                .name("submitting".into())
                .spawn(move || {
                    // A runtime of its own, for a hook that sleeps. Without
                    // one, each job is dropped uncalled.
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                    else {
                        return;
                    };
                    for (parts, done) in rx {
                        let answer = rt.block_on(inner.append_parts(parts));
                        done(answer);
                    }
                })
                .ok()?;
            *jobs = Some(tx);
        }
        jobs.clone()
    }
}

impl<S: Store + ?Sized> Store for Submitting<S> {
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>> {
        self.inner.append(entries)
    }

    fn append_owned(
        &self,
        entries: Vec<Entry>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.inner.append_owned(entries)
    }

    fn append_parts(
        &self,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.inner.append_parts(parts)
    }

    /// Made on this store's thread; a job it cannot take is dropped, its
    /// callback uncalled.
    fn submit_parts(
        &self,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        self.submits.fetch_add(1, Ordering::SeqCst);
        let records = parts.iter().map(Vec::len).sum();
        self.submitted.fetch_add(records, Ordering::SeqCst);
        if let Some(jobs) = self.jobs() {
            let _ = jobs.send((parts, done));
        }
        Ok(())
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
        self.inner.describe()
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

    /// A submitted commit is made through the hook on the store's thread,
    /// which calls back once, with the hook's answer.
    #[test]
    fn a_submitted_commit_goes_through_the_hook_on_a_thread_of_its_own() {
        let hooked = Arc::new(Hooked::new(Arc::new(MemoryStore::new()), Picky::default()));
        let store = Submitting::new(hooked.clone());
        let (a, b) = (RunId::new(), RunId::new());
        let answer = |parts: Vec<Vec<Entry>>| {
            let (tx, rx) = mpsc::channel();
            let here = std::thread::current().id();
            let taken = store.submit_parts(
                parts,
                Box::new(move |answer| {
                    let _ = tx.send((answer, std::thread::current().id() != here));
                }),
            );
            assert!(taken.is_ok());
            let (answer, elsewhere) = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("no answer after 10 s");
            assert!(elsewhere, "called back on the caller's thread");
            assert!(rx.try_recv().is_err(), "called back twice");
            answer
        };
        assert_eq!(
            answer(vec![vec![started(a)], vec![started(b)]]).unwrap(),
            Appended::all()
        );
        let three = vec![
            started(RunId::new()),
            started(RunId::new()),
            started(RunId::new()),
        ];
        let (e, back) = answer(vec![three.clone()]).unwrap_err();
        assert_eq!(e, StoreError::unavailable("too many"));
        assert_eq!(back, three);
        assert_eq!(hooked.hook.appends.load(Ordering::Relaxed), 2);
        assert_eq!(store.submits.load(Ordering::SeqCst), 2);
        assert_eq!(store.submitted.load(Ordering::SeqCst), 5);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(store.load(b)).unwrap(), vec![started(b)]);
    }
}
