//! [`SqliteStore`]: the threads that own the connections, and the
//! [`Store`] methods that talk to them.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::FutureExt;
use weft_runtime::store::{
    join_parts, Appended, Entry, Millis, RunFilter, RunSummary, Store, StoreError, Submitted,
};
use weft_runtime::RunId;

use crate::error;
use crate::options::SqliteOptions;
use crate::read::Reader;
use crate::schema::{self, ReadMode};
use crate::write::{self, Prepared, Writer, MOVE_STAGED};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum WriteJob {
    Append(Prepared, Reply<()>),
    /// Entries to prepare and write on the writer thread, and drop there,
    /// in parts whose order is theirs (`Store::append_parts`); given back,
    /// joined, if they cannot be written.
    AppendOwned(
        Vec<Vec<Entry>>,
        oneshot::Sender<Result<(), (StoreError, Vec<Entry>)>>,
    ),
    /// As `AppendOwned`, answered through a callback (`Store::submit_parts`).
    Submit(Submit),
    Purge(Millis, Reply<usize>),
}

/// A commit handed over with its callback, which is called exactly once:
/// by the writer thread, or, if the job is dropped unrun, by its drop.
struct Submit {
    parts: Vec<Vec<Entry>>,
    done: Option<Submitted>,
    /// The file's name, for the error of a job dropped unrun.
    name: String,
}

impl Submit {
    /// Commits the parts on `writer` and calls back (before the work that
    /// follows a commit, which the caller does not wait for). The callback
    /// is taken out of the job only once the commit returned: should the
    /// commit panic, the job is dropped as the thread unwinds, and its
    /// drop calls back with the error.
    fn run(mut self, writer: &mut Writer) {
        let result = writer.append_parts(&self.parts);
        let Some(done) = self.done.take() else {
            return;
        };
        let parts = std::mem::take(&mut self.parts);
        match result {
            Ok(()) => {
                done(Ok(Appended::all()));
                drop(parts);
                writer.after_commit();
            }
            Err(e) => done(Err((e, join_parts(parts)))),
        }
    }
}

impl Drop for Submit {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let parts = std::mem::take(&mut self.parts);
            done(Err((stopped(&self.name), join_parts(parts))));
        }
    }
}

/// The error of a job its thread did not answer.
fn stopped(name: &str) -> StoreError {
    error::other(
        name,
        "its thread stopped (a bug in weft-store-sqlite): open the store again",
    )
}

enum ReadJob {
    Load(RunId, Reply<Vec<Entry>>),
    LoadFrom(RunId, u64, Reply<Vec<Entry>>),
    Get(RunId, Reply<Option<RunSummary>>),
    List(RunFilter, Reply<Vec<RunSummary>>),
}

/// A thread that owns a connection and answers jobs from a channel.
struct Worker<J> {
    tx: Option<mpsc::Sender<J>>,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static> Worker<J> {
    fn spawn(
        name: &str,
        path: &str,
        run: impl FnOnce(mpsc::Receiver<J>) + Send + 'static,
    ) -> Result<Worker<J>, StoreError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(rx))
            .map_err(|e| error::other(path, format!("cannot start its {name} thread ({e})")))?;
        Ok(Worker {
            tx: Some(tx),
            thread: Some(thread),
        })
    }
}

impl<J> Drop for Worker<J> {
    /// Closes the channel and waits for the thread: it finishes the jobs
    /// already sent, then closes its connection.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A [`Store`] in one SQLite file.
///
/// One thread owns the connection that writes (every append and purge is
/// one transaction on it) and another the connection that reads, so reads
/// never wait for a commit and no async task ever waits on the disk: the
/// methods hand their work to a thread and await its answer. The file is
/// in write-ahead-log mode, which lets other processes read it while this
/// one writes.
///
/// One store writes a file at a time: [`SqliteStore::open`] takes an
/// exclusive lock on `<file>-lock` beside it and fails while another store,
/// in this process or another, holds it. [`SqliteStore::open_read_only`]
/// takes no lock, and reads a file that another process is writing.
///
/// Dropping the store waits for its threads to finish the work already
/// handed to them, closes the file and releases the lock.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_runtime::Executor;
/// use weft_store_sqlite::SqliteStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("runs.db");
/// let store = SqliteStore::open(&path)?;
/// assert_eq!(store.path(), path);
/// let executor = Executor::builder().store(Arc::new(store)).build();
/// # let _ = executor;
/// # Ok(())
/// # }
/// ```
pub struct SqliteStore {
    path: PathBuf,
    name: String,
    // Dropped in this order: the reader closes first, so the writer's
    // connection is the file's last and tidies up the write-ahead log.
    reader: Worker<ReadJob>,
    writer: Option<Worker<WriteJob>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("read_only", &self.writer.is_none())
            .finish()
    }
}

