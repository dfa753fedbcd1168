//! A run as the API shows it, rebuilt from its journal the way `weft show`
//! does ([`Executor::inspect`](weft_runtime::Executor::inspect)), and kept
//! while its journal does not grow.
//!
//! Rebuilding replays the whole journal, which for a run of 10,000 task
//! instances takes tens of milliseconds; so each run's latest
//! [`Snapshot`] is kept (the most recently used [`MAX_SNAPSHOTS`]), and a
//! request first asks the store for records past the ones it was built
//! from (one indexed read). At most [`MAX_SNAPSHOTS`] runs, and
//! [`MAX_INSTANCES`] task instances over all of them, are kept. A snapshot younger than its own build time
//! (at least [`FRESH`]) is served without asking, so that many clients of
//! a busy run do not rebuild it one after another.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_core::{Plan, TaskStatus, Workflow};
use weft_runtime::store::{Record, RunStart, RunSummary, Store};
use weft_runtime::{Executor, RunId, RunOutcome, RunStatus, SecretMask};

use crate::error::ApiError;
use crate::model::{ChildJson, RunErrorJson, SpanTuple, TaskGroupJson};

/// Snapshots kept at most.
pub(crate) const MAX_SNAPSHOTS: usize = 64;

/// Task instances kept at most, over all snapshots (a snapshot of a run of
/// 10,000 instances holds all their results): past it, the least recently
/// used are let go.
pub(crate) const MAX_INSTANCES: usize = 200_000;

/// A snapshot at most this old is served without looking for new records.
pub(crate) const FRESH: Duration = Duration::from_millis(100);

/// Compiled workflows kept at most (by the hash of their text).
const MAX_PLANS: usize = 256;

/// Spans per task on the timeline.
pub(crate) const MAX_SPANS: usize = 200;

/// Tasks listed with a run (and in the first state of its event stream).
pub(crate) const MAX_GROUPS: usize = 2000;

/// Sub-workflow runs listed with a run.
pub(crate) const MAX_CHILDREN: usize = 200;

/// A workflow's text compiled for showing its runs (every action name is
/// accepted: the server need not have the actions).
pub(crate) struct Compiled {
    pub(crate) plan: Plan,
    /// Its laid-out graph, made when first asked for.
    pub(crate) graph: OnceLock<crate::model::GraphJson>,
}

/// One run, rebuilt from the first `records` records of its journal.
pub(crate) struct Snapshot {
    pub(crate) records: u64,
    pub(crate) summary: RunSummary,
    pub(crate) outcome: RunOutcome,
    pub(crate) inputs: Value,
    pub(crate) mask: SecretMask,
    pub(crate) compiled: Arc<Compiled>,
    pub(crate) groups: Vec<TaskGroupJson>,
    pub(crate) built: Instant,
    pub(crate) build_time: Duration,
}

impl Snapshot {
    /// The run's status as its journal has it; `queued` for a submitted
    /// run no worker has claimed yet (its journal alone says `running`).
    pub(crate) fn status(&self) -> RunStatus {
        if self.summary.status == RunStatus::Queued && !self.outcome.status.is_terminal() {
            RunStatus::Queued
        } else {
            self.outcome.status
        }
    }

    /// The errors, as the list of the run shows them.
    pub(crate) fn errors(&self) -> Vec<RunErrorJson> {
        self.outcome
            .errors
            .iter()
            .map(|e| RunErrorJson {
                task: e.task.clone(),
                message: e.message.clone(),
            })
            .collect()
    }

    /// The sub-workflow runs, the first [`MAX_CHILDREN`], and how many.
    pub(crate) fn children(&self) -> (Vec<ChildJson>, usize) {
        let mut out = Vec::new();
        let mut total = 0;
        for t in &self.outcome.tasks {
            for c in &t.child_runs {
                total += 1;
                if out.len() < MAX_CHILDREN {
                    out.push(ChildJson {
                        run_id: c.to_string(),
                        task: t.name.to_string(),
                        instance: t.instance,
                    });
                }
            }
        }
        (out, total)
    }

    /// The task of each instance, by instance number.
    pub(crate) fn task_of(&self, instance: u32) -> Option<&str> {
        self.outcome
            .tasks
            .get(instance as usize)
            .filter(|t| t.instance == instance)
            .map(|t| &*t.name)
    }
}

/// Every action name is one: for compiling a recorded workflow whose
/// actions this process may not have.
struct AnyAction;

impl weft_core::ActionCatalog for AnyAction {
    fn has_action(&self, _: &str) -> bool {
        true
    }

    fn action_names(&self) -> Vec<String> {
        Vec::new()
    }
}

