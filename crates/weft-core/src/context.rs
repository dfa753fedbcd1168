//! The workflow context: what expressions read.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// The state of a task (or of one task instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskStatus {
    /// Waiting: for a join, a delay or a concurrency slot.
    Pending,
    /// Its action is running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// An attempt ran longer than its `timeout`.
    TimedOut,
    /// Stopped by a cancel or abort before it finished.
    Canceled,
}

impl TaskStatus {
    /// The lowercase name used in expressions and JSON (`timed_out`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::TimedOut => "timed_out",
            TaskStatus::Canceled => "canceled",
        }
    }

    /// True for `succeeded`.
    pub fn is_succeeded(self) -> bool {
        self == TaskStatus::Succeeded
    }

    /// True for `failed` and `timed_out` (a timeout is a failure).
    pub fn is_failure(self) -> bool {
        matches!(self, TaskStatus::Failed | TaskStatus::TimedOut)
    }

    /// True for every finished state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded
                | TaskStatus::Failed
                | TaskStatus::TimedOut
                | TaskStatus::Canceled
        )
    }

    /// Every status, in the order of their discriminants.
    pub(crate) const ALL: [TaskStatus; 6] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::TimedOut,
        TaskStatus::Canceled,
    ];

    fn shared_value(self) -> Arc<Value> {
        static VALUES: LazyLock<[Arc<Value>; 6]> = LazyLock::new(|| {
            TaskStatus::ALL.map(|s| Arc::new(Value::String(s.as_str().to_owned())))
        });
        VALUES[self as usize].clone()
    }

    fn from_str(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "pending" => TaskStatus::Pending,
            "running" => TaskStatus::Running,
            "succeeded" => TaskStatus::Succeeded,
            "failed" => TaskStatus::Failed,
            "timed_out" => TaskStatus::TimedOut,
            "canceled" => TaskStatus::Canceled,
            _ => return None,
        })
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The task whose completion is being evaluated: what `result()`,
/// `succeeded()`, `failed()`, `timed_out()` and `completed()` read.
#[derive(Clone, Debug)]
pub struct CurrentTask {
    /// The task's name.
    pub name: Arc<str>,
    /// How it ended.
    pub status: TaskStatus,
    /// Its result (for a failure: the error's attached result, or
    /// `{"error": message}`).
    pub result: Arc<Value>,
}

/// A context map with two shards, the fewest dashmap allows. Only a run's
/// scheduler writes, so there is no write contention to spread; the default
/// (four shards per core) made creating and dropping a small run's context
/// cost more than running its tasks.
fn new_map(capacity: usize) -> ValueMap {
    DashMap::with_capacity_and_hasher_and_shard_amount(capacity, Default::default(), 2)
}

/// A context map. Keys are task and variable names from the workflow
/// itself, not outside input, so a fast hasher (foldhash, seeded per map)
/// replaces SipHash: one insert per finished task is on the hot path.
pub(crate) type ValueMap = DashMap<Arc<str>, Arc<Value>, foldhash::fast::RandomState>;

/// Task ids by name. The names are the workflow's own, so the fast hasher
/// of the context maps serves here too.
pub(crate) type NameMap = HashMap<Arc<str>, u32, foldhash::fast::RandomState>;

/// A plan's tasks, by name and by id (see [`Plan::task_index`]): with it a
/// run's context keeps each task's result in a slot of its own, set by the
/// task's id ([`WorkflowContext::set_task_result_at`]) without hashing
/// its name. Cloning copies a pointer.
///
/// [`Plan::task_index`]: crate::Plan::task_index
#[derive(Clone, Debug, Default)]
pub struct TaskIndex(Arc<TaskNames>);

#[derive(Debug, Default)]
struct TaskNames {
    ids: NameMap,
    names: Box<[Arc<str>]>,
}

impl TaskIndex {
    /// `names[id]` is task `id`'s name; `ids` the same, by name.
    pub(crate) fn new(ids: NameMap, names: Box<[Arc<str>]>) -> TaskIndex {
        TaskIndex(Arc::new(TaskNames { ids, names }))
    }

    /// A task's id by name.
    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.0.ids.get(name).copied()
    }

    /// Task `id`'s name; `None` if `id` is no task of it. (The names lie
    /// together, 16 bytes each: a runtime reading every task's name reads
    /// them here rather than from each task's plan.)
    #[inline]
    pub fn name(&self, id: u32) -> Option<&Arc<str>> {
        self.0.names.get(id as usize)
    }

    /// How many tasks it holds.
    pub fn len(&self) -> usize {
        self.0.names.len()
    }

    /// It holds no task.
    pub fn is_empty(&self) -> bool {
        self.0.names.is_empty()
    }
}

/// One task's latest result.
type Slot = Mutex<Option<Arc<Value>>>;

#[inline]
fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<Arc<Value>>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The slots of the tasks of one [`TaskIndex`].
struct Slots {
    index: TaskIndex,
    slots: Box<[Slot]>,
}

/// A context's task results: by name in a map, and, once a result was set
/// by a task's id, the results of that index's tasks in one slot each.
/// A name the index holds is read from its slot first: a slot is set only
/// after the slots were made, and from then on every result of that name
/// goes to it, so a slot's value is newer than the map's.
pub(crate) struct TaskResults {
    map: ValueMap,
    slots: OnceLock<Slots>,
}

impl std::fmt::Debug for TaskResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.entries()).finish()
    }
}

impl TaskResults {
    fn new(map: ValueMap) -> TaskResults {
        TaskResults {
            map,
            slots: OnceLock::new(),
        }
    }

    fn slot(&self, name: &str) -> Option<&Slot> {
        let s = self.slots.get()?;
        s.slots.get(s.index.id(name)? as usize)
    }