impl SqliteStore {
    /// Opens the store in the file at `path`, creating it if it does not
    /// exist, with the default [`SqliteOptions`].
    ///
    /// This is synchronous (it opens and may migrate the file) and needs no
    /// async runtime; call it before the executor starts runs.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`], naming the file: the file or its
    /// directory cannot be written, the disk is full, the path is a
    /// directory, another store holds the file, the file is damaged, is not
    /// weft's, or was written by a newer weft.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, &SqliteOptions::default())
    }

    /// Opens the store in the file at `path` with `options`, creating the
    /// file if it does not exist.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub fn open_with(
        path: impl AsRef<Path>,
        options: &SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let file = path.as_ref().to_path_buf();
        let name = schema::display(&file);
        if file.is_dir() {
            return Err(error::is_a_directory(&name));
        }
        let lock = schema::lock(&file, &name)?;
        let conn = schema::open_writer(&file, &name, options)?;
        let reader = schema::open_reader(&file, &name, ReadMode::Live)?;
        // The reader thread first: if it cannot start, the writer's
        // connection and the lock are dropped here, not in a thread.
        let reader = spawn_reader(Source::Live(Reader::new(reader, name.clone())), &name)?;
        let batch = options.move_batch.unwrap_or(MOVE_STAGED).max(1);
        let mut writer = Writer::new(conn, name.clone(), batch)?;
        let writer = Worker::spawn("weft-sqlite-writer", &name, move |rx| {
            for job in rx {
                match job {
                    WriteJob::Append(batch, reply) => {
                        let _ = reply.send(writer.append(batch));
                        writer.after_commit();
                    }
                    WriteJob::AppendOwned(entries, reply) => {
                        match writer.append_parts(&entries) {
                            Ok(()) => {
                                // Answered first: the entries are dropped,
                                // and the log checkpointed, while the
                                // caller goes on.
                                let _ = reply.send(Ok(()));
                                drop(entries);
                                writer.after_commit();
                            }
                            Err(e) => {
                                let _ = reply.send(Err((e, join_parts(entries))));
                            }
                        }
                    }
                    WriteJob::Submit(job) => job.run(&mut writer),
                    WriteJob::Purge(before, reply) => {
                        let _ = reply.send(writer.purge(before));
                    }
                }
            }
            // The connection closes before the lock is released.
            drop(writer);
            drop(lock);
        })?;
        Ok(SqliteStore {
            path: file,
            name,
            reader,
            writer: Some(writer),
        })
    }

    /// Opens the file at `path` to read runs only (`load`, `get`, `list`),
    /// even while another process writes it; `append` and `purge` fail.
    ///
    /// Reading creates no file, so it works on a read-only file in a
    /// read-only directory (a copy, a backup) and leaves nothing behind
    /// that a later writer could not use:
    ///
    /// * while the file has no write-ahead log (`<file>-wal`: no process
    ///   writes it, and the last one closed it), each read opens the file
    ///   as unchanging (SQLite's `immutable=1`: no lock, no `-wal` or
    ///   `-shm` made), then checks that the file is still as it was (its
    ///   size, modification time and inode, and still no write-ahead log);
    ///   if a writer changed it meanwhile, the read is done again;
    /// * once a write-ahead log exists (a writer has the file open, or one
    ///   was killed), reads go through it, as SQLite reads a WAL file:
    ///   they see every commit. Its index, `<file>-shm`, is read-only to
    ///   this store when it cannot be written; were it missing beside the
    ///   log, SQLite would make it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`], naming the file: it does not exist, is
    /// a directory, is damaged, is not weft's, or was written by a newer
    /// (or older) weft.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let file = path.as_ref().to_path_buf();
        let name = schema::display(&file);
        match std::fs::metadata(&file) {
            Err(e) => {
                return Err(error::other(
                    &name,
                    format!("cannot open it to read ({e}): check the path"),
                ))
            }
            Ok(m) if m.is_dir() => return Err(error::is_a_directory(&name)),
            Ok(_) => {}
        }
        let mut source = Source::Detached {
            file: file.clone(),
            path: name.clone(),
            live: None,
        };
        // Opened once now, so that a file weft cannot read is refused here.
        source.with(|_| Ok(()))?;
        Ok(SqliteStore {
            path: file,
            reader: spawn_reader(source, &name)?,
            name,
            writer: None,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the store was opened with [`SqliteStore::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// Whether a process (this one included) has the file open for
    /// writing now, that is holds its lock; `None` when it cannot be told
    /// (the lock file beside it cannot be opened).
    ///
    /// A run the file says is going on (`running`, `pausing`, `canceling`)
    /// while no process writes the file was interrupted: its process
    /// stopped without ending it (a crash, `kill -9`), and
    /// [`Executor::resume_run`](weft_runtime::Executor::resume_run)
    /// continues it. The lock is one the system drops when its holder
    /// dies, however it dies, so the answer does not depend on the dead
    /// process having tidied up. On a network file system whose locks are
    /// not shared between machines, a writer on another machine is not
    /// seen.
    pub fn has_writer(&self) -> Option<bool> {
        if self.writer.is_some() {
            return Some(true);
        }
        schema::has_writer(&self.path)
    }

    /// The file's name, for messages.
    pub(crate) fn describe_path(&self) -> String {
        self.name.clone()
    }

    fn writer(&self) -> Result<&Worker<WriteJob>, StoreError> {
        self.writer.as_ref().ok_or_else(|| {
            error::other(
                &self.name,
                "was opened read-only: open it with SqliteStore::open to write runs",
            )
        })
    }

    async fn write<T>(&self, job: impl FnOnce(Reply<T>) -> WriteJob) -> Result<T, StoreError> {
        self.call(self.writer()?, job).await
    }

    async fn read<T>(&self, job: impl FnOnce(Reply<T>) -> ReadJob) -> Result<T, StoreError> {
        self.call(&self.reader, job).await
    }

    async fn call<J, T>(
        &self,
        worker: &Worker<J>,
        job: impl FnOnce(Reply<T>) -> J,
    ) -> Result<T, StoreError> {
        let stopped = || {
            error::other(
                &self.name,
                "its thread stopped (a bug in weft-store-sqlite): open the store again",
            )
        };
        let (tx, rx) = oneshot::channel();
        let sent = worker.tx.as_ref().map(|w| w.send(job(tx)));
        if !matches!(sent, Some(Ok(()))) {
            return Err(stopped());
        }
        rx.await.map_err(|_| stopped())?
    }
}

/// Where the reader thread reads.
enum Source {
    /// The writer's companion: one connection through the write-ahead log.
    Live(Reader),
    /// A store opened read-only: see [`SqliteStore::open_read_only`].
    Detached {
        file: PathBuf,
        path: String,
        /// Reading through the write-ahead log, once one exists.
        live: Option<Reader>,
    },
}

/// What identifies one state of a file without a write-ahead log: a
/// checkpoint rewrites pages in place, which moves the modification time.
#[derive(PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(file: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(file).ok()?;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

/// Reads done again, at most, when a writer keeps changing the file
/// under a reader that found no write-ahead log.
const REREADS: usize = 3;

impl Source {
    /// Runs `job` on a connection that reads the file's current state.
    fn with<T>(&mut self, job: impl Fn(&Reader) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let (file, path, live) = match self {
            Source::Live(reader) => return job(reader),
            Source::Detached { file, path, live } => (file, path, live),
        };
        for _ in 0..REREADS {
            if live.is_none() && schema::wal_path(file).exists() {
                *live = Some(Reader::new(
                    schema::open_reader(file, path, ReadMode::Live)?,
                    path.clone(),
                ));
            }
            if let Some(reader) = live.as_ref() {
                return job(reader);
            }
            let before = stamp(file);
            let reader = Reader::new(
                schema::open_reader(file, path, ReadMode::Immutable)?,
                path.clone(),
            );
            let out = job(&reader);
            drop(reader);
            if !schema::wal_path(file).exists() && stamp(file) == before && before.is_some() {
                return out;
            }
            // A writer changed the file while it was read.
        }
        Err(error::other(
            path,
            "changed every time it was read: a process is writing it without a \
             write-ahead log; try again",
        ))
    }
}

fn spawn_reader(mut source: Source, name: &str) -> Result<Worker<ReadJob>, StoreError> {
    Worker::spawn("weft-sqlite-reader", name, move |rx| {
        for job in rx {
            match job {
                ReadJob::Load(run, reply) => {
                    let _ = reply.send(source.with(|r| r.load(run)));
                }
                ReadJob::LoadFrom(run, from, reply) => {
                    let _ = reply.send(source.with(|r| r.load_from(run, from)));
                }
                ReadJob::Get(run, reply) => {
                    let _ = reply.send(source.with(|r| r.get(run)));
                }
                ReadJob::List(filter, reply) => {
                    let _ = reply.send(source.with(|r| r.list(&filter)));
                }
            }
        }
    })
}

/// # Cancel safety
///
/// Every method hands its work to a thread of the store. Dropping a future
/// of `append` or `purge` after its first poll does not take the work back:
/// it may still be committed. Dropping a read's future only stops waiting.
impl Store for SqliteStore {
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>> {
        async move {
            let writer = self.writer()?;
            let batch = write::prepare(&self.name, entries)?;
            if batch.is_empty() {
                return Ok(Appended::all());
            }
            self.call(writer, |reply| WriteJob::Append(batch, reply))
                .await?;
            Ok(Appended::all())
        }
        .boxed()
    }

    /// The entries are grouped, serialized and written on the store's
    /// writer thread, and dropped there: the caller's thread only hands
    /// them over.
    fn append_owned(
        &self,
        entries: Vec<Entry>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.append_parts(vec![entries])
    }

    /// As [`Store::append_owned`]: the parts are read one after the other
    /// on the writer thread, not joined.
    fn append_parts(
        &self,
        entries: Vec<Vec<Entry>>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        async move {
            let writer = match self.writer() {
                Ok(writer) => writer,
                Err(e) => return Err((e, join_parts(entries))),
            };
            let stopped = || {
                error::other(
                    &self.name,
                    "its thread stopped (a bug in weft-store-sqlite): open the store again",
                )
            };
            let (tx, rx) = oneshot::channel();
            let Some(sender) = writer.tx.as_ref() else {
                return Err((stopped(), join_parts(entries)));
            };
            if let Err(mpsc::SendError(job)) = sender.send(WriteJob::AppendOwned(entries, tx)) {
                let entries = match job {
                    WriteJob::AppendOwned(entries, _) => join_parts(entries),
                    _ => Vec::new(),
                };
                return Err((stopped(), entries));
            }
            match rx.await {
                Ok(Ok(())) => Ok(Appended::all()),
                Ok(Err(failed)) => Err(failed),
                Err(_) => Err((stopped(), Vec::new())),
            }
        }
        .boxed()
    }

    /// The commit is made on the writer thread, which calls `done` as soon
    /// as it is committed, before it checkpoints the log. A store opened
    /// read-only, or whose thread stopped, calls `done` with the error
    /// before this returns.
    fn submit_parts(
        &self,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let job = Submit {
            parts,
            done: Some(done),
            name: self.name.clone(),
        };
        let sender = match self.writer() {
            Ok(writer) => writer.tx.as_ref(),
            Err(e) => {
                let mut job = job;
                if let Some(done) = job.done.take() {
                    done(Err((e, join_parts(std::mem::take(&mut job.parts)))));
                }
                return Ok(());
            }
        };
        // A job the thread cannot take is dropped here: its drop calls
        // `done` with the error.
        if let Some(sender) = sender {
            let _ = sender.send(WriteJob::Submit(job));
        }
        Ok(())
    }

    fn load(&self, run: RunId) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.read(move |reply| ReadJob::Load(run, reply)).boxed()
    }

    fn load_from(&self, run: RunId, from: u64) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.read(move |reply| ReadJob::LoadFrom(run, from, reply))
            .boxed()
    }

    fn get(&self, run: RunId) -> BoxFuture<'_, Result<Option<RunSummary>, StoreError>> {
        self.read(move |reply| ReadJob::Get(run, reply)).boxed()
    }

    fn list<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunSummary>, StoreError>> {
        let filter = filter.clone();
        self.read(move |reply| ReadJob::List(filter, reply)).boxed()
    }

    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        let before = before
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.write(move |reply| WriteJob::Purge(before, reply))
            .boxed()
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn kv(&self) -> Option<&dyn weft_runtime::store::KvStore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A job dropped unrun (its thread gone) calls its callback with the
    /// error, its entries given back.
    #[test]
    fn a_submit_dropped_unrun_calls_back_with_the_error() {
        let (tx, rx) = mpsc::channel();
        let job = Submit {
            parts: vec![Vec::new(), Vec::new()],
            done: Some(Box::new(move |answer| {
                let _ = tx.send(answer);
            })),
            name: "runs.db".into(),
        };
        drop(job);
        let (e, back) = rx.try_recv().unwrap().unwrap_err();
        assert!(e.to_string().contains("its thread stopped"), "{e}");
        assert!(back.is_empty());
        assert!(rx.try_recv().is_err(), "called twice");
    }
}
