//! The journal: the records of all of an executor's durable runs,
//! committed to the store in batches, by the writer (one tokio task per
//! executor) or by a flush itself (see below).
//!
//! Each run's scheduler hands over its records a turn at a time (a
//! write-behind turn of a few records, whose next message is already there,
//! goes with the next turn's), onto a queue under a lock; a turn of 16 or
//! fewer records joins its run's batch still waiting at the queue's back.
//! The writer waits until [`JournalConfig::batch_records`] records are
//! pending or [`JournalConfig::batch_interval`] has passed since the first
//! one, then takes what waits, up to four batches and never fewer than
//! 32,768 records, and appends it in one call (one transaction, one
//! fsync). A batch that asks for an acknowledgement (a run with `sync`
//! durability, or a flush) is committed at once together with everything
//! already waiting, so runs waiting at the same moment share one commit.
//!
//! One commit is in flight at a time, and either the writer or a flush
//! starts it. A flush that finds nobody committing, on a store that takes
//! a commit with a callback ([`Store::submit_parts`]), takes what waits
//! itself and hands it to the store, whose thread answers the flush (and
//! every run and flush waiting on that commit) as soon as it is done,
//! without the writer task in between; a commit that failed, in whole or
//! in part, is handed to the writer, which deals with it as with its own
//! (below) before anything else is committed. Otherwise the flush goes
//! through the writer: it is answered after the writer's next commit.
//! Either way no flush future needs polling for the commit to end (the
//! store's thread, and the writer for a failed commit, see it through): a
//! flush whose future is never polled again holds nobody's records. A
//! commit whose callback the store drops uncalled ends as failed.
//!
//! A write-behind run's `Started` record is handed over by `start` itself
//! ([`Journal::hand_over_start`]), and committed with whatever comes next:
//! the run does not wait for it. [`Run::recorded`](crate::Run::recorded)
//! asks for that commit at once ([`Journal::urge`]) and hears how it went.
//!
//! Back-pressure: a run takes one permit per record from a semaphore of
//! [`JournalConfig::backlog_records`] permits before handing a batch over,
//! and the permits come back when the batch is committed; a run that would
//! go over the backlog waits at the end of its turn.
//!
//! A commit of several runs that fails is tried again run by run, so that
//! one run's bad records (a store that refuses them) fail that run only;
//! should the first two runs tried fail too, the store is failing as a
//! whole, and the rest are not tried. A run whose commit fails is told,
//! and fails (its records after the last commit are lost, so it cannot go
//! on being journaled; it can be resumed from its journal). On a
//! shared store such a run is also given up (its lease is no longer
//! renewed), so that a worker resumes it once the lease has lapsed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::{oneshot, Notify, Semaphore};
use weft_core::Plan;

use crate::id::RunId;
use crate::run::msg::{Control, Msg};
use crate::sealing::SecretKey;
use crate::store::{Appended, Entry, JournalConfig, Store, StoreError, Submitted};
use crate::telemetry::JournalMetrics;

/// The journal of an executor: its store, and the writer (started on first
/// use, inside the runtime of the first durable run).
pub(crate) struct Journal {
    pub(crate) store: Arc<dyn Store>,
    /// Encrypts the secret values of its runs (see `sealing.rs`).
    pub(crate) key: Option<SecretKey>,
    config: JournalConfig,
    writer: OnceLock<Writer>,
    /// The plan whose run started last, with the hash of its text: the
    /// runs of one plan hash its text once, not once each (a large
    /// workflow's text costs more to hash than its run of no-op tasks).
    last_hash: Mutex<Option<(Plan, String)>>,
}

struct Writer {
    tx: Queue,
    permits: Arc<Semaphore>,
    capacity: u32,
    /// Wakes the writer while it gathers a batch: see [`Wake`].
    wake: Arc<Wake>,
    /// The backlog's metrics, shared with the commits flushes start.
    backlog: Arc<Mutex<Backlog>>,
    /// The store may take a commit with a callback
    /// ([`Store::submit_parts`]): false once it said it has no such path.
    direct: AtomicBool,
    /// The most records one commit takes (see `write_loop`).
    most: usize,
}

/// How the writer is woken while it gathers a batch. Batches handed over
/// then go into the channel without waking it (a run of short turns
/// would otherwise wake it once a turn, on another thread, to take one
/// record each time): it is woken when a batch asks for an answer, when
/// someone waits for a commit, or when a full batch of records waits; the
/// rest it takes at the end of the batch interval. (Idle, it waits on
/// the channel itself: the first batch wakes it and starts the interval.)
struct Wake {
    notify: Notify,
    /// Records handed over and not yet taken by the writer.
    records: AtomicUsize,
    /// [`JournalConfig::batch_records`].
    full: usize,
}

impl Wake {
    /// `n` records were handed over: the writer is woken if they make a
    /// full batch.
    fn added(&self, n: usize) {
        let before = self.records.fetch_add(n, Ordering::Relaxed);
        if before < self.full && before + n >= self.full {
            self.notify.notify_one();
        }
    }

    /// `n` records were taken by the writer.
    fn taken(&self, n: usize) {
        self.records.fetch_sub(n, Ordering::Relaxed);
    }
}

enum ToWriter {
    Batch(Batch),
    /// Commit everything handed over so far, then answer.
    Flush(oneshot::Sender<Result<(), StoreError>>),
    /// Commit everything handed over so far, then answer, leaving a failed
    /// commit's error for the next `Flush`.
    Barrier(oneshot::Sender<()>),
    /// Commit everything handed over so far, now (someone waits for a
    /// run's first record); nobody to answer.
    Urge,
}