    /// Task `name`'s result.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Value>> {
        if let Some(v) = self.slot(name).and_then(|slot| lock(slot).clone()) {
            return Some(v);
        }
        self.map.get(name).map(|v| v.value().clone())
    }

    fn insert(&self, name: Arc<str>, value: Arc<Value>) {
        match self.slot(&name) {
            Some(slot) => *lock(slot) = Some(value),
            None => {
                self.map.insert(name, value);
            }
        }
    }

    #[inline]
    fn insert_at(&self, index: &TaskIndex, id: u32, value: Arc<Value>) {
        let s = self.slots.get_or_init(|| Slots {
            index: index.clone(),
            slots: (0..index.len()).map(|_| Mutex::new(None)).collect(),
        });
        match s.slots.get(id as usize) {
            Some(slot) if Arc::ptr_eq(&s.index.0, &index.0) => *lock(slot) = Some(value),
            // The slots are another plan's (maps kept from another run):
            // by name.
            _ => {
                if let Some(name) = index.name(id) {
                    self.insert(name.clone(), value);
                }
            }
        }
    }

    /// Every result, by name (in no order).
    pub(crate) fn entries(&self) -> Vec<(Arc<str>, Arc<Value>)> {
        let mut out = Vec::new();
        if let Some(s) = self.slots.get() {
            for (name, slot) in s.index.0.names.iter().zip(s.slots.iter()) {
                if let Some(v) = lock(slot).clone() {
                    out.push((name.clone(), v));
                }
            }
        }
        for e in self.map.iter() {
            let in_slot = self.slot(e.key()).is_some_and(|slot| lock(slot).is_some());
            if !in_slot {
                out.push((e.key().clone(), e.value().clone()));
            }
        }
        out
    }

    /// How many tasks have a result.
    pub(crate) fn len(&self) -> usize {
        let Some(s) = self.slots.get() else {
            return self.map.len();
        };
        let in_slots = s.slots.iter().filter(|slot| lock(slot).is_some()).count();
        let by_name_only = self
            .map
            .iter()
            .filter(|e| !self.slot(e.key()).is_some_and(|slot| lock(slot).is_some()))
            .count();
        in_slots + by_name_only
    }

    /// Room for results by name, and the slots.
    fn capacity(&self) -> usize {
        let slots = self.slots.get().map_or(0, |s| s.slots.len());
        self.map.capacity().max(slots)
    }

    /// Drops the slots when they were made for another index than
    /// `index`, so that the next result set by id makes them for `index`:
    /// kept maps that move to a run of another plan do not keep the first
    /// plan's names alive, nor record every result by name from then on.
    fn keep_slots_of(&mut self, index: &TaskIndex) {
        if self
            .slots
            .get()
            .is_some_and(|s| !Arc::ptr_eq(&s.index.0, &index.0))
        {
            self.slots = OnceLock::new();
        }
    }

    /// Forgets every result; the map keeps its room and the slots stay.
    fn clear(&mut self) {
        if !self.map.is_empty() {
            self.map.clear();
        }
        if let Some(s) = self.slots.get_mut() {
            for slot in s.slots.iter_mut() {
                *slot.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
            }
        }
    }
}

const STATUS_PREFIX: &str = "task_status.";
const RUN_PREFIX: &str = "task_run.";
const RESULT_PREFIX: &str = "task_result.";
const ROUTE_PREFIX: &str = "route_parent.";

/// Where and when a task's latest instance ran, for functions that report
/// it (StackStorm's `task()`). A runtime records it, with the statuses,
/// for plans that read task statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskRun {
    /// The instance's number in the run.
    pub instance: u32,
    /// The route it ran in (0: the run's first; Orquesta's splits make
    /// others).
    pub route: u32,
    /// When its first attempt started, if it ran an action.
    pub started: Option<SystemTime>,
    /// When it ended.
    pub ended: Option<SystemTime>,
    /// How it ended.
    pub status: TaskStatus,
    /// Its result.
    pub result: Arc<Value>,
    /// It ran an action per item (`with`): its result is the list of the
    /// items' results.
    pub itemized: bool,
}

impl TaskRun {
    /// A record of instance `instance` in route `route`.
    pub fn new(
        instance: u32,
        route: u32,
        started: Option<SystemTime>,
        ended: Option<SystemTime>,
        status: TaskStatus,
        result: Arc<Value>,
    ) -> TaskRun {
        TaskRun {
            instance,
            route,
            started,
            ended,
            status,
            result,
            itemized: false,
        }
    }

    /// The same record, of a task that ran an action per item.
    #[must_use]
    pub fn with_items(mut self, itemized: bool) -> TaskRun {
        self.itemized = itemized;
        self
    }

    fn to_json(&self) -> Value {
        let micros = |t: Option<SystemTime>| {
            t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(Value::Null, |d| Value::from(d.as_micros() as u64))
        };
        serde_json::json!({
            "instance": self.instance,
            "route": self.route,
            "started_us": micros(self.started),
            "ended_us": micros(self.ended),
            "status": self.status.as_str(),
            "itemized": self.itemized,
        })
    }

