//! A run's live events, from its journal, as Server-Sent Events.
//!
//! Each run that someone follows has one [`Watch`]: a task that looks for
//! new journal records every poll interval (250 ms by default; on a shared
//! store it also wakes at once when the store says the run ended or got a
//! command) and passes what it finds to every follower of the run. So a
//! hundred browsers on one run cost one read per interval, not a hundred.
//! The store is polled rather than told of every commit: on Postgres a
//! notice per commit would wake every worker that listens on the schema's
//! channel, for every run, to serve the few runs someone watches.
//!
//! A follower gets, in order: the records after the one named by its
//! `Last-Event-ID` (all of them without it), then the run's state (every
//! task's status and counts, as `GET /api/v1/runs/{id}` gives them), then
//! as the run goes on, new records and the state of the tasks that
//! changed; once the run has ended and every record is sent, `end`, and
//! the stream closes. Records carry their journal sequence number as
//! their event id, so a client that reconnects with `Last-Event-ID` gets
//! exactly what it missed.
//!
//! ```text
//! event: record
//! id: 7
//! data: {"seq":7,"kind":"attempt","task":"deploy","instance":3,...}
//!
//! event: state
//! id: 7
//! data: {"status":"running","records":8,"full":false,"tasks":[...]}
//!
//! event: end
//! id: 12
//! data: {"status":"succeeded","records":13}
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use weft_runtime::store::{AttemptOutcome, Command, Entry, Notice, Record, StoreError};
use weft_runtime::RunId;

use crate::error::ApiError;
use crate::model::{seconds, RunErrorJson, TaskGroupJson};
use crate::snapshot::{Snapshot, Snapshots, MAX_GROUPS};

/// Updates a watch keeps for followers that fall behind; one that falls
/// further is caught up from the store.
const BACKLOG: usize = 256;

/// Text of an error in a record event, at most (the run's page has it
/// whole).
const ERROR_CHARS: usize = 500;

/// What a watch sends its followers.
#[derive(Debug)]
enum Update {
    /// New records, in order.
    Records(Vec<RecordEvent>),
    /// The tasks that changed (or all, `full`), as of `records` records.
    State(Arc<StateEvent>),
    /// The run has ended, every record sent.
    End { status: String, records: u64 },
    /// The run is gone from the store (purged).
    Gone,
}

/// One journal record as an event.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RecordEvent {
    seq: u64,
    #[serde(flatten)]
    body: Value,
}

/// The run's state.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct StateEvent {
    status: String,
    records: u64,
    full: bool,
    tasks: Vec<TaskGroupJson>,
    tasks_total: usize,
    errors: Vec<RunErrorJson>,
    ended_at: Option<f64>,
}

/// What a watch has sent so far: new followers start from here.
struct Sent {
    /// Records passed on so far: the next record's number.
    next: u64,
    /// The latest full state.
    state: Option<Arc<StateEvent>>,
    /// The run has ended and everything was sent.
    ended: Option<(String, u64)>,
}

/// One followed run.
struct Watch {
    id: RunId,
    sent: Mutex<Sent>,
    tx: broadcast::Sender<Arc<Update>>,
}

/// The followed runs.
pub(crate) struct Hub {
    watches: Mutex<HashMap<RunId, Weak<Watch>>>,
    snapshots: Arc<Snapshots>,
    poll: Duration,
}

impl Hub {
    pub(crate) fn new(snapshots: Arc<Snapshots>, poll: Duration) -> Hub {
        Hub {
            watches: Mutex::new(HashMap::new()),
            snapshots,
            poll,
        }
    }