struct Slot {
    current: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
    used: AtomicU64,
    /// Task instances its snapshot holds.
    weight: std::sync::atomic::AtomicUsize,
}

/// The snapshots of runs, and the compiled workflows they use.
pub(crate) struct Snapshots {
    executor: Executor,
    slots: Mutex<HashMap<RunId, Arc<Slot>>>,
    plans: Mutex<HashMap<String, Arc<Compiled>>>,
    tick: AtomicU64,
}

impl Snapshots {
    pub(crate) fn new(executor: Executor) -> Snapshots {
        Snapshots {
            executor,
            slots: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            tick: AtomicU64::new(0),
        }
    }

    /// Decrypts the secret values of `entries` read from the store
    /// (see `Executor::open_secrets`).
    pub(crate) fn open_secrets(
        &self,
        entries: &mut [weft_runtime::store::Entry],
    ) -> Result<(), ApiError> {
        Ok(self.executor.open_secrets(entries)?)
    }

    pub(crate) fn store(&self) -> Result<&Arc<dyn Store>, ApiError> {
        self.executor.store().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "this server's executor keeps no runs: give it a store (ExecutorBuilder::store)",
            )
        })
    }

    fn slot(&self, id: RunId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.tick.fetch_add(1, Ordering::Relaxed);
        if !slots.contains_key(&id) && slots.len() >= MAX_SNAPSHOTS {
            let oldest = slots
                .iter()
                .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed))
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                slots.remove(&k);
            }
        }
        let slot = slots.entry(id).or_insert_with(|| {
            Arc::new(Slot {
                current: tokio::sync::Mutex::new(None),
                used: AtomicU64::new(now),
                weight: std::sync::atomic::AtomicUsize::new(0),
            })
        });
        slot.used.store(now, Ordering::Relaxed);
        slot.clone()
    }

    /// Lets the least recently used snapshots go (but `keep`'s) while they
    /// hold more than [`MAX_INSTANCES`] instances in all.
    fn trim(&self, keep: RunId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let weight = |s: &Slot| s.weight.load(Ordering::Relaxed);
        let mut total: usize = slots.values().map(|s| weight(s)).sum();
        while total > MAX_INSTANCES {
            let oldest = slots
                .iter()
                .filter(|(k, _)| **k != keep)
                .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed))
                .map(|(k, s)| (*k, weight(s)));
            match oldest {
                Some((k, w)) => {
                    slots.remove(&k);
                    total -= w;
                }
                None => break,
            }
        }
    }

    /// Forgets every snapshot (after a purge here: the runs it deleted
    /// must not be served from memory).
    pub(crate) fn clear(&self) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn forget(&self, id: RunId) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// The run as its journal has it now.
    ///
    /// # Errors
    ///
    /// 404 for a run the store does not have; the store's failure; 422 for
    /// a journal that cannot be replayed.
    pub(crate) async fn get(&self, id: RunId) -> Result<Arc<Snapshot>, ApiError> {
        let slot = self.slot(id);
        let mut current = slot.current.lock().await;
        if let Some(s) = current.as_ref() {
            if s.built.elapsed() < s.build_time.max(FRESH) {
                return Ok(s.clone());
            }
            match self.store()?.load_from(id, s.records).await {
                // A queued run is claimed without a record: look again.
                Ok(more) if more.is_empty() && s.summary.status != RunStatus::Queued => {
                    return Ok(s.clone())
                }
                Ok(_) => {}
                Err(e) => {
                    drop(current);
                    self.forget(id);
                    return Err(e.into());
                }
            }
        }
        match self.build(id).await {
            Ok(s) => {
                let s = Arc::new(s);
                slot.weight
                    .store(s.outcome.tasks.len().max(1), Ordering::Relaxed);
                *current = Some(s.clone());
                drop(current);
                self.trim(id);
                Ok(s)
            }
            Err(e) => {
                drop(current);
                self.forget(id);
                Err(e)
            }
        }
    }

    async fn build(&self, id: RunId) -> Result<Snapshot, ApiError> {
        let began = Instant::now();
        let store = self.store()?;
        let summary = store.get(id).await?.ok_or_else(|| ApiError::no_run(id))?;
        // The first record, for the workflow and the inputs; the count,
        // for knowing later whether anything was added. Records added
        // between this read and the replay's are seen as new next time.
        let mut head = store.load(id).await?;
        self.executor.open_secrets(&mut head)?;
        let records = head.len() as u64;
        let Some(Record::Started(start)) = head.into_iter().next().map(|e| e.record) else {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "unusable",
                format!(
                    "run {id} cannot be shown: its journal does not begin with a `started` record"
                ),
            ));
        };
        let compiled = self.compiled(&start)?;
        let outcome = self.executor.inspect(id).await?;
        let mask = SecretMask::of(&compiled.plan, &start.inputs);
        let inputs = mask.inputs(&compiled.plan, &start.inputs);
        let groups = groups(&outcome);
        Ok(Snapshot {
            records,
            summary,
            outcome,
            inputs,
            mask,
            compiled,
            groups,
            built: Instant::now(),
            build_time: began.elapsed(),
        })
    }

    /// The workflow a run recorded, compiled (once per text).
    pub(crate) fn compiled(&self, start: &RunStart) -> Result<Arc<Compiled>, ApiError> {
        let key = format!("{}\u{0}{}", start.hash, start.workflow);
        if let Some(c) = self
            .plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(c.clone());
        }
        let workflow = match start.format.as_str() {
            "json" => Workflow::from_json_str(&start.source),
            _ => Workflow::from_yaml_str(&start.source),
        };
        let plan = workflow
            .map(|w| w.with_name(start.workflow.clone()))
            .and_then(|w| w.compile_recorded(&AnyAction))
            .map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "unusable",
                    format!("the run's workflow does not compile here: {e}"),
                )
            })?;
        let compiled = Arc::new(Compiled {
            plan,
            graph: OnceLock::new(),
        });
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(key, compiled.clone());
        Ok(compiled)
    }
}