impl ToWriter {
    /// The message asks for a commit now: someone waits for it.
    fn urgent(&self) -> bool {
        match self {
            ToWriter::Batch(b) => b.ack.is_some(),
            ToWriter::Flush(_) | ToWriter::Barrier(_) | ToWriter::Urge => true,
        }
    }
}

/// Where a write-behind run hears how the commit of its `Started` record
/// went (`None` until it is done).
pub(crate) type FirstCommit = tokio::sync::watch::Sender<Option<Result<(), StoreError>>>;

struct Batch {
    run: RunId,
    entries: Vec<Entry>,
    ack: Option<oneshot::Sender<Result<(), StoreError>>>,
    /// The batch of a write-behind run's `Started` record: told how its
    /// commit went.
    first: Option<FirstCommit>,
    /// Where to tell the run that its records could not be committed.
    run_tx: flume::Sender<Msg>,
    permits: Permits,
}

/// The permits of the backlog a batch holds, given back when it is
/// dropped (committed, or given up). A count, not a tokio permit each: a
/// turn whose records join the batch before it adds its own to the count,
/// without an `Arc` of the semaphore to take and give back.
struct Permits {
    semaphore: Arc<Semaphore>,
    n: u32,
}

impl Drop for Permits {
    fn drop(&mut self) {
        if self.n > 0 {
            self.semaphore.add_permits(self.n as usize);
        }
    }
}

impl Writer {
    /// The backlog permits a batch of `records` takes: one a record, at
    /// least one, and never more than the backlog holds.
    fn permits_for(&self, records: usize) -> u32 {
        (records as u32).clamp(1, self.capacity)
    }

    /// Puts write-behind `run`'s records in `buf`, holding `n` permits, on
    /// the queue (see `Queue::send_behind`), and counts them for the
    /// writer's wake.
    fn hand_over_behind(
        &self,
        run: RunId,
        buf: &mut Vec<Entry>,
        n: u32,
        run_tx: &flume::Sender<Msg>,
    ) {
        let records = buf.len();
        self.tx.send_behind(run, buf, n, &self.permits, run_tx);
        self.wake.added(records);
    }

    /// Takes `n` permits of the backlog, waiting for them if need be, and
    /// says how many it took (none once the semaphore is closed).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it ends takes none.
    async fn take_permits(&self, n: u32) -> u32 {
        // Nearly always there is room: taken at once, without the future
        // of a wait (a turn of a chain hands over one record).
        let permit = match self.permits.try_acquire_many(n) {
            Ok(permit) => Ok(permit),
            Err(_) => self.permits.acquire_many(n).await,
        };
        match permit {
            Ok(permit) => {
                permit.forget();
                n
            }
            Err(_) => 0,
        }
    }
}