    /// The events of run `id` after record `after` (from the first record
    /// when `None`), as an SSE response.
    ///
    /// # Errors
    ///
    /// 404 when the store has no such run.
    pub(crate) async fn follow(
        self: &Arc<Self>,
        id: RunId,
        after: Option<u64>,
    ) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
        let store = self.snapshots.store()?;
        if store.get(id).await?.is_none() {
            return Err(ApiError::no_run(id));
        }
        let watch = self.watch(id);
        let (out_tx, out_rx) = mpsc::channel::<Event>(64);
        let hub = self.clone();
        tokio::spawn(async move {
            let from = after.map_or(0, |a| a.saturating_add(1));
            // Ends when the client goes away (sending fails) or the run
            // ended and everything was sent.
            let _ = hub.feed(&watch, from, &out_tx).await;
        });
        let stream = futures::stream::unfold(out_rx, |mut rx| async move {
            rx.recv().await.map(|e| (Ok(e), rx))
        });
        Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
    }

    /// The watch of `id`, made (with its polling task) when none is going.
    fn watch(self: &Arc<Self>, id: RunId) -> Arc<Watch> {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = watches.get(&id).and_then(Weak::upgrade) {
            return w;
        }
        watches.retain(|_, w| w.strong_count() > 0);
        let (tx, _) = broadcast::channel(BACKLOG);
        let watch = Arc::new(Watch {
            id,
            sent: Mutex::new(Sent {
                next: 0,
                state: None,
                ended: None,
            }),
            tx,
        });
        watches.insert(id, Arc::downgrade(&watch));
        let hub = self.clone();
        let weak = Arc::downgrade(&watch);
        tokio::spawn(async move { hub.poll_loop(weak).await });
        watch
    }

    /// Sends one follower what it is owed, then what the watch passes on.
    async fn feed(
        &self,
        watch: &Arc<Watch>,
        mut from: u64,
        out: &mpsc::Sender<Event>,
    ) -> Result<(), ()> {
        loop {
            // What the watch has sent so far, and its updates from here.
            let (next, state, ended, mut rx) = {
                let sent = watch.sent.lock().unwrap_or_else(|p| p.into_inner());
                (
                    sent.next,
                    sent.state.clone(),
                    sent.ended.clone(),
                    watch.tx.subscribe(),
                )
            };
            if from < next {
                let snapshot = self.snapshots.get(watch.id).await.ok();
                let store = self.snapshots.store().map_err(|_| ())?;
                let records = match store.load_from(watch.id, from).await {
                    Ok(mut r) => {
                        // Errors are masked before they are sent; one that
                        // will not decrypt is sent as stored (encrypted).
                        let _ = self.snapshots.open_secrets(&mut r);
                        r
                    }
                    Err(StoreError::NotFound(_)) => {
                        send(out, gone_event()).await?;
                        return Err(());
                    }
                    Err(_) => Vec::new(),
                };
                for e in records.iter().filter(|e| e.seq < next) {
                    send(out, record_event(&to_event(e, snapshot.as_deref()))).await?;
                    from = e.seq + 1;
                }
            }
            if let Some(s) = &state {
                send(out, state_event(s, from)).await?;
            }
            if let Some((status, records)) = ended {
                if from >= records {
                    send(out, end_event(&status, records)).await?;
                    return Ok(());
                }
            }
            loop {
                match rx.recv().await {
                    Ok(update) => match &*update {
                        Update::Records(records) => {
                            for r in records {
                                if r.seq >= from {
                                    send(out, record_event(r)).await?;
                                    from = r.seq + 1;
                                }
                            }
                        }
                        Update::State(s) => send(out, state_event(s, from)).await?,
                        Update::End { status, records } => {
                            send(out, end_event(status, *records)).await?;
                            return Ok(());
                        }
                        Update::Gone => {
                            send(out, gone_event()).await?;
                            return Err(());
                        }
                    },
                    // Fell behind: catch up from the store, with a full state.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
        }
    }

    /// The watch's task: looks for new records, passes them on with the
    /// state they lead to; stops when nobody follows the run any more, or
    /// the run has ended and everything was sent.
    async fn poll_loop(&self, weak: Weak<Watch>) {
        let Some(id) = weak.upgrade().map(|w| w.id) else {
            return;
        };
        let mut notices = self
            .snapshots
            .store()
            .ok()
            .and_then(|s| s.shared())
            .map(|s| s.notices());
        let mut shown: HashMap<String, TaskGroupJson> = HashMap::new();
        let mut snap: Option<Arc<Snapshot>> = None;
        let mut last_state: Option<Instant> = None;
        let mut first = true;
        loop {
            if !first {
                wait(self.poll, notices.as_mut(), id).await;
            }
            first = false;
            // Nobody follows the run any more.
            let Some(watch) = weak.upgrade() else {
                return;
            };
            let Ok(store) = self.snapshots.store() else {
                return;
            };
            let next = watch.sent.lock().unwrap_or_else(|p| p.into_inner()).next;
            let fresh = match store.load_from(id, next).await {
                Ok(r) => r,
                Err(StoreError::NotFound(_)) => {
                    let _ = watch.tx.send(Arc::new(Update::Gone));
                    return;
                }
                // The store failed for now: look again next time.
                Err(_) => continue,
            };
            let seen = next + fresh.len() as u64;
            // The last state was made after the last records were loaded,
            // so it may be ahead of them (the run went on in between): then
            // the records it covers are still sent, and it is not made
            // again.
            let behind = snap.as_ref().is_none_or(|s| s.records < seen);
            if fresh.is_empty() && !behind {
                continue;
            }
            // The state costs a replay of the journal: at most once per
            // poll interval, nor more often than four times its cost; at
            // once when the run ends.
            let cost = snap.as_ref().map_or(Duration::ZERO, |s| s.build_time);
            let ended_now = fresh.iter().any(|e| matches!(e.record, Record::Ended(_)));
            let due = behind
                && (ended_now || last_state.is_none_or(|t| t.elapsed() >= self.poll.max(cost * 4)));
            if due {
                if let Ok(s) = self.snapshots.get(id).await {
                    snap = Some(s);
                }
            }
            let records: Vec<RecordEvent> =
                fresh.iter().map(|e| to_event(e, snap.as_deref())).collect();
            let mut sent = watch.sent.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(last) = records.last() {
                sent.next = last.seq + 1;
                let _ = watch.tx.send(Arc::new(Update::Records(records)));
            }
            let Some(snapshot) = snap.as_ref() else {
                continue;
            };
            if !due {
                // No new state: the run may have ended with the records
                // just sent, which the last state already covered.
                end_if_sent(&watch, &mut sent, snapshot);
                if sent.ended.is_some() {
                    return;
                }
                continue;
            }
            last_state = Some(Instant::now());
            let full = state_of(snapshot, true);
            // The first state this watch sends has every task (up to the
            // cap); later ones, those that changed.
            let whole = shown.is_empty();
            let changed: Vec<TaskGroupJson> = if whole {
                full.tasks.clone()
            } else {
                snapshot
                    .groups
                    .iter()
                    .filter(|g| shown.get(&g.name) != Some(*g))
                    .cloned()
                    .collect()
            };
            for g in &snapshot.groups {
                if shown.get(&g.name) != Some(g) {
                    shown.insert(g.name.clone(), g.clone());
                }
            }
            let diff = StateEvent {
                full: whole,
                tasks: changed,
                ..(*full).clone()
            };
            sent.state = Some(full);
            let _ = watch.tx.send(Arc::new(Update::State(Arc::new(diff))));
            end_if_sent(&watch, &mut sent, snapshot);
            if sent.ended.is_some() {
                return;
            }
        }
    }
}

/// Sends `End` when the run of `snapshot` has ended and every record it
/// counts was sent.
fn end_if_sent(watch: &Watch, sent: &mut Sent, snapshot: &Snapshot) {
    let status = snapshot.status();
    if status.is_terminal() && snapshot.records == sent.next {
        let records = sent.next;
        sent.ended = Some((status.as_str().to_owned(), records));
        let _ = watch.tx.send(Arc::new(Update::End {
            status: status.as_str().to_owned(),
            records,
        }));
    }
}

/// Waits a poll interval, or less when the shared store says the run
/// ended or got a command (or notices were missed).
async fn wait(poll: Duration, notices: Option<&mut broadcast::Receiver<Notice>>, id: RunId) {
    let Some(rx) = notices else {
        tokio::time::sleep(poll).await;
        return;
    };
    let deadline = tokio::time::Instant::now() + poll;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Notice::Ended(r) | Notice::Command(r))) if r == id => return,
            Ok(Ok(Notice::Missed) | Err(broadcast::error::RecvError::Lagged(_))) => return,
            Ok(Ok(_)) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                tokio::time::sleep_until(deadline).await;
                return;
            }
            Err(_) => return,
        }
    }
}