    fn from_json(v: &Value, result: Arc<Value>) -> Option<TaskRun> {
        let time = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .map(|us| UNIX_EPOCH + Duration::from_micros(us))
        };
        Some(TaskRun {
            instance: u32::try_from(v.get("instance")?.as_u64()?).ok()?,
            route: u32::try_from(v.get("route")?.as_u64()?).ok()?,
            started: time("started_us"),
            ended: time("ended_us"),
            status: v
                .get("status")
                .and_then(Value::as_str)
                .and_then(TaskStatus::from_str)?,
            result,
            itemized: v.get("itemized").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// The persistent map behind [`Variables`].
type VarMap = rpds::HashTrieMapSync<Arc<str>, Arc<Value>, foldhash::fast::RandomState>;

/// The workflow variables one branch of a run sees (Orquesta's branch
/// scope): a persistent map shared between the branches that descend from
/// it. A clone costs one reference count, whatever it holds; setting a
/// variable copies the path to it (O(log n)) and leaves every other clone
/// as it was.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use serde_json::json;
/// use weft_core::Variables;
///
/// let mut a = Variables::new();
/// a.set("x", json!(1));
/// let mut b = a.clone();
/// b.set("x", json!(2));
/// assert_eq!(**a.get("x").unwrap(), json!(1));
/// assert_eq!(**b.get("x").unwrap(), json!(2));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Variables(Option<Arc<VarMap>>);

impl Variables {
    /// No variables.
    pub fn new() -> Variables {
        Variables(None)
    }

    /// The variable `name`: a pointer, not a copy.
    pub fn get(&self, name: &str) -> Option<&Arc<Value>> {
        self.0.as_deref()?.get(name)
    }

    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// How many variables are set.
    pub fn len(&self) -> usize {
        self.0.as_deref().map_or(0, VarMap::size)
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every variable, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Value>)> {
        self.0.as_deref().into_iter().flat_map(|m| m.iter())
    }

    fn map_mut(&mut self) -> &mut VarMap {
        let arc = self.0.get_or_insert_with(|| {
            Arc::new(VarMap::new_with_hasher_and_ptr_kind(Default::default()))
        });
        Arc::make_mut(arc)
    }

    /// Sets `name` to `value` in this map only.
    pub fn set(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<Value>>) {
        self.map_mut().insert_mut(name.into(), value.into());
    }

    /// Sets `name` the way Orquesta merges a published context into a
    /// task's: where the old and the new value are both maps, the new one
    /// is merged into the old one key by key (recursively); otherwise the
    /// new value replaces the old one.
    pub fn merge(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<Value>>) {
        let name = name.into();
        let value = value.into();
        let merged = match self.get(&name) {
            Some(old) if old.is_object() && value.is_object() => {
                let mut old = old.clone();
                merge_value(Arc::make_mut(&mut old), &value);
                old
            }
            _ => value,
        };
        self.set(name, merged);
    }

    /// Whether both share one map (a clone that nothing was set in since).
    pub fn ptr_eq(&self, other: &Variables) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Orquesta's `merge_dicts(left, right, overwrite=True)`.
fn merge_value(left: &mut Value, right: &Value) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (k, v) in r {
                match l.get_mut(k) {
                    Some(old) if old.is_object() && v.is_object() => merge_value(old, v),
                    Some(old) => *old = v.clone(),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (left, right) => *left = right.clone(),
    }
}

/// The context of one run: what expressions read.
///
/// The shared state (parameters, task results, system values) lives behind
/// one `Arc`, so cloning a context copies pointers only and costs the same
/// whether it holds nothing or megabytes of task results. Values are stored
/// as `Arc<Value>`: reading one hands out a pointer, never a deep copy.
///
/// The workflow variables are [`Variables`], a persistent map that belongs
/// to the clone: a variable set through one clone is not seen by the
/// others (Orquesta's branch scope: each task instance of a run sees the
/// variables of the branch that led to it). Cloning them costs one more
/// reference count. The per-item parts (`item`, `index`) and the task being
/// evaluated (for `result()`, `succeeded()`, ...) belong to one clone too.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::WorkflowContext;
///
/// let ctx = WorkflowContext::new(json!({"app": "shop"}), [("region".to_owned(), json!("eu"))]);
/// ctx.set_task_result("build", json!({"image": "shop:1"}));
/// let text = ctx.render_template("{{ parameters.app }} in {{ workflow.region }}: {{ task.build.image }}")?;
/// assert_eq!(text, "shop in eu: shop:1");
/// # Ok::<(), weft_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct WorkflowContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) vars: Variables,
    pub(crate) current_item: Option<Arc<Value>>,
    pub(crate) current_index: Option<usize>,
    pub(crate) current_task: Option<Arc<CurrentTask>>,
    pub(crate) current_route: u32,
}

/// What every clone of a context sees. One `Arc` around all of it keeps a
/// clone (and its drop) to a single atomic operation; the maps are
/// concurrent, so writes through one clone are visible to all.
pub(crate) struct Shared {
    pub(crate) parameters: Arc<Value>,
    pub(crate) task_results: TaskResults,
    /// Read through [`Shared::system`], which adds the deferred values
    /// first.
    system_map: ValueMap,
    /// System values made on the first read of the system map (see
    /// [`DeferredSystem`]).
    deferred: Option<Arc<dyn DeferredSystem>>,
    deferred_added: std::sync::Once,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("parameters", &self.parameters)
            .field("task_results", &self.task_results)
            .field("system", self.system())
            .finish()
    }
}

impl Shared {
    fn new(parameters: Arc<Value>, task_results: ValueMap, system: ValueMap) -> Shared {
        Shared {
            parameters,
            task_results: TaskResults::new(task_results),
            system_map: system,
            deferred: None,
            deferred_added: std::sync::Once::new(),
        }
    }

    /// The system values, the deferred ones included: what every read
    /// goes through. A value set before the deferred ones were added is
    /// kept (as if they had been set first).
    pub(crate) fn system(&self) -> &ValueMap {
        if let Some(deferred) = &self.deferred {
            self.deferred_added.call_once(|| {
                for (key, value) in deferred.system_values() {
                    self.system_map
                        .entry(key)
                        .or_insert_with(|| Arc::new(value));
                }
            });
        }
        &self.system_map
    }
}

/// The maps of a context that ended, empty, for a new context to reuse
/// (see [`WorkflowContext::into_maps`]): a runtime that starts many small
/// runs keeps a few instead of allocating them for each.
///
/// It is the ended context's shared part itself, emptied: the maps, the
/// allocation they live in, and the one of the parameters (when nothing
/// else held them), so a new context allocates none of them.
pub struct ContextMaps {
    shared: Arc<Shared>,
}

impl ContextMaps {
    /// Makes these maps ready for a run of the plan whose tasks `index`
    /// names ([`Plan::task_index`](crate::Plan::task_index)): result slots
    /// that a run of another plan made are dropped (and made again for
    /// `index` at its first result by id, see
    /// [`WorkflowContext::set_task_result_at`]); slots of the same plan stay.
    pub fn for_tasks(mut self, index: &TaskIndex) -> ContextMaps {
        if let Some(s) = Arc::get_mut(&mut self.shared) {
            s.task_results.keep_slots_of(index);
        }
        self
    }
}

impl std::fmt::Debug for ContextMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextMaps").finish_non_exhaustive()
    }
}

/// System values a context makes only when one of them is first read (an
/// expression reads `system`, [`WorkflowContext::get_system`],
/// [`WorkflowContext::export`], ...): a runtime's run facts such as its
/// id, which most runs never read, cost nothing until then. See
/// [`WorkflowContext::defer_system`].
pub trait DeferredSystem: Send + Sync {
    /// The values, with their keys (`system.<key>` in expressions).
    fn system_values(&self) -> Vec<(Arc<str>, Value)>;
}