impl Journal {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        config: JournalConfig,
        key: Option<SecretKey>,
    ) -> Journal {
        Journal {
            store,
            key,
            config,
            writer: OnceLock::new(),
            last_hash: Mutex::new(None),
        }
    }

    /// [`source_hash`](crate::store::source_hash) of `text`, the text of
    /// `plan`, as the last call for the same plan found it.
    pub(crate) fn source_hash(&self, plan: &Plan, text: &str) -> String {
        let mut last = self.last_hash.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kept, hash)) = last.as_ref() {
            // The kept plan holds its text: the same address and length
            // are the same text, unchanged.
            if kept.source().is_some_and(|(t, _)| std::ptr::eq(t, text)) {
                return hash.clone();
            }
        }
        let hash = crate::store::source_hash(text);
        *last = Some((plan.clone(), hash.clone()));
        hash
    }

    fn writer(&self) -> &Writer {
        self.writer.get_or_init(|| {
            let tx = Queue::new();
            let rx = Receiver(tx.0.clone());
            let capacity =
                self.config
                    .backlog_records
                    .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
            let permits = Arc::new(Semaphore::new(capacity as usize));
            let backlog = Arc::new(Mutex::new(Backlog {
                permits: permits.clone(),
                capacity,
                metrics: None,
            }));
            let wake = Arc::new(Wake {
                notify: Notify::new(),
                records: AtomicUsize::new(0),
                full: self.config.batch_records.max(1),
            });
            tokio::spawn(write_loop(
                self.store.clone(),
                self.config.clone(),
                rx,
                backlog.clone(),
                wake.clone(),
            ));
            Writer {
                tx,
                permits,
                capacity,
                wake,
                backlog,
                direct: AtomicBool::new(true),
                most: most_taken(&self.config),
            }
        })
    }

    /// Hands `entries` of `run` over to the writer, waiting first for room
    /// in the backlog, for a commit now: the answer comes on `ack` when they
    /// are committed. (Write-behind records go through
    /// [`Journal::send_behind`].)
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it ends hands nothing over.
    pub(crate) async fn send(
        &self,
        run: RunId,
        entries: Vec<Entry>,
        ack: oneshot::Sender<Result<(), StoreError>>,
        run_tx: flume::Sender<Msg>,
    ) {
        let writer = self.writer();
        let n = writer.take_permits(writer.permits_for(entries.len())).await;
        let records = entries.len();
        let _ = writer.tx.send(ToWriter::Batch(Batch {
            run,
            entries,
            ack: Some(ack),
            first: None,
            run_tx,
            permits: Permits {
                semaphore: writer.permits.clone(),
                n,
            },
        }));
        writer.wake.added(records);
        writer.wake.notify.notify_one();
    }

    /// Hands the records in `buf` of write-behind `run` over to the writer
    /// (no answer), if the backlog has room for them now; `buf` is left
    /// empty. Records that join the batch of the same run still waiting
    /// are moved into it, and `buf` keeps its room for the next turn.
    /// `false`: no room, nothing handed over ([`Journal::send_behind`]
    /// waits for it).
    pub(crate) fn try_send_behind(
        &self,
        run: RunId,
        buf: &mut Vec<Entry>,
        run_tx: &flume::Sender<Msg>,
    ) -> bool {
        let writer = self.writer();
        let n = writer.permits_for(buf.len());
        let Ok(permits) = writer.permits.try_acquire_many(n) else {
            return false;
        };
        permits.forget();
        writer.hand_over_behind(run, buf, n, run_tx);
        true
    }

    /// [`Journal::try_send_behind`], waiting first for room in the backlog.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it ends hands nothing over.
    pub(crate) async fn send_behind(
        &self,
        run: RunId,
        buf: &mut Vec<Entry>,
        run_tx: &flume::Sender<Msg>,
    ) {
        let writer = self.writer();
        let n = writer.take_permits(writer.permits_for(buf.len())).await;
        writer.hand_over_behind(run, buf, n, run_tx);
    }

    /// Hands a new write-behind run's `Started` record over to the writer
    /// at once, without waiting (it is called by `start`, which does not
    /// wait): the record takes a permit of the backlog when one is free,
    /// and goes without one otherwise (the run's next turn waits for room
    /// anyway). `first` hears how its commit went.
    pub(crate) fn hand_over_start(
        &self,
        start: Entry,
        first: FirstCommit,
        run_tx: flume::Sender<Msg>,
    ) {
        let writer = self.writer();
        let n = match writer.permits.try_acquire() {
            Ok(permit) => {
                permit.forget();
                1
            }
            Err(_) => 0,
        };
        let _ = writer.tx.send(ToWriter::Batch(Batch {
            run: start.run,
            entries: vec![start],
            ack: None,
            first: Some(first),
            run_tx,
            permits: Permits {
                semaphore: writer.permits.clone(),
                n,
            },
        }));
        writer.wake.added(1);
    }

    /// Asks the writer to commit what it holds now, not at the end of its
    /// batch interval: someone waits for a run's first record.
    pub(crate) fn urge(&self) {
        if let Some(writer) = self.writer.get() {
            let _ = writer.tx.send(ToWriter::Urge);
            writer.wake.notify.notify_one();
        }
    }

    /// Waits until every record handed over so far is committed.
    ///
    /// # Errors
    ///
    /// A commit failed since the last flush.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.get() else {
            return Ok(());
        };
        let (tx, rx) = oneshot::channel();
        if let Err(waiter) = writer.commit_now(&self.store, ToWriter::Flush(tx)) {
            if writer.tx.send(waiter).is_err() {
                return Ok(());
            }
            writer.wake.notify.notify_one();
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// Waits until every record handed over so far has been through a
    /// commit, so that the store has what this process recorded (a run
    /// that just ended, before it is loaded again). A failed commit is
    /// left for `flush` to report.
    pub(crate) async fn barrier(&self) {
        let Some(writer) = self.writer.get() else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        if let Err(waiter) = writer.commit_now(&self.store, ToWriter::Barrier(tx)) {
            if writer.tx.send(waiter).is_err() {
                return;
            }
            writer.wake.notify.notify_one();
        }
        let _ = rx.await;
    }
}

/// The writer's channel: a queue under a lock. A batch handed over while
/// the last one waiting is of the same run (and nobody waits for either)
/// joins it, so that a run of short turns (a chain's turn hands over one
/// record) leaves the writer one batch to take, not one a turn.
struct Queue(Arc<Shared>);