fn state_of(s: &Snapshot, full: bool) -> Arc<StateEvent> {
    Arc::new(StateEvent {
        status: s.status().as_str().to_owned(),
        records: s.records,
        full,
        tasks: s.groups.iter().take(MAX_GROUPS).cloned().collect(),
        tasks_total: s.groups.len(),
        errors: s.errors(),
        ended_at: s.summary.ended_at.map(seconds),
    })
}

/// One record as an event: what happened, to which task (when the
/// snapshot knows the instance), never a result; errors masked.
fn to_event(e: &Entry, snapshot: Option<&Snapshot>) -> RecordEvent {
    let body = match &e.record {
        Record::Started(s) => json!({
            "kind": "started",
            "workflow": s.workflow,
            "started_at": seconds(s.started_at),
        }),
        Record::Attempt(a) => {
            let (outcome, error) = match &a.outcome {
                AttemptOutcome::Ok { .. } => ("succeeded", None),
                AttemptOutcome::Err {
                    message, canceled, ..
                } => (
                    if *canceled { "canceled" } else { "failed" },
                    Some(message.as_str()),
                ),
                AttemptOutcome::TimedOut { .. } => ("timed_out", None),
                AttemptOutcome::Panicked { message } => ("panicked", Some(message.as_str())),
                AttemptOutcome::Dropped => ("dropped", None),
                _ => ("failed", None),
            };
            let error = error.map(|m| {
                let masked = snapshot.map_or_else(|| m.to_owned(), |s| s.mask.text(m).into_owned());
                shorten(&masked, ERROR_CHARS)
            });
            json!({
                "kind": "attempt",
                "task": snapshot.and_then(|s| s.task_of(a.instance)),
                "instance": a.instance,
                "item": a.item,
                "attempt": a.attempt,
                "outcome": outcome,
                "error": error,
                "started_at": a.started_at.map(seconds),
                "ended_at": seconds(a.ended_at),
            })
        }
        Record::Command { command, .. } => {
            let (name, tasks) = match command {
                Command::Cancel => ("cancel", None),
                Command::Abort => ("abort", None),
                Command::Pause => ("pause", None),
                Command::Resume => ("resume", None),
                Command::Rerun { tasks } => ("rerun", Some(tasks.clone())),
                _ => ("other", None),
            };
            json!({"kind": "command", "command": name, "tasks": tasks})
        }
        Record::Ended(end) => json!({
            "kind": "ended",
            "status": end.status.as_str(),
            "ended_at": seconds(end.ended_at),
        }),
        _ => json!({"kind": "other"}),
    };
    RecordEvent { seq: e.seq, body }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

fn record_event(r: &RecordEvent) -> Event {
    Event::default()
        .event("record")
        .id(r.seq.to_string())
        .json_data(r)
        .unwrap_or_else(|_| Event::default().event("record"))
}

fn state_event(s: &StateEvent, next: u64) -> Event {
    let e = Event::default().event("state");
    let e = if next > 0 {
        e.id((next - 1).to_string())
    } else {
        e
    };
    e.json_data(s)
        .unwrap_or_else(|_| Event::default().event("state"))
}

fn end_event(status: &str, records: u64) -> Event {
    Event::default()
        .event("end")
        .id(records.saturating_sub(1).to_string())
        .json_data(json!({"status": status, "records": records}))
        .unwrap_or_else(|_| Event::default().event("end"))
}

fn gone_event() -> Event {
    Event::default()
        .event("gone")
        .json_data(json!({"message": "the run is no longer in the store (purged)"}))
        .unwrap_or_else(|_| Event::default().event("gone"))
}

async fn send(out: &mpsc::Sender<Event>, event: Event) -> Result<(), ()> {
    out.send(event).await.map_err(|_| ())
}