/// Everything a context holds, as plain data: what [`WorkflowContext::export`]
/// writes and [`WorkflowContext::import`] reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContextState {
    /// The run's inputs.
    pub parameters: Value,
    /// Published workflow variables.
    pub variables: BTreeMap<String, Value>,
    /// Task results by task name.
    pub task_results: BTreeMap<String, Value>,
    /// System values (run id, workflow name, task statuses).
    pub system: BTreeMap<String, Value>,
    /// The current item, if this is an item's context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_item: Option<Value>,
    /// The current item's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_index: Option<usize>,
}

impl WorkflowContext {
    /// A context with the run's `parameters` and initial variables.
    pub fn new(parameters: Value, vars: impl IntoIterator<Item = (String, Value)>) -> Self {
        Self::with_capacity(parameters, vars, 0)
    }

    /// Like [`WorkflowContext::new`], with room for the results of `tasks`
    /// tasks, so a large run does not rehash its result map as it goes.
    pub fn with_capacity(
        parameters: Value,
        vars: impl IntoIterator<Item = (String, Value)>,
        tasks: usize,
    ) -> Self {
        let mut variables = Variables::new();
        for (k, v) in vars {
            variables.set(k, v);
        }
        WorkflowContext {
            // System values (statuses) only for plans that read them:
            // grown on demand.
            shared: Arc::new(Shared::new(
                Arc::new(parameters),
                new_map(tasks),
                new_map(0),
            )),
            vars: variables,
            current_item: None,
            current_index: None,
            current_task: None,
            current_route: 0,
        }
    }

    /// Like [`WorkflowContext::with_capacity`], in the maps of a context
    /// that ended (see [`WorkflowContext::into_maps`]): no new tables.
    pub fn with_maps(maps: ContextMaps, parameters: Value, tasks: usize) -> Self {
        let mut shared = maps.shared;
        match Arc::get_mut(&mut shared) {
            Some(s) => {
                match Arc::get_mut(&mut s.parameters) {
                    Some(p) => *p = parameters,
                    None => s.parameters = Arc::new(parameters),
                }
                if s.task_results.capacity() < tasks {
                    s.task_results.map = new_map(tasks);
                }
            }
            // Not reached: a `ContextMaps` holds the only reference.
            None => {
                shared = Arc::new(Shared::new(
                    Arc::new(parameters),
                    new_map(tasks),
                    new_map(0),
                ));
            }
        }
        WorkflowContext {
            shared,
            vars: Variables::new(),
            current_item: None,
            current_index: None,
            current_task: None,
            current_route: 0,
        }
    }

    /// This context's maps, emptied with their room kept, for another
    /// context to reuse ([`WorkflowContext::with_maps`]); `None` while a
    /// clone still holds them, or when either has room for more than
    /// `max_entries` (one big run does not pin its memory for good).
    pub fn into_maps(self, max_entries: usize) -> Option<ContextMaps> {
        let mut shared = self.shared;
        let s = Arc::get_mut(&mut shared)?;
        if s.task_results.capacity() > max_entries || s.system_map.capacity() > max_entries {
            return None;
        }
        s.task_results.clear();
        if !s.system_map.is_empty() {
            s.system_map.clear();
        }
        // The parameters' allocation is kept when nothing else holds it.
        match Arc::get_mut(&mut s.parameters) {
            Some(p) => *p = Value::Null,
            None => s.parameters = Arc::new(Value::Null),
        }
        s.deferred = None;
        s.deferred_added = std::sync::Once::new();
        Some(ContextMaps { shared })
    }

    /// The run's inputs.
    pub fn parameters(&self) -> &Arc<Value> {
        &self.shared.parameters
    }

    /// Sets a workflow variable in this context (not in other clones).
    pub fn set_var(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<Value>>) {
        self.vars.set(name, value);
    }

    /// A workflow variable: a pointer, not a copy.
    pub fn get_var(&self, name: &str) -> Option<Arc<Value>> {
        self.vars.get(name).cloned()
    }

    /// The workflow variables this context sees.
    pub fn variables(&self) -> &Variables {
        &self.vars
    }

    /// Replaces the workflow variables this context sees (an O(1) clone
    /// of another branch's, say).
    pub fn set_variables(&mut self, vars: Variables) {
        self.vars = vars;
    }

    /// A clone that sees `vars` as its workflow variables.
    #[must_use]
    pub fn with_variables(&self, vars: Variables) -> WorkflowContext {
        // Field by field: a clone would copy this context's variables only
        // to drop them (one reference count up and down, on every dispatch).
        WorkflowContext {
            shared: self.shared.clone(),
            vars,
            current_item: self.current_item.clone(),
            current_index: self.current_index,
            current_task: self.current_task.clone(),
            current_route: self.current_route,
        }
    }

    /// Records a task's result (visible to every clone).
    pub fn set_task_result(&self, task: impl Into<Arc<str>>, result: impl Into<Arc<Value>>) {
        self.shared.task_results.insert(task.into(), result.into());
    }

    /// Records the result of task `id` of `index` (a plan's, see
    /// [`Plan::task_index`](crate::Plan::task_index)): as
    /// [`WorkflowContext::set_task_result`] with the task's name, without
    /// hashing it. The first call makes a slot for each of the index's
    /// tasks; a context is meant for the tasks of one index (with
    /// another's, the result is recorded by name). An `id` the index does
    /// not hold records nothing.
    #[inline]
    pub fn set_task_result_at(&self, index: &TaskIndex, id: u32, result: impl Into<Arc<Value>>) {
        self.shared.task_results.insert_at(index, id, result.into());
    }

    /// A task's result: a pointer, not a copy.
    pub fn get_task_result(&self, task: &str) -> Option<Arc<Value>> {
        self.shared.task_results.get(task)
    }

    /// Records a task's status, as `task_status(name)` reports it.
    pub fn set_task_status(&self, task: &str, status: TaskStatus) {
        // Built by hand: `format!` costs several times more on this path,
        // which runs once per finished task.
        let mut key = String::with_capacity(STATUS_PREFIX.len() + task.len());
        key.push_str(STATUS_PREFIX);
        key.push_str(task);
        self.shared
            .system_map
            .insert(Arc::from(key), status.shared_value());
    }