struct Shared {
    state: Mutex<QueueState>,
    /// Wakes the writer waiting for a first message.
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    msgs: std::collections::VecDeque<ToWriter>,
    /// The journal is gone: no more messages come.
    closed: bool,
    /// The writer is gone: nothing takes messages any more.
    gone: bool,
    /// Messages in `msgs` that ask for a commit now (see
    /// [`ToWriter::urgent`]).
    urgent: usize,
    /// A commit is in flight (the writer's, or one a flush started):
    /// nobody starts another.
    committing: bool,
    /// The writer found a commit in flight (or, the journal gone, waits
    /// for the last one): it is woken when it ends.
    writer_waits: bool,
    /// Runs whose records could not be committed, with their scheduler's
    /// channel: until that scheduler is gone, what it still sends is not
    /// written. Taken by whoever commits, for the time of its commit.
    lost: Lost,
    /// A failed commit is told to its runs, and to the next flush: a run
    /// that had already ended (write-behind) has nobody else to hear of
    /// it.
    failed: Option<StoreError>,
    /// A commit a flush started that did not simply succeed, for the
    /// writer to deal with (it is still in flight until then).
    settle: Option<InFlight>,
    /// When the first of the messages waiting was queued (into an empty
    /// queue): the writer's batch interval runs from then. A flush that
    /// takes them all ends that interval.
    since: Option<Instant>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Queue {
    fn new() -> Queue {
        Queue(Arc::new(Shared {
            state: Mutex::new(QueueState::default()),
            ready: Notify::new(),
        }))
    }

    /// Queues `msg`; gives it back if the writer is gone.
    fn send(&self, msg: ToWriter) -> Result<(), ToWriter> {
        let mut st = self.0.lock();
        if st.gone {
            return Err(msg);
        }
        let was_empty = st.msgs.is_empty();
        if was_empty {
            st.since = Some(Instant::now());
        }
        st.urgent += usize::from(msg.urgent());
        st.msgs.push_back(msg);
        drop(st);
        if was_empty {
            self.0.ready.notify_one();
        }
        Ok(())
    }

    /// Queues the records of `buf`, a batch of `run` that waits for no
    /// answer: moved into the last batch waiting if they are few
    /// ([`JOIN_MOST`]) and that batch is of the same run, from the same
    /// scheduler, and waits for no answer either (`buf` keeps its room);
    /// otherwise as a batch of their own (`buf` gets as much room again:
    /// see [`next_room`]).
    /// The batch holds `permits` of `semaphore`, taken.
    fn send_behind(
        &self,
        run: RunId,
        buf: &mut Vec<Entry>,
        permits: u32,
        semaphore: &Arc<Semaphore>,
        run_tx: &flume::Sender<Msg>,
    ) {
        let mut st = self.0.lock();
        if st.gone {
            buf.clear();
            semaphore.add_permits(permits as usize);
            return;
        }
        if let Some(ToWriter::Batch(last)) = st.msgs.back_mut().filter(|_| buf.len() <= JOIN_MOST) {
            // The batch of the run's `Started` record too: whoever hears
            // how its commit went hears it of the commit these records
            // share with it.
            if last.run == run && last.ack.is_none() && last.run_tx.same_channel(run_tx) {
                let held = last.entries.len();
                if last.entries.capacity() - held < buf.len() {
                    // Grown to four times what it holds, and at least
                    // `JOIN_ROOM` records: a chain's batch, one record a
                    // turn from its `Started` record's, is copied into
                    // its next room about a third as often as by
                    // doubling, and a short run's once.
                    last.entries.reserve(buf.len().max(held * 3).max(JOIN_ROOM));
                }
                last.entries.append(buf);
                last.permits.n += permits;
                return;
            }
        }
        let entries = std::mem::replace(buf, Vec::with_capacity(next_room(buf)));
        let was_empty = st.msgs.is_empty();
        if was_empty {
            st.since = Some(Instant::now());
        }
        st.msgs.push_back(ToWriter::Batch(Batch {
            run,
            entries,
            ack: None,
            first: None,
            run_tx: run_tx.clone(),
            permits: Permits {
                semaphore: semaphore.clone(),
                n: permits,
            },
        }));
        drop(st);
        if was_empty {
            self.0.ready.notify_one();
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_one();
    }
}

/// The most records of a turn that join the batch before them: more are
/// handed over as a batch of their own, moved rather than copied.
const JOIN_MOST: usize = 16;

/// The least room for records a batch that turns join is grown to (see
/// `Queue::send_behind`).
const JOIN_ROOM: usize = 32;

/// The most room for records a run's next turn is given when its buffer
/// is handed over (a turn's budget bounds its records, a few aside).
const ROOM_MOST: usize = 2048;

/// The room for records of the buffer that replaces `buf`, handed over
/// whole: as much as `buf` had (up to [`ROOM_MOST`]), not only what it
/// held. Turns of many records vary in size, and a buffer sized to the
/// last turn grew by doubling, each step a copy of what it held, in the
/// next turn that had a few records more.
pub(crate) fn next_room(buf: &Vec<Entry>) -> usize {
    buf.capacity().min(ROOM_MOST).max(buf.len())
}

/// The writer's end of the [`Queue`].
struct Receiver(Arc<Shared>);

impl Receiver {
    /// Waits until a message waits, and leaves it there; `false` once the
    /// journal is gone and every message was taken.
    /// (Or a commit a flush started waits to be settled. Once the journal
    /// is gone, the commit in flight is waited for first.)
    async fn ready(&self) -> bool {
        loop {
            {
                let mut st = self.0.lock();
                if !st.msgs.is_empty() || st.settle.is_some() {
                    return true;
                }
                if st.closed {
                    if !st.committing {
                        return false;
                    }
                    st.writer_waits = true;
                }
            }
            // A message queued since the look above has stored a permit.
            self.0.ready.notified().await;
        }
    }

    /// Moves the messages waiting into `out`, in order, until their
    /// batches hold `most` records or more: one lock for all of them. The
    /// writer is committing from then on, and holds the `lost` list it
    /// gives. `None`: a commit is in flight, nothing taken (the writer is
    /// woken when it ends).
    fn take_waiting(&self, most: usize, out: &mut Vec<ToWriter>) -> Option<Held> {
        let mut st = self.0.lock();
        if st.committing {
            st.writer_waits = true;
            return None;
        }
        st.committing = true;
        let gone = gone_now(&st.lost);
        let mut records = 0;
        while records < most {
            let Some(msg) = st.msgs.pop_front() else {
                break;
            };
            st.urgent -= usize::from(msg.urgent());
            if let ToWriter::Batch(b) = &msg {
                records += b.entries.len();
            }
            out.push(msg);
        }
        let emptied = st.msgs.is_empty();
        if emptied {
            st.since = None;
        }
        Some(Held {
            lost: std::mem::take(&mut st.lost),
            gone,
            emptied,
        })
    }

    /// Takes the commit a flush started that waits to be settled.
    fn take_settle(&self) -> Option<InFlight> {
        self.0.lock().settle.take()
    }

    /// A commit a flush started waits to be settled.
    fn has_settle(&self) -> bool {
        self.0.lock().settle.is_some()
    }

    /// When the first of the messages waiting was queued; `None` only
    /// when none waits (a flush took them). (Set whenever a message goes
    /// into an empty queue; were it not, the interval would run from now,
    /// rather than the writer take a queue that holds messages for an
    /// empty one and look again at once, for ever.)
    fn since(&self) -> Option<Instant> {
        let mut st = self.0.lock();
        if st.msgs.is_empty() {
            return None;
        }
        debug_assert!(st.since.is_some(), "messages wait, and no interval runs");
        Some(*st.since.get_or_insert_with(Instant::now))
    }

    /// A message waiting asks for a commit now.
    fn urgent(&self) -> bool {
        self.0.lock().urgent > 0
    }

    /// The journal is gone.
    fn is_disconnected(&self) -> bool {
        self.0.lock().closed
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Whoever waits for an answer hears that none comes.
        let (msgs, settle) = {
            let mut st = self.0.lock();
            st.gone = true;
            (std::mem::take(&mut st.msgs), st.settle.take())
        };
        drop(msgs);
        if let Some(commit) = settle {
            commit.writer_gone();
        }
    }
}

/// The writer's view of the backlog, for its metrics.
struct Backlog {
    permits: Arc<Semaphore>,
    capacity: u32,
    /// Registered at the first commit that finds a recorder installed.
    metrics: Option<JournalMetrics>,
}

impl Backlog {
    /// The handles, if a recorder is installed (checked once per commit
    /// until one is).
    fn metrics(&mut self) -> Option<&JournalMetrics> {
        if self.metrics.is_none() && crate::telemetry::recorder_installed() {
            self.metrics = Some(JournalMetrics::new());
        }
        self.metrics.as_ref()
    }

    fn report(&mut self) {
        let taken = self.capacity as usize - self.permits.available_permits();
        if let Some(m) = self.metrics() {
            m.backlog.set(taken as f64);
        }
    }
}

/// What the writer gathered for one commit.
#[derive(Default)]
struct Gathered {
    pending: Vec<Batch>,
    /// `Flush` and `Barrier` waiters, answered after the commit.
    flushes: Vec<ToWriter>,
    /// Records in `pending`.
    count: usize,
}

impl Gathered {
    /// Takes `msg` into this commit. A batch of a run whose records could
    /// not be committed before (`lost`, by the channel of the scheduler
    /// that sent them) is answered with an error and not written: its
    /// journal has a gap, which a store refuses anyway, and a refused run
    /// in a commit of several costs the others a retry each.
    fn take(&mut self, msg: ToWriter, lost: &[(RunId, flume::Sender<Msg>)], wake: &Wake) {
        match msg {
            ToWriter::Batch(b) => {
                wake.taken(b.entries.len());
                if !lost.is_empty()
                    && lost
                        .iter()
                        .any(|(run, tx)| *run == b.run && tx.same_channel(&b.run_tx))
                {
                    let e = StoreError::unavailable(format!(
                        "run {}: an earlier commit of its records failed",
                        b.run
                    ));
                    if let Some(first) = b.first {
                        first.send_replace(Some(Err(e.clone())));
                    }
                    if let Some(ack) = b.ack {
                        let _ = ack.send(Err(e));
                    }
                    return;
                }
                self.count += b.entries.len();
                self.pending.push(b);
            }
            ToWriter::Urge => {}
            waiter @ (ToWriter::Flush(_) | ToWriter::Barrier(_)) => self.flushes.push(waiter),
        }
    }
}

/// The fewest records a commit takes when that many wait.
const MIN_TAKEN: usize = 32_768;

/// The most records one commit takes: four batches, and never fewer than
/// a writer that fell behind needs to catch up (a commit of a few small
/// batches at a time, each waiting for its fsync, would fall further
/// behind a run that hands over records faster).
fn most_taken(config: &JournalConfig) -> usize {
    config.batch_records.saturating_mul(4).max(MIN_TAKEN)
}

/// The runs whose records could not be committed (see `QueueState::lost`).
type Lost = Vec<(RunId, flume::Sender<Msg>)>;

/// The `lost` list as a commit takes it, with the messages.
struct Held {
    lost: Lost,
    /// Which of `lost` had their scheduler gone before the messages were
    /// taken: all they sent was among them.
    gone: Vec<bool>,
    /// The commit took every message waiting.
    emptied: bool,
}

/// Which of `lost` have their scheduler gone now.
fn gone_now(lost: &Lost) -> Vec<bool> {
    lost.iter().map(|(_, tx)| tx.is_disconnected()).collect()
}

impl Held {
    /// The list without the runs whose scheduler was gone before the
    /// messages were taken, if every message was taken: nothing of theirs
    /// can come any more. (A scheduler gone only since may have handed
    /// over records after the take, and one whose records were not all
    /// taken has some still waiting: those are kept, so that what they
    /// hand over is still not written.)
    fn forget_gone(self) -> Lost {
        let Held {
            mut lost,
            gone,
            emptied,
        } = self;
        if emptied && gone.contains(&true) {
            let mut gone = gone.into_iter();
            lost.retain(|_| !gone.next().unwrap_or(false));
        }
        lost
    }
}

/// A commit a flush started, handed to the store: what its end answers.
struct InFlight {
    /// The batches committed, their entries handed to the store.
    pending: Vec<Batch>,
    /// `Flush` and `Barrier` waiters (the flush that started it among
    /// them).
    flushes: Vec<ToWriter>,
    /// Records in `pending`.
    count: usize,
    /// The `lost` list, held by the commit.
    lost: Lost,
    began: Instant,
    /// How the store's commit went, once it answered with anything but
    /// plain success (for the writer to settle).
    result: Option<Result<Appended, (StoreError, Vec<Entry>)>>,
}

impl Writer {
    /// Starts a commit of everything handed over so far, `waiter` (a
    /// `Flush` or a `Barrier`) answered at its end, when nobody else is
    /// committing and the store takes a commit with a callback: the
    /// store's thread answers. `Err`: not started (a commit is in flight,
    /// more than one commit's worth of records waits, or the store has no
    /// such path); `waiter` goes to the writer as before.
    fn commit_now(&self, store: &Arc<dyn Store>, waiter: ToWriter) -> Result<(), ToWriter> {
        if !self.direct.load(Ordering::Relaxed) {
            return Err(waiter);
        }
        let shared = &self.tx.0;
        let (msgs, lost) = {
            let mut st = shared.lock();
            if st.gone
                || st.committing
                || st.settle.is_some()
                || self.wake.records.load(Ordering::Relaxed) > self.most
            {
                return Err(waiter);
            }
            st.committing = true;
            st.urgent = 0;
            st.since = None;
            let gone = gone_now(&st.lost);
            let msgs = std::mem::take(&mut st.msgs);
            (
                msgs,
                Held {
                    lost: std::mem::take(&mut st.lost),
                    gone,
                    emptied: true,
                },
            )
        };
        let mut g = Gathered::default();
        for msg in msgs {
            g.take(msg, &lost.lost, &self.wake);
        }
        let lost = lost.forget_gone();
        g.flushes.push(waiter);
        let Gathered {
            mut pending,
            flushes,
            count,
        } = g;
        if pending.is_empty() {
            conclude(shared, &self.wake, Ok(()), flushes, lost);
            return Ok(());
        }
        lock_backlog(&self.backlog).report();
        let began = Instant::now();
        let parts = pending
            .iter_mut()
            .map(|b| std::mem::take(&mut b.entries))
            .collect();
        // The commit's state, taken by the callback (or, if the store has
        // no such path, back here).
        let cell = Arc::new(Mutex::new(Some(InFlight {
            pending,
            flushes,
            count,
            lost,
            began,
            result: None,
        })));
        let done: Submitted = {
            let answer = Answer {
                cell: cell.clone(),
                shared: shared.clone(),
                wake: self.wake.clone(),
                backlog: self.backlog.clone(),
            };
            Box::new(move |result| answer.call(result))
        };
        // Not under the queue's lock: the store may call back at once.
        let Err((parts, done)) = store.submit_parts(parts, done) else {
            return Ok(());
        };
        self.direct.store(false, Ordering::Relaxed);
        // Taken before `done` is dropped: its drop then settles nothing.
        let taken = cell.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(done);
        if let Some(mut commit) = taken {
            for (b, part) in commit.pending.iter_mut().zip(parts) {
                b.entries = part;
            }
            commit.give_back(shared, &self.wake);
        }
        Ok(())
    }
}

/// What the callback of a commit a flush started holds: the commit, taken
/// by whoever ends it. Dropped without being called (a store that lost the
/// callback, or whose thread panicked), it ends the commit as failed: its
/// runs fail and the next flush hears of it, rather than a commit that
/// never ends and a flush that answers for records nobody committed.
struct Answer {
    cell: Arc<Mutex<Option<InFlight>>>,
    shared: Arc<Shared>,
    wake: Arc<Wake>,
    backlog: Arc<Mutex<Backlog>>,
}

impl Answer {
    fn call(&self, result: Result<Appended, (StoreError, Vec<Entry>)>) {
        let taken = self.cell.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(commit) = taken {
            commit.done(result, &self.shared, &self.wake, &self.backlog);
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        let taken = self.cell.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(commit) = taken {
            let e =
                StoreError::unavailable("the store dropped a commit without saying how it went");
            commit.done(
                Err((e, Vec::new())),
                &self.shared,
                &self.wake,
                &self.backlog,
            );
        }
    }
}

impl InFlight {
    /// The store answered: a plain success is answered here (on the
    /// store's thread); anything else goes to the writer, which settles
    /// it as it settles its own commits.
    fn done(
        mut self,
        result: Result<Appended, (StoreError, Vec<Entry>)>,
        shared: &Arc<Shared>,
        wake: &Wake,
        backlog: &Mutex<Backlog>,
    ) {
        match result {
            Ok(done) if done.fenced.is_empty() => {
                for b in self.pending.drain(..) {
                    if let Some(first) = &b.first {
                        first.send_replace(Some(Ok(())));
                    }
                    if let Some(ack) = b.ack {
                        let _ = ack.send(Ok(()));
                    }
                }
                let (count, began) = (self.count, self.began);
                conclude(shared, wake, Ok(()), self.flushes, self.lost);
                // Last, and kept from the store's thread should the
                // recorder panic: the commit has ended already, and a
                // measurement lost costs nothing else.
                let recorded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut backlog = lock_backlog(backlog);
                    if let (true, Some(m)) = (count > 0, backlog.metrics()) {
                        m.flush.record(began.elapsed());
                        m.batch.record(count as f64);
                    }
                    backlog.report();
                }));
                drop(recorded);
            }
            other => {
                self.result = Some(other);
                let mut st = shared.lock();
                if st.gone {
                    drop(st);
                    self.writer_gone();
                    return;
                }
                st.settle = Some(self);
                drop(st);
                wake.notify.notify_one();
                shared.ready.notify_one();
            }
        }
    }