fn secs(t: Option<std::time::SystemTime>) -> Option<f64> {
    t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| (d.as_millis() as f64) / 1000.0)
}

/// The run's tasks, each with its instances taken together, in the order
/// each first ran.
pub(crate) fn groups(outcome: &RunOutcome) -> Vec<TaskGroupJson> {
    let mut order: Vec<TaskGroupJson> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut latest: Vec<TaskStatus> = Vec::new();
    let mut going: Vec<bool> = Vec::new();
    for t in &outcome.tasks {
        let i = *index.entry(&t.name).or_insert_with(|| {
            order.push(TaskGroupJson {
                name: t.name.to_string(),
                status: String::new(),
                instances: 0,
                counts: BTreeMap::new(),
                items: None,
                attempts: 0,
                started_at: None,
                ended_at: None,
                error: None,
                spans: Vec::new(),
                spans_total: 0,
            });
            latest.push(t.status);
            going.push(false);
            order.len() - 1
        });
        let g = &mut order[i];
        g.instances += 1;
        *g.counts.entry(t.status.as_str().to_owned()).or_insert(0) += 1;
        if let Some(n) = t.items {
            g.items = Some(g.items.unwrap_or(0) + n);
        }
        g.attempts = g.attempts.max(t.attempts);
        let started = secs(t.started_at);
        if let Some(s) = started {
            g.started_at = Some(g.started_at.map_or(s, |x: f64| x.min(s)));
        }
        let ended = if t.status.is_terminal() {
            secs(t.ended_at)
        } else {
            None
        };
        if let Some(e) = ended {
            g.ended_at = Some(g.ended_at.map_or(e, |x: f64| x.max(e)));
        }
        if !t.status.is_terminal() {
            going[i] = true;
        }
        if t.error.is_some() {
            g.error = t.error.clone();
        }
        if let Some(s) = started {
            g.spans_total += 1;
            if g.spans.len() < MAX_SPANS {
                let span: SpanTuple = (t.instance, s, ended, t.status.as_str().to_owned());
                g.spans.push(span);
            }
        }
        latest[i] = t.status;
    }
    for (i, g) in order.iter_mut().enumerate() {
        let has = |s: TaskStatus| g.counts.get(s.as_str()).is_some_and(|n| *n > 0);
        g.status = if has(TaskStatus::Running) {
            TaskStatus::Running.as_str().to_owned()
        } else if has(TaskStatus::Pending) {
            TaskStatus::Pending.as_str().to_owned()
        } else {
            latest[i].as_str().to_owned()
        };
        if going[i] {
            g.ended_at = None;
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_go_first_when_too_many_instances_are_kept() {
        let snapshots = Snapshots::new(Executor::new());
        let ids: Vec<RunId> = (0..4).map(|_| RunId::new()).collect();
        for id in &ids {
            snapshots
                .slot(*id)
                .weight
                .store(MAX_INSTANCES / 3, Ordering::Relaxed);
        }
        // The first is used again: the second is now the oldest.
        snapshots.slot(ids[0]);
        snapshots.trim(ids[3]);
        let kept = snapshots.slots.lock().unwrap();
        assert!(!kept.contains_key(&ids[1]), "the oldest went");
        assert!(kept.contains_key(&ids[0]) && kept.contains_key(&ids[2]));
        assert!(kept.contains_key(&ids[3]), "the one just built stays");
        assert_eq!(kept.len(), 3);
    }
}