    /// A task's status, if it has one.
    pub fn task_status(&self, task: &str) -> Option<TaskStatus> {
        let key = format!("{STATUS_PREFIX}{task}");
        let v = self.shared.system().get(key.as_str())?;
        v.value().as_str().and_then(TaskStatus::from_str)
    }

    /// Records where and when `task`'s latest instance in `run.route` ran
    /// (see [`TaskRun`]). Kept with the system values (its result is
    /// shared, not copied), so it is exported and imported with them.
    pub fn set_task_run(&self, task: &str, run: &TaskRun) {
        let key = |prefix: &str| Arc::<str>::from(format!("{prefix}{task}@{}", run.route));
        self.shared
            .system_map
            .insert(key(RESULT_PREFIX), run.result.clone());
        self.shared
            .system_map
            .insert(key(RUN_PREFIX), Arc::new(run.to_json()));
    }

    /// Records that route `route` continues route `parent` (Orquesta's
    /// splits), so that [`WorkflowContext::task_run`] finds a task that ran
    /// before the split.
    pub fn set_route_parent(&self, route: u32, parent: u32) {
        self.shared.system_map.insert(
            Arc::from(format!("{ROUTE_PREFIX}{route}")),
            Arc::new(Value::from(parent)),
        );
    }

    /// The latest instance of `task` in `route`, or else in the route it
    /// continues (and so on back to route 0), if one was recorded.
    pub fn task_run(&self, task: &str, route: u32) -> Option<TaskRun> {
        let mut r = route;
        // Each route's parent was made before it: a bounded walk.
        for _ in 0..=route {
            let found = self
                .shared
                .system()
                .get(format!("{RUN_PREFIX}{task}@{r}").as_str())
                .map(|v| v.value().clone());
            if let Some(v) = found {
                let result = self
                    .shared
                    .system()
                    .get(format!("{RESULT_PREFIX}{task}@{r}").as_str())
                    .map_or_else(|| Arc::new(Value::Null), |v| v.value().clone());
                return TaskRun::from_json(&v, result);
            }
            if r == 0 {
                return None;
            }
            r = self
                .shared
                .system()
                .get(format!("{ROUTE_PREFIX}{r}").as_str())
                .and_then(|v| v.value().as_u64())
                .and_then(|p| u32::try_from(p).ok())
                .filter(|&p| p < r)?;
        }
        None
    }

    /// Makes this clone evaluate in route `route` (Orquesta's splits; 0 is
    /// the run's first route).
    pub fn set_current_route(&mut self, route: u32) {
        self.current_route = route;
    }

    /// The route this clone evaluates in.
    pub fn current_route(&self) -> u32 {
        self.current_route
    }

    /// Sets a system value (`system.<key>` in expressions).
    pub fn set_system(&self, key: impl Into<Arc<str>>, value: impl Into<Arc<Value>>) {
        self.shared.system_map.insert(key.into(), value.into());
    }