    /// The store had no such path: what was taken goes back to the front
    /// of the queue, for the writer.
    fn give_back(self, shared: &Shared, wake: &Wake) {
        let records = self.count;
        {
            let mut st = shared.lock();
            st.lost = self.lost;
            st.committing = false;
            let waiters = self.flushes.into_iter().rev();
            let batches = self.pending.into_iter().rev().map(ToWriter::Batch);
            for msg in waiters.chain(batches) {
                st.urgent += usize::from(msg.urgent());
                st.msgs.push_front(msg);
            }
            st.writer_waits = false;
            st.since.get_or_insert_with(Instant::now);
        }
        wake.added(records);
        wake.notify.notify_one();
        shared.ready.notify_one();
    }

    /// The commit failed after the writer was gone (its runtime shut
    /// down): its runs and waiters are told, nothing more.
    fn writer_gone(self) {
        let why = match self.result {
            Some(Err((e, _))) => e,
            _ => StoreError::unavailable("the journal writer stopped"),
        };
        for b in self.pending {
            if let Some(first) = &b.first {
                first.send_replace(Some(Err(why.clone())));
            }
            let _ = b.run_tx.send(Msg::Control(Control::JournalFailed(format!(
                "the journal could not be written: {why}"
            ))));
            if let Some(ack) = b.ack {
                let _ = ack.send(Err(why.clone()));
            }
        }
        for waiter in self.flushes {
            if let ToWriter::Flush(tx) = waiter {
                let _ = tx.send(Err(why.clone()));
            }
        }
    }
}