    /// Makes `deferred`'s values system values of this context (and of
    /// its clones), made when the system values are first read rather than
    /// now. A value set with [`WorkflowContext::set_system`] under the same
    /// key before they are made is kept.
    pub fn defer_system(&mut self, deferred: Arc<dyn DeferredSystem>) {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) if shared.deferred.is_none() => shared.deferred = Some(deferred),
            // Shared with clones already, or deferring twice: made now.
            _ => {
                for (key, value) in deferred.system_values() {
                    self.shared.system_map.insert(key, Arc::new(value));
                }
            }
        }
    }

    /// A system value.
    pub fn get_system(&self, key: &str) -> Option<Arc<Value>> {
        self.shared.system().get(key).map(|v| v.value().clone())
    }

    /// Makes this clone an item's context: `item` and `index` resolve to these.
    pub fn set_current_item(&mut self, item: impl Into<Arc<Value>>, index: usize) {
        self.current_item = Some(item.into());
        self.current_index = Some(index);
    }

    /// Removes the item from this clone.
    pub fn clear_current_item(&mut self) {
        self.current_item = None;
        self.current_index = None;
    }

    /// The current item, if any.
    pub fn current_item(&self) -> Option<&Arc<Value>> {
        self.current_item.as_ref()
    }

    /// The current item's index, if any.
    pub fn current_index(&self) -> Option<usize> {
        self.current_index
    }

    /// Sets the task whose completion is being evaluated.
    pub fn set_current_task(&mut self, task: CurrentTask) {
        self.current_task = Some(Arc::new(task));
    }

    /// The task whose completion is being evaluated, if any.
    pub fn current_task(&self) -> Option<&CurrentTask> {
        self.current_task.as_deref()
    }

    /// A clone for evaluating `task`'s transitions.
    #[must_use]
    pub fn with_current_task(&self, task: CurrentTask) -> WorkflowContext {
        let mut c = self.clone();
        c.set_current_task(task);
        c
    }

    /// A snapshot of everything, as plain data.
    pub fn export(&self) -> ContextState {
        fn dump(map: &ValueMap) -> BTreeMap<String, Value> {
            map.iter()
                .map(|e| (e.key().to_string(), (**e.value()).clone()))
                .collect()
        }
        ContextState {
            parameters: (*self.shared.parameters).clone(),
            variables: self
                .vars
                .iter()
                .map(|(k, v)| (k.to_string(), (**v).clone()))
                .collect(),
            task_results: self
                .shared
                .task_results
                .entries()
                .into_iter()
                .map(|(k, v)| (k.to_string(), (*v).clone()))
                .collect(),
            system: dump(self.shared.system()),
            current_item: self.current_item.as_ref().map(|v| (**v).clone()),
            current_index: self.current_index,
        }
    }

    /// A context rebuilt from a snapshot.
    pub fn import(state: ContextState) -> WorkflowContext {
        fn load(map: BTreeMap<String, Value>) -> ValueMap {
            map.into_iter()
                .map(|(k, v)| (Arc::from(k), Arc::new(v)))
                .collect()
        }
        let mut vars = Variables::new();
        for (k, v) in state.variables {
            vars.set(k, v);
        }
        WorkflowContext {
            shared: Arc::new(Shared::new(
                Arc::new(state.parameters),
                load(state.task_results),
                load(state.system),
            )),
            vars,
            current_item: state.current_item.map(Arc::new),
            current_index: state.current_index,
            current_task: None,
            current_route: 0,
        }
    }

    /// The snapshot as JSON text.
    ///
    /// # Errors
    ///
    /// Only if serialization fails (not expected for JSON values).
    pub fn export_json(&self) -> Result<String> {
        serde_json::to_string(&self.export())
            .map_err(|e| Error::new(ErrorKind::State, e.to_string()).with_source(e))
    }

    /// A context from JSON text written by [`WorkflowContext::export_json`].
    ///
    /// # Errors
    ///
    /// The text is not a valid snapshot.
    pub fn import_json(text: &str) -> Result<WorkflowContext> {
        serde_json::from_str(text)
            .map(WorkflowContext::import)
            .map_err(|e| Error::new(ErrorKind::State, e.to_string()).with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::Assignments;
    use serde_json::json;

    fn ctx() -> WorkflowContext {
        WorkflowContext::new(
            json!({"name": "weft", "count": 3, "hosts": ["a", "b"]}),
            [("greeting".to_owned(), json!("hello"))],
        )
    }

    struct Facts(&'static str);

    impl DeferredSystem for Facts {
        fn system_values(&self) -> Vec<(Arc<str>, Value)> {
            vec![
                (Arc::from("run_id"), json!(self.0)),
                (Arc::from("workflow"), json!("wf")),
            ]
        }
    }

    #[test]
    fn deferred_system_values_read_as_set_ones() {
        let mut c = ctx();
        c.defer_system(Arc::new(Facts("r-1")));
        let clone = c.clone();
        assert_eq!(
            clone
                .render_template("{{ system.run_id }} of {{ system.workflow }}")
                .unwrap(),
            "r-1 of wf"
        );
        assert_eq!(c.get_system("run_id"), Some(Arc::new(json!("r-1"))));
        let state = c.export();
        assert_eq!(state.system.get("workflow"), Some(&json!("wf")));
        assert_eq!(
            c.render_template("{{ system | length }}").unwrap(),
            "2",
            "enumerated with the map"
        );
    }

    #[test]
    fn a_system_value_set_before_the_first_read_wins_over_a_deferred_one() {
        let mut c = ctx();
        c.defer_system(Arc::new(Facts("r-1")));
        c.set_system("run_id", json!("r-2"));
        c.set_task_status("a", TaskStatus::Succeeded);
        assert_eq!(c.render_template("{{ system.run_id }}").unwrap(), "r-2");
        assert_eq!(c.render_template("{{ system.workflow }}").unwrap(), "wf");
        assert_eq!(c.task_status("a"), Some(TaskStatus::Succeeded));
        // Deferred into a context already shared: made at once, seen by
        // the clones.
        let mut d = ctx();
        let clone = d.clone();
        d.defer_system(Arc::new(Facts("r-3")));
        assert_eq!(clone.get_system("run_id"), Some(Arc::new(json!("r-3"))));
    }

    #[test]
    fn a_context_in_reused_maps_sees_nothing_of_the_last_one() {
        let c = ctx();
        c.set_task_result("a", json!(1));
        c.set_system("k", json!(2));
        let clone = c.clone();
        assert!(c.into_maps(1 << 10).is_none(), "a clone still holds them");
        let big = WorkflowContext::with_capacity(json!({}), [], 5000);
        assert!(big.into_maps(1 << 10).is_none(), "too big to keep");
        let maps = clone.into_maps(1 << 10).expect("the only holder");
        let d = WorkflowContext::with_maps(maps, json!({"x": 1}), 4);
        assert_eq!(d.get_task_result("a"), None);
        assert_eq!(d.get_system("k"), None);
        assert_eq!(d.render_template("{{ parameters.x }}").unwrap(), "1");
    }

    #[test]
    fn reused_maps_forget_the_deferred_values_and_leave_held_parameters_alone() {
        let mut c = WorkflowContext::new(json!({"p": "first"}), []);
        c.defer_system(Arc::new(Facts("r-1")));
        assert_eq!(c.get_system("run_id"), Some(Arc::new(json!("r-1"))));
        // Someone still holds the first run's parameters.
        let held = c.parameters().clone();
        let maps = c.into_maps(1 << 10).expect("the only holder");
        let mut d = WorkflowContext::with_maps(maps, json!({"p": "second"}), 2);
        assert_eq!(*held, json!({"p": "first"}));
        assert_eq!(d.render_template("{{ parameters.p }}").unwrap(), "second");
        assert_eq!(d.get_system("run_id"), None);
        d.defer_system(Arc::new(Facts("r-2")));
        assert_eq!(d.get_system("run_id"), Some(Arc::new(json!("r-2"))));
        // Kept again, with parameters nothing else holds this time.
        let maps = d.into_maps(1 << 10).expect("the only holder");
        let e = WorkflowContext::with_maps(maps, json!({"p": "third"}), 2);
        assert_eq!(e.render_template("{{ parameters.p }}").unwrap(), "third");
        assert_eq!(e.get_system("run_id"), None);
    }

    #[test]
    fn test_basic_template_rendering() {
        let c = ctx();
        assert_eq!(
            c.render_template("{{ workflow.greeting }}, {{ parameters.name }}!")
                .unwrap(),
            "hello, weft!"
        );
        assert_eq!(c.render_template("no templates").unwrap(), "no templates");
        assert_eq!(
            c.render_template("{{ parameters.count + 1 }}").unwrap(),
            "4"
        );
        assert_eq!(
            c.render_template("{{ parameters.name | upper }}").unwrap(),
            "WEFT"
        );
        let err = c.render_template("{{ parameters.nope }}").unwrap_err();
        assert!(err.message().contains("parameters.nope"), "{err}");
    }

    #[test]
    fn test_variable_access() {
        let c = ctx();
        assert_eq!(*c.get_var("greeting").unwrap(), json!("hello"));
        assert!(c.get_var("missing").is_none());
        let mut clone = c.clone();
        assert!(clone.variables().ptr_eq(c.variables()));
        clone.set_var("later", json!([1, 2]));
        // Variables belong to the clone (a branch): the original does not
        // see what the clone set.
        assert!(c.get_var("later").is_none());
        assert_eq!(*clone.get_var("greeting").unwrap(), json!("hello"));
        assert_eq!(clone.render_template("{{ vars.later[1] }}").unwrap(), "2");
        assert_eq!(clone.render_template("{{ ctx('later')[0] }}").unwrap(), "1");
        assert!(c.render_template("{{ ctx('later') }}").is_err());
        assert_eq!(c.render_template("{{ ctx('greeting') }}").unwrap(), "hello");
    }

    #[test]
    fn test_task_result_access() {
        let c = ctx();
        c.set_task_result("fetch", json!({"status": 200, "body": {"ids": [7, 8]}}));
        let a = c.get_task_result("fetch").unwrap();
        let b = c.get_task_result("fetch").unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "getters must hand out the same pointer"
        );
        assert_eq!(
            c.render_json(&json!("{{ task.fetch.status }}")).unwrap(),
            json!(200)
        );
        assert_eq!(
            c.render_json(&json!("{{ tasks.fetch.body.ids[1] }}"))
                .unwrap(),
            json!(8)
        );
        assert!(c.get_task_result("other").is_none());
    }

    #[test]
    fn test_nested_value_access() {
        let c = WorkflowContext::new(json!({"a": {"b": {"c": [{"d": "deep"}]}}}), []);
        assert_eq!(
            c.render_template("{{ parameters.a.b.c[0].d }}").unwrap(),
            "deep"
        );
        assert_eq!(
            c.render_template("{{ parameters['a']['b'].c[0]['d'] }}")
                .unwrap(),
            "deep"
        );
        assert_eq!(
            c.render_json(&json!("{{ parameters.a.b }}")).unwrap(),
            json!({"c": [{"d": "deep"}]})
        );
        assert_eq!(
            c.render_json(&json!("{{ parameters.a.b.c | length }}"))
                .unwrap(),
            json!(1)
        );
        let err = c.render_template("{{ parameters.a.x.y }}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Evaluation);
    }

    #[test]
    fn test_condition_evaluation() {
        let c = ctx();
        assert!(c.evaluate_condition("{{ parameters.count > 2 }}").unwrap());
        assert!(!c.evaluate_condition("{{ parameters.count > 5 }}").unwrap());
        assert!(c.evaluate_condition("{{ parameters.hosts }}").unwrap());
        assert!(!c.evaluate_condition("{{ [] }}").unwrap());
        assert!(!c.evaluate_condition("{{ '' }}").unwrap());
        assert!(c
            .evaluate_condition("{{ parameters.missing is not defined }}")
            .unwrap());
        assert!(c
            .evaluate_condition("{{ 'hello' in workflow.greeting }}")
            .unwrap());
        assert!(c.evaluate_condition("{{ parameters.missing }}").is_err());
    }

    #[test]
    fn test_render_json() {
        let mut c = ctx();
        c.set_current_item(json!({"host": "h1"}), 3);
        let out = c
            .render_json(&json!({
                "n": "{{ index }}",
                "host": "{{ item.host }}",
                "label": "host-{{ index }}",
                "list": ["{{ parameters.hosts }}", 1, "plain"],
                "flag": "{{ parameters.count == 3 }}",
                "nothing": "{{ none }}"
            }))
            .unwrap();
        assert_eq!(
            out,
            json!({
                "n": 3,
                "host": "h1",
                "label": "host-3",
                "list": [["a", "b"], 1, "plain"],
                "flag": true,
                "nothing": null
            })
        );
    }

    #[test]
    fn test_item_context() {
        let base = ctx();
        let mut item_ctx = base.clone();
        item_ctx.set_current_item(json!("b"), 1);
        assert_eq!(
            item_ctx.render_template("{{ item }}:{{ index }}").unwrap(),
            "b:1"
        );
        assert_eq!(item_ctx.current_index(), Some(1));
        // The item belongs to the clone, not to the shared state.
        assert!(base.current_item().is_none());
        assert!(base.render_template("{{ item }}").is_err());
        item_ctx.clear_current_item();
        assert!(item_ctx.current_item().is_none());
        let mut obj = base.clone();
        obj.set_current_item(json!({"x": 1, "y": 2}), 0);
        assert_eq!(
            obj.render_json(&json!("{{ item('y') }}")).unwrap(),
            json!(2)
        );
    }

    #[test]
    fn test_publish_variables() {
        let mut c = ctx();
        let publish: Assignments = serde_json::from_value(json!([
            {"first": "{{ parameters.count }}"},
            {"second": "{{ workflow.first * 10 }}"},
            {"third": "{{ vars.second + 1 }}"}
        ]))
        .unwrap();
        c.publish_variables(&publish).unwrap();
        assert_eq!(*c.get_var("first").unwrap(), json!(3));
        assert_eq!(*c.get_var("second").unwrap(), json!(30));
        assert_eq!(*c.get_var("third").unwrap(), json!(31));
        let bad: Assignments = serde_json::from_value(json!([{"x": "{{ nope }}"}])).unwrap();
        let err = c.publish_variables(&bad).unwrap_err();
        assert!(
            err.message().contains("`x`") && err.message().contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn test_export_import() {
        let mut c = ctx();
        c.set_task_result("t1", json!({"v": 1}));
        c.set_task_status("t1", TaskStatus::Succeeded);
        c.set_current_item(json!("x"), 4);
        let text = c.export_json().unwrap();
        let back = WorkflowContext::import_json(&text).unwrap();
        assert_eq!(back.export(), c.export());
        assert_eq!(*back.get_task_result("t1").unwrap(), json!({"v": 1}));
        assert_eq!(back.task_status("t1"), Some(TaskStatus::Succeeded));
        assert_eq!(back.render_template("{{ item }}{{ index }}").unwrap(), "x4");
        assert!(WorkflowContext::import_json("{\"parameters\": 1, \"variables\": 2}").is_err());
    }

    #[test]
    fn merge_is_orquestas_deep_merge() {
        let mut v = Variables::new();
        v.merge("m", json!({"a": 1, "n": {"x": 1}}));
        let before = v.clone();
        v.merge("m", json!({"b": 2, "n": {"y": 2}}));
        assert_eq!(
            **v.get("m").unwrap(),
            json!({"a": 1, "n": {"x": 1, "y": 2}, "b": 2})
        );
        // The clone taken before is untouched.
        assert_eq!(**before.get("m").unwrap(), json!({"a": 1, "n": {"x": 1}}));
        v.merge("m", json!(3));
        assert_eq!(**v.get("m").unwrap(), json!(3));
        v.merge("m", json!({"c": 1}));
        assert_eq!(**v.get("m").unwrap(), json!({"c": 1}));
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn clone_shares_state() {
        let c = ctx();
        c.set_task_result("big", json!(vec![0u8; 1000]));
        let d = c.clone();
        assert!(Arc::ptr_eq(&c.shared, &d.shared));
        assert!(Arc::ptr_eq(
            &c.get_task_result("big").unwrap(),
            &d.get_task_result("big").unwrap()
        ));
    }

    fn index(names: &[&str]) -> TaskIndex {
        let names: Box<[Arc<str>]> = names.iter().map(|n| Arc::from(*n)).collect();
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        TaskIndex::new(ids, names)
    }

    #[test]
    fn results_set_by_id_read_as_results_set_by_name() {
        let c = ctx();
        let ix = index(&["a", "b"]);
        // Before the slots are made, by name; then `a` again by id, which
        // is newer; `c` is no task of the index.
        c.set_task_result("a", json!(1));
        c.set_task_result_at(&ix, 0, json!(2));
        c.set_task_result("c", json!(3));
        c.set_task_result("b", json!(4));
        c.set_task_result_at(&ix, 7, json!(5));
        assert_eq!(*c.get_task_result("a").unwrap(), json!(2));
        assert_eq!(*c.get_task_result("b").unwrap(), json!(4));
        assert_eq!(*c.get_task_result("c").unwrap(), json!(3));
        assert_eq!(
            c.render_json(&json!("{{ task.a + task.b + task.c }}"))
                .unwrap(),
            json!(9)
        );
        assert_eq!(c.render_template("{{ task | length }}").unwrap(), "3");
        assert_eq!(
            c.render_template("{{ task | list | join(',') }}").unwrap(),
            "a,b,c"
        );
        let state = c.export();
        assert_eq!(
            serde_json::to_value(&state.task_results).unwrap(),
            json!({"a": 2, "b": 4, "c": 3})
        );
        // Another index's tasks go by name.
        let other = index(&["b"]);
        c.set_task_result_at(&other, 0, json!(6));
        assert_eq!(*c.get_task_result("b").unwrap(), json!(6));
        // Kept maps forget the results, slots too.
        let maps = c.into_maps(1 << 12).expect("the only reference");
        let d = WorkflowContext::with_maps(maps, json!({}), 2);
        assert!(d.get_task_result("a").is_none());
        assert!(d.export().task_results.is_empty());
        d.set_task_result_at(&ix, 1, json!(7));
        assert_eq!(*d.get_task_result("b").unwrap(), json!(7));
    }

    #[test]
    fn kept_maps_moved_to_another_plan_make_its_slots() {
        let first = index(&["a", "b"]);
        let c = WorkflowContext::new(json!({}), []);
        c.set_task_result_at(&first, 1, json!(1));
        // The slots hold the first plan's names.
        assert_eq!(Arc::strong_count(&first.0), 2);
        let maps = c.into_maps(1 << 12).expect("the only reference");
        // The same plan's run keeps them.
        let maps = maps.for_tasks(&first);
        assert_eq!(Arc::strong_count(&first.0), 2);
        // Another plan's run drops them, and its first result by id makes
        // slots for its own tasks.
        let second = index(&["x", "b"]);
        let maps = maps.for_tasks(&second);
        assert_eq!(Arc::strong_count(&first.0), 1);
        let d = WorkflowContext::with_maps(maps, json!({}), 0);
        d.set_task_result_at(&second, 1, json!(2));
        assert_eq!(Arc::strong_count(&second.0), 2);
        assert_eq!(*d.get_task_result("b").unwrap(), json!(2));
        assert!(d.get_task_result("a").is_none());
        assert!(
            d.shared.task_results.map.is_empty(),
            "set in its slot, not by name"
        );
        assert_eq!(
            d.render_template("{{ task | list | join(',') }}").unwrap(),
            "b"
        );
    }

    #[test]
    fn status_functions_need_a_task() {
        let c = ctx();
        assert!(c.evaluate_condition("{{ succeeded() }}").is_err());
        let t = c.with_current_task(CurrentTask {
            name: Arc::from("t"),
            status: TaskStatus::TimedOut,
            result: Arc::new(json!({"error": "slow"})),
        });
        assert!(t.evaluate_condition("{{ timed_out() }}").unwrap());
        assert!(t.evaluate_condition("{{ failed() }}").unwrap());
        assert!(t.evaluate_condition("{{ completed() }}").unwrap());
        assert!(!t.evaluate_condition("{{ succeeded() }}").unwrap());
        assert_eq!(t.render_template("{{ result().error }}").unwrap(), "slow");
        assert_eq!(
            t.render_template("{{ result()['error'] | upper }}")
                .unwrap(),
            "SLOW"
        );
    }

    #[test]
    fn functions_json_zip_task_status() {
        let c = ctx();
        c.set_task_status("a", TaskStatus::Failed);
        assert_eq!(
            c.render_template("{{ task_status('a') }}").unwrap(),
            "failed"
        );
        assert_eq!(
            c.render_json(&json!("{{ task_status('zz') }}")).unwrap(),
            json!(null)
        );
        assert_eq!(
            c.render_json(&json!("{{ json('{\"k\": [1]}').k }}"))
                .unwrap(),
            json!([1])
        );
        assert_eq!(
            c.render_json(&json!("{{ zip(parameters.hosts, [1, 2]) }}"))
                .unwrap(),
            json!([["a", 1], ["b", 2]])
        );
    }
}