fn lock_backlog(backlog: &Mutex<Backlog>) -> std::sync::MutexGuard<'_, Backlog> {
    backlog.lock().unwrap_or_else(|e| e.into_inner())
}

/// The end of a commit (its batches answered): the error kept for the next
/// `Flush` (only a `Flush` takes it; a `Barrier` leaves it for one), the
/// `lost` list given back, nobody committing; the commit's waiters
/// answered, and the writer woken if it waits for the commit's end.
fn conclude(
    shared: &Shared,
    wake: &Wake,
    result: Result<(), StoreError>,
    flushes: Vec<ToWriter>,
    lost: Lost,
) {
    let (answer, writer_waits) = {
        let mut st = shared.lock();
        if let Err(e) = result {
            st.failed = Some(e);
        }
        let answer = match flushes.iter().any(|w| matches!(w, ToWriter::Flush(_))) {
            true => st.failed.take().map_or(Ok(()), Err),
            false => Ok(()),
        };
        st.lost = lost;
        st.committing = false;
        (answer, std::mem::take(&mut st.writer_waits))
    };
    for waiter in flushes {
        match waiter {
            ToWriter::Flush(tx) => {
                let _ = tx.send(answer.clone());
            }
            ToWriter::Barrier(tx) => {
                let _ = tx.send(());
            }
            ToWriter::Batch(_) | ToWriter::Urge => {}
        }
    }
    if writer_waits {
        wake.notify.notify_one();
        shared.ready.notify_one();
    }
}

/// After a commit: a shared store's runs whose records were lost given
/// up, the metrics, the error counted.
fn after_commit(
    store: &dyn Store,
    backlog: &Mutex<Backlog>,
    result: &Result<(), StoreError>,
    broken: Vec<RunId>,
    count: usize,
    began: Instant,
) {
    if let Some(shared) = store.shared() {
        // A shared store's run whose records were lost cannot go on
        // here: let its lease lapse, so that a process (this one or
        // another) resumes it from its journal once the store answers
        // again, a lease later.
        for run in broken {
            shared.abandon(run);
        }
    }
    let mut backlog = lock_backlog(backlog);
    if let (true, Some(m)) = (count > 0, backlog.metrics()) {
        m.flush.record(began.elapsed());
        m.batch.record(count as f64);
    }
    backlog.report();
    if result.is_err() {
        if let Some(m) = backlog.metrics() {
            m.errors.increment(1);
        }
    }
}

async fn write_loop(
    store: Arc<dyn Store>,
    config: JournalConfig,
    rx: Receiver,
    backlog: Arc<Mutex<Backlog>>,
    wake: Arc<Wake>,
) {
    let most = most_taken(&config);
    // The messages of a commit, taken from the queue under one lock.
    let mut taken: Vec<ToWriter> = Vec::new();
    while rx.ready().await {
        // A commit a flush started that failed (in whole or in part): dealt
        // with as the writer's own, before anything else is committed.
        if let Some(commit) = rx.take_settle() {
            let InFlight {
                mut pending,
                flushes,
                count,
                mut lost,
                began,
                result,
            } = commit;
            let appended = result.unwrap_or_else(|| Ok(Appended::all()));
            let (result, broken) = settle(&*store, &mut pending, appended, &mut lost).await;
            after_commit(&*store, &backlog, &result, broken, count, began);
            conclude(&rx.0, &wake, result, flushes, lost);
            continue;
        }
        // What comes is left in the queue until the commit, where a run's
        // next few records join its batch (its `Started` record's too): a
        // short run is one batch at its commit, not a batch to copy in
        // front of the rest. The interval runs from the first message
        // waiting: when a flush took them all, the writer waits for the
        // next one, without a commit of nothing.
        let mut taken_by_a_flush = false;
        // The interval that has run out: that of the first message then.
        let mut due: Option<Instant> = None;
        while !(rx.urgent()
            || wake.records.load(Ordering::Relaxed) >= config.batch_records
            || rx.is_disconnected()
            || rx.has_settle())
        {
            let Some(first) = rx.since() else {
                taken_by_a_flush = true;
                break;
            };
            if due == Some(first) {
                break;
            }
            let wait = tokio::time::sleep_until((first + config.batch_interval).into());
            tokio::select! {
                () = wake.notify.notified() => {}
                () = wait => due = Some(first),
            }
        }
        if taken_by_a_flush {
            continue;
        }
        // Whatever waits now, up to `most` records (and what was left
        // over the last time, first), unless a flush's commit is in
        // flight: then its end wakes the writer.
        let Some(held) = rx.take_waiting(most, &mut taken) else {
            if !rx.has_settle() {
                wake.notify.notified().await;
            }
            continue;
        };
        let mut g = Gathered::default();
        for msg in taken.drain(..) {
            g.take(msg, &held.lost, &wake);
        }
        let mut lost = held.forget_gone();
        let Gathered {
            mut pending,
            flushes,
            count,
        } = g;
        lock_backlog(&backlog).report();
        let began = Instant::now();
        let (result, broken) = commit(&*store, &mut pending, &mut lost).await;
        after_commit(&*store, &backlog, &result, broken, count, began);
        conclude(&rx.0, &wake, result, flushes, lost);
    }
}

/// Appends the batches in one call; answers their acknowledgements, and
/// tells the runs of a failed commit (which it also returns, and adds to
/// `lost`, with their scheduler's channel).
async fn commit(
    store: &dyn Store,
    pending: &mut Vec<Batch>,
    lost: &mut Lost,
) -> (Result<(), StoreError>, Vec<RunId>) {
    if pending.is_empty() {
        return (Ok(()), Vec::new());
    }
    // Handed over, not lent: the store may encode and drop them on a
    // thread of its own, off the runtime's. The batches of several turns
    // go as they are, not copied into one vector (a store that encodes
    // them itself reads them part by part).
    let appended = if pending.len() == 1 {
        store.append_owned(std::mem::take(&mut pending[0].entries))
    } else {
        let parts = pending
            .iter_mut()
            .map(|b| std::mem::take(&mut b.entries))
            .collect();
        store.append_parts(parts)
    };
    settle(store, pending, appended.await, lost).await
}

/// The end of the commit of `pending`, whose store answered `appended`:
/// as [`commit`] says.
async fn settle(
    store: &dyn Store,
    pending: &mut Vec<Batch>,
    appended: Result<Appended, (StoreError, Vec<Entry>)>,
    lost: &mut Lost,
) -> (Result<(), StoreError>, Vec<RunId>) {
    let mut broken = Vec::new();
    let (result, back) = match appended {
        Ok(done) => (Ok(done), Vec::new()),
        Err((e, back)) => (Err(e), back),
    };
    // One bad run must not fail the others: a commit of several runs that
    // failed is tried again run by run, and only the runs whose own
    // commit fails are failed.
    let alone = match &result {
        Err(e) if pending.iter().any(|b| b.run != pending[0].run) => {
            let runs = pending.iter().map(|b| b.run);
            Some(commit_each(store, back, runs, e).await)
        }
        _ => None,
    };
    // What the next flush hears: the first run's own failure.
    let first_failure = alone.as_ref().map(|each| {
        pending
            .iter()
            .find_map(|b| each.get(&b.run).and_then(|r| r.clone().err()))
            .filter(|e| !matches!(e, StoreError::Fenced(_)))
            .map_or(Ok(()), Err)
    });
    for b in pending.drain(..) {
        let this = match (&alone, &result) {
            (Some(each), _) => each.get(&b.run).cloned().unwrap_or(Ok(())),
            (None, Ok(done)) if done.fenced.contains(&b.run) => Err(StoreError::Fenced(b.run)),
            (None, Ok(_)) => Ok(()),
            (None, Err(e)) => Err(e.clone()),
        };
        // Told before the run hears of a failure: the run tells by it
        // whether the store ever had it.
        if let Some(first) = &b.first {
            first.send_replace(Some(this.clone()));
        }
        if let Err(e) = &this {
            if !matches!(e, StoreError::Fenced(_)) {
                broken.push(b.run);
            }
            if !lost
                .iter()
                .any(|(run, tx)| *run == b.run && tx.same_channel(&b.run_tx))
            {
                lost.push((b.run, b.run_tx.clone()));
            }
            let why = format!(
                "the journal could not be written to {}: {e}",
                store.describe()
            );
            // Fenced: the shared store gave the run to another process.
            let control = if matches!(e, StoreError::Fenced(_)) {
                Control::LeaseLost(why)
            } else {
                Control::JournalFailed(why)
            };
            let _ = b.run_tx.send(Msg::Control(control));
        }
        if let Some(ack) = b.ack {
            let _ = ack.send(this);
        }
    }
    (first_failure.unwrap_or(result.map(|_| ())), broken)
}

/// After a commit of several runs failed with `error`: appends each run's
/// entries on its own, in the order the runs first appear, and says how
/// each went (`Fenced` for a run another process owns now). A store that
/// is failing as a whole (down, full) would refuse every run: once two
/// runs in a row have failed before any succeeded, the rest are failed
/// with `error` without being tried. Each of `runs` (the runs of the
/// commit) whose entries the store did not give back is failed with
/// `error`.
async fn commit_each(
    store: &dyn Store,
    entries: Vec<Entry>,
    runs: impl Iterator<Item = RunId>,
    error: &StoreError,
) -> std::collections::HashMap<RunId, Result<(), StoreError>> {
    let mut order: Vec<RunId> = Vec::new();
    let mut by_run: std::collections::HashMap<RunId, Vec<Entry>> = std::collections::HashMap::new();
    for e in entries {
        let run = e.run;
        by_run
            .entry(run)
            .or_insert_with(|| {
                order.push(run);
                Vec::new()
            })
            .push(e);
    }
    let mut out = std::collections::HashMap::with_capacity(order.len());
    let (mut succeeded, mut failed_in_a_row) = (false, 0);
    for run in order {
        let this = if !succeeded && failed_in_a_row >= 2 {
            Err(error.clone())
        } else {
            let one = by_run.remove(&run).unwrap_or_default();
            match store.append(&one).await {
                Ok(done) if done.fenced.contains(&run) => Err(StoreError::Fenced(run)),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        };
        match &this {
            Ok(()) | Err(StoreError::Fenced(_)) => {
                succeeded = true;
                failed_in_a_row = 0;
            }
            Err(_) => failed_in_a_row += 1,
        }
        out.insert(run, this);
    }
    for run in runs {
        out.entry(run).or_insert_with(|| Err(error.clone()));
    }
    out
}
