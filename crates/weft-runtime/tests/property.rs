//! Property test: random plans of up to 200 tasks, run for real and checked
//! against a reference model of the scheduling semantics.
//!
//! A plan is a random DAG (tasks only lead to later tasks) plus, sometimes,
//! loops: a chain of tasks whose last one leads back to the first while a
//! published counter is below a bound. Every task runs the `prop` action,
//! which fails its first `f` attempts: it succeeds, fails for good, or fails
//! then succeeds under `retry` (or runs out of retries). Transitions are
//! random: `when: succeeded()`, `when: failed()` or no `when`, to later
//! tasks and sometimes to `noop` or `fail`; some tasks are `join: all` or
//! `join: N`.
//!
//! Each case is checked twice against one model ([`Model`]), a sequential
//! interpretation of `finish_instance` / `arrive` / `decline` /
//! `check_join`:
//!
//! * **Ideal**: the model runs the plan alone, without fail-fast. Every
//!   instance of a task behaves the same, so what it computes does not depend
//!   on completion order (loops are entered at most once, so their counter is
//!   sequential too). If it finds no failure, the real run must succeed with
//!   exactly the same multiset of instances and attempts; if it finds one,
//!   the real run must fail and create no instance the ideal run does not.
//! * **Replay**: the run's own event stream is fed, in order, through the
//!   same model with fail-fast. The model keeps the scheduler's queue of
//!   dispatches and `fail` commands: every `TaskScheduled` and `TaskSkipped`
//!   must consume the next dispatch owed (a start, a satisfied transition or
//!   a join firing, completed earlier, in queue order), arrivals while
//!   failing must be skipped at once, and nothing may be left owed at the
//!   end, so each dispatch happens exactly as often as its satisfied
//!   transitions say. Nothing is scheduled or retried once the model says
//!   the run is failing; an attempt is retried exactly when the policy says
//!   so while the run is running; the instance limit, when set, is never
//!   exceeded; and the run's status is the model's. The action stamps each
//!   attempt with a global start/end sequence, and every instance's action
//!   must start after the actions of the instances it depends on ended.
//!
//! Routes: the model makes a route at each arrival at a split task and
//! keeps joins per route; events name each instance's route by path, which
//! must be the model's. Plans with a join reached inside and outside a
//! split must not compile (most generated plans have such joins removed,
//! a quarter keep them to check that).
//!
//! **Replay**: the same plans run durably with a deterministic action; the
//! journal of an uninterrupted run is cut after a random record (a crash
//! that lost the rest) and resumed. The resumed run must not run again an
//! attempt whose outcome the kept records hold, and, where the plan's end
//! does not depend on timing (no fail-fast, no instance limit), must end
//! with the same status, output and instances as the uninterrupted run.
//!
//! Cases default to 64 per runtime flavour (a fifth of them under a random
//! `max_task_instances`; 24 for replays); set `PROPTEST_CASES` for more.
mod common;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use weft_core::TaskStatus;
use weft_runtime::{
    ActionError, ActionInput, Event, EventKind, Executor, RunOptions, RunOutcome, RunStatus,
};

/// Most instances a non-join task may get in a generated plan.
const INSTANCE_CAP: usize = 6;

// ---- the plan, as the model sees it ------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Always,
    Succeeded,
    Failed,
    /// `succeeded() and workflow.c<var> < max`, publishing `c<var> + 1`.
    Loop {
        var: usize,
        max: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Task(usize),
    Noop,
    Fail,
}

#[derive(Clone, Debug)]
struct Tr {
    when: When,
    targets: Vec<Target>,
}

impl Tr {
    /// A failure is remediated by a taken transition that names a task or
    /// `noop`; one without targets (or only `fail`) lets it stand.
    fn remediates(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t, Target::Task(_) | Target::Noop))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinKind {
    All,
    Count(usize),
}

#[derive(Clone, Debug)]
struct TaskSpec {
    /// The action fails attempts `1..=fails_first`.
    fails_first: u32,
    /// `retry.count`.
    retry: Option<u32>,
    join: Option<JoinKind>,
    next: Vec<Tr>,
    /// Yields inside the action, to vary interleavings.
    yields: u32,
}

impl TaskSpec {
    fn fails(&self, attempt: u32) -> bool {
        attempt <= self.fails_first
    }

    /// Whether the policy retries after a failed `attempt` (run running).
    fn retries_after(&self, attempt: u32) -> bool {
        self.fails(attempt) && self.retry.is_some_and(|k| attempt <= k)
    }

    /// Attempts and outcome when nothing stops the retries.
    fn ideal(&self) -> (u32, bool) {
        let k = self.retry.unwrap_or(0);
        let attempts = self.fails_first.min(k) + 1;
        (attempts, !self.fails(attempts))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Anything goes: unhandled failures, `fail`, unsatisfiable joins.
    Wild,
    /// Random `when`s, every failure handled, only `join: 1`.
    Handled,
    /// Every transition with a task target is taken: every task runs.
    Clean,
}

#[derive(Clone, Debug)]
struct Spec {
    mode: Mode,
    tasks: Vec<TaskSpec>,
    counters: usize,
    /// `ExecutorBuilder::max_task_instances`, when set.
    limit: Option<usize>,
}

impl Spec {
    fn name(i: usize) -> String {
        format!("t{i:03}")
    }

    fn index(name: &str) -> Option<usize> {
        name.strip_prefix('t')?.parse().ok()
    }

    /// Distinct tasks with a transition to each task, in id order.
    fn inbound(&self) -> Vec<Vec<usize>> {
        let mut inbound = vec![Vec::new(); self.tasks.len()];
        for (i, t) in self.tasks.iter().enumerate() {
            for tr in &t.next {
                for tg in &tr.targets {
                    if let Target::Task(n) = *tg {
                        inbound[n].push(i);
                    }
                }
            }
        }
        for v in &mut inbound {
            v.sort_unstable();
            v.dedup();
        }
        inbound
    }

    fn starts(&self) -> Vec<usize> {
        let inbound = self.inbound();
        (0..self.tasks.len())
            .filter(|&i| inbound[i].is_empty())
            .collect()
    }

    fn yaml(&self) -> String {
        let mut s = String::from("version: 1.0\n");
        if self.counters > 0 {
            s.push_str("vars:\n");
            for v in 0..self.counters {
                let _ = writeln!(s, "  - c{v}: 0");
            }
        }
        s.push_str("tasks:\n");
        for (i, t) in self.tasks.iter().enumerate() {
            let _ = writeln!(s, "  {}:", Spec::name(i));
            s.push_str("    action: prop\n");
            let _ = writeln!(s, "    input: {{f: {}, y: {}}}", t.fails_first, t.yields);
            if let Some(k) = t.retry {
                let _ = writeln!(s, "    retry: {{count: {k}}}");
            }
            match t.join {
                Some(JoinKind::All) => s.push_str("    join: all\n"),
                Some(JoinKind::Count(c)) => {
                    let _ = writeln!(s, "    join: {c}");
                }
                None => {}
            }
            if t.next.is_empty() {
                continue;
            }
            s.push_str("    next:\n");
            for tr in &t.next {
                let mut parts = Vec::new();
                match tr.when {
                    When::Always => {}
                    When::Succeeded => parts.push(r#"when: "{{ succeeded() }}""#.to_owned()),
                    When::Failed => parts.push(r#"when: "{{ failed() }}""#.to_owned()),
                    When::Loop { var, max } => {
                        parts.push(format!(
                            r#"when: "{{{{ succeeded() and workflow.c{var} < {max} }}}}""#
                        ));
                        parts.push(format!(
                            r#"publish: [{{c{var}: "{{{{ workflow.c{var} + 1 }}}}"}}]"#
                        ));
                    }
                }
                if !tr.targets.is_empty() {
                    let names: Vec<String> = tr
                        .targets
                        .iter()
                        .map(|t| match t {
                            Target::Task(n) => Spec::name(*n),
                            Target::Noop => "noop".to_owned(),
                            Target::Fail => "fail".to_owned(),
                        })
                        .collect();
                    parts.push(format!("do: [{}]", names.join(", ")));
                }
                let _ = writeln!(s, "      - {{{}}}", parts.join(", "));
            }
        }
        s
    }
}

// ---- generation ----------------------------------------------------------

#[derive(Clone, Debug)]
struct RawTask {
    behaviour: u8,
    j: u32,
    k: u32,
    join: u8,
    next: Vec<(u8, Vec<u16>)>,
    yields: u32,
}

#[derive(Clone, Debug)]
struct Raw {
    mode: u8,
    tasks: Vec<RawTask>,
    loops: Vec<(u16, u8, u8)>,
    limit: Option<u8>,
}

fn raw_task() -> impl Strategy<Value = RawTask> {
    (
        0u8..100,
        0u32..4,
        0u32..4,
        0u8..10,
        prop::collection::vec((0u8..6, prop::collection::vec(any::<u16>(), 0..4)), 0..4),
        0u32..4,
    )
        .prop_map(|(behaviour, j, k, join, next, yields)| RawTask {
            behaviour,
            j,
            k,
            join,
            next,
            yields,
        })
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        0u8..10,
        prop::collection::vec(raw_task(), 1..=200),
        prop::collection::vec((any::<u16>(), 1u8..=4, 1u8..=3), 0..=2),
        prop::option::weighted(0.2, 1u8..=80),
    )
        .prop_map(|(mode, tasks, loops, limit)| Raw {
            mode,
            tasks,
            loops,
            limit,
        })
}

struct LoopSpec {
    head: usize,
    tail: usize,
    max: i64,
    var: usize,
}

/// Turns random genes into a valid plan: targets only later tasks (loops
/// aside), keeps non-join tasks at [`INSTANCE_CAP`] instances at most, and
/// shapes loops so their counter is only ever touched by one chain.
fn build(raw: &Raw) -> Spec {
    let n = raw.tasks.len();
    let mode = match raw.mode {
        0..=4 => Mode::Wild,
        5..=7 => Mode::Handled,
        _ => Mode::Clean,
    };
    let mut tasks: Vec<TaskSpec> = raw
        .tasks
        .iter()
        .map(|r| {
            let (fails_first, retry) = match r.behaviour {
                0..=44 => (0, (r.j == 3).then_some(r.k)),
                45..=59 => (99, (r.j % 2 == 1).then_some(r.k)),
                _ => (1 + r.j % 3, Some(r.k)),
            };
            TaskSpec {
                fails_first,
                retry,
                join: None,
                next: Vec::new(),
                yields: r.yields,
            }
        })
        .collect();
    let ok: Vec<bool> = tasks.iter().map(|t| t.ideal().1).collect();

    // Loops: disjoint intervals [head, tail] with head >= 1.
    let mut loops: Vec<LoopSpec> = Vec::new();
    if n >= 2 {
        for &(start, len, max) in &raw.loops {
            let head = 1 + usize::from(start) % (n - 1);
            let tail = (head + usize::from(len) - 1).min(n - 1);
            if loops.iter().all(|l| tail < l.head || head > l.tail) {
                let var = loops.len();
                loops.push(LoopSpec {
                    head,
                    tail,
                    max: i64::from(max),
                    var,
                });
            }
        }
    }
    let loop_of = |i: usize| loops.iter().position(|l| l.head <= i && i <= l.tail);
    let is_join: Vec<bool> = (0..n)
        .map(|i| raw.tasks[i].join >= 7 && loop_of(i).is_none())
        .collect();

    let when_for = |w: u8, task_ok: bool| match mode {
        Mode::Clean if w.is_multiple_of(2) => When::Always,
        Mode::Clean if task_ok => When::Succeeded,
        Mode::Clean => When::Failed,
        _ => match w % 3 {
            0 => When::Always,
            1 => When::Succeeded,
            _ => When::Failed,
        },
    };

    // Instances per task, at most; transitions only lead forward (loops
    // aside), so this is known for a task before its own transitions are.
    // A join fires once per route it is reached in, so at most once per
    // arrival (`jacc`).
    let mut acc = vec![0usize; n];
    let mut jacc = vec![0usize; n];
    let mut ub = vec![0usize; n];
    let mut entered = vec![false; loops.len()];
    for i in 0..n {
        let lp = loop_of(i);
        if let Some(l) = lp.filter(|&l| loops[l].head == i) {
            // The one way into the loop: a task before it with one instance
            // at most, so the counter is only touched by one chain.
            let entry = (0..i).rev().find(|&p| loop_of(p).is_none() && ub[p] == 1);
            if let Some(p) = entry {
                let w = raw.tasks[p].next.first().map_or(0, |x| x.0);
                tasks[p].next.push(Tr {
                    when: match mode {
                        Mode::Wild => when_for(w, ok[p]),
                        _ => When::Always,
                    },
                    targets: vec![Target::Task(i)],
                });
                acc[i] = 1;
                entered[l] = true;
            }
        }
        ub[i] = match lp {
            Some(l) if loops[l].head == i && entered[l] => (loops[l].max + 1) as usize,
            _ if is_join[i] => jacc[i].max(1),
            _ if acc[i] == 0 => 1,
            _ => acc[i],
        };

        let mut next = Vec::new();
        let lowest = match lp {
            Some(l) => loops[l].tail + 1,
            None => i + 1,
        };
        for (w, raw_targets) in &raw.tasks[i].next {
            let when = when_for(*w, ok[i]);
            let mut targets = Vec::new();
            for &t in raw_targets {
                let t = usize::from(t);
                if t % 13 == 0 {
                    targets.push(Target::Noop);
                    continue;
                }
                if t % 29 == 1 && mode == Mode::Wild {
                    targets.push(Target::Fail);
                    continue;
                }
                if lowest >= n {
                    continue;
                }
                let span = n - lowest;
                let tgt = if t % 4 == 0 {
                    lowest + (t / 4) % span
                } else {
                    lowest + (t / 4) % span.min(6)
                };
                if loop_of(tgt).is_some() {
                    continue;
                }
                let bound = if is_join[tgt] {
                    &mut jacc[tgt]
                } else {
                    &mut acc[tgt]
                };
                if *bound + ub[i] > INSTANCE_CAP {
                    continue;
                }
                *bound += ub[i];
                targets.push(Target::Task(tgt));
            }
            next.push(Tr { when, targets });
        }
        if let Some(l) = lp {
            if i < loops[l].tail {
                // The chain link: the body's only way to its next task.
                let w = raw.tasks[i].next.first().map_or(0, |x| x.0);
                next.insert(
                    0,
                    Tr {
                        when: when_for(w, ok[i]),
                        targets: vec![Target::Task(i + 1)],
                    },
                );
                acc[i + 1] = ub[i];
            } else if entered[l] {
                next.push(Tr {
                    when: When::Loop {
                        var: loops[l].var,
                        max: loops[l].max,
                    },
                    targets: vec![Target::Task(loops[l].head)],
                });
            }
        }
        // Only a transition to a task or `noop` remediates a failure.
        let handled = next
            .iter()
            .any(|tr| matches!(tr.when, When::Always | When::Failed) && tr.remediates());
        // In wild plans a third of the failing tasks stay unhandled.
        if !ok[i] && !handled && (mode != Mode::Wild || !raw.tasks[i].behaviour.is_multiple_of(3)) {
            next.push(Tr {
                when: When::Failed,
                targets: vec![Target::Noop],
            });
        }
        tasks[i].next = next;
    }

    let mut spec = Spec {
        mode,
        tasks,
        counters: loops.len(),
        limit: raw.limit.map(usize::from),
    };
    let inbound = spec.inbound();
    for i in 0..n {
        if is_join[i] && !inbound[i].is_empty() {
            let c = inbound[i].len();
            spec.tasks[i].join = Some(match (mode, raw.tasks[i].join) {
                (Mode::Handled, _) => JoinKind::Count(1),
                (_, 7 | 8) => JoinKind::All,
                (_, _) => JoinKind::Count(1 + (raw.tasks[i].j as usize) % c),
            });
        }
    }
    // Joins reached both inside and outside a split do not compile. Most
    // plans lose theirs, so that runs cover joins within routes; a quarter
    // keep them, to check that they are refused.
    if raw.tasks[0].k != 0 {
        while let Some(&j) = ambiguous_joins(&spec).first() {
            spec.tasks[j].join = None;
        }
    }
    spec
}

// ---- the model -----------------------------------------------------------

/// A route: an index into the model's route table. Like the scheduler, the
/// model makes a new route at every arrival at a split task (two routes
/// may have the same path); events name routes by path, so the model's
/// numbers need not be the run's.
type Route = usize;

/// A route's path: the split edges it went through, (task, edge key).
type Path = Vec<(usize, u32)>;

fn path_names(path: &Path) -> Vec<String> {
    path.iter()
        .map(|&(t, k)| format!("{}__t{k}", Spec::name(t)))
        .collect()
}

/// The graph facts routes depend on: per task, whether it is a split task
/// (no join, named by more than one transition, on no cycle).
fn split_tasks(spec: &Spec) -> Vec<bool> {
    let n = spec.tasks.len();
    let mut named = vec![0usize; n];
    let mut succ = vec![Vec::new(); n];
    for (i, t) in spec.tasks.iter().enumerate() {
        for tr in &t.next {
            for (k, tg) in tr.targets.iter().enumerate() {
                if let Target::Task(x) = *tg {
                    // Named twice in one `do` counts once.
                    if !tr.targets[..k].contains(tg) {
                        named[x] += 1;
                    }
                    succ[i].push(x);
                }
            }
        }
    }
    // On a cycle: reachable from one of its own successors.
    let on_cycle = |i: usize| {
        let mut seen = vec![false; n];
        let mut stack = succ[i].clone();
        while let Some(v) = stack.pop() {
            if v == i {
                return true;
            }
            if !std::mem::replace(&mut seen[v], true) {
                stack.extend(succ[v].iter().copied());
            }
        }
        false
    };
    (0..n)
        .map(|i| spec.tasks[i].join.is_none() && named[i] > 1 && !on_cycle(i))
        .collect()
}

/// Orquesta's compile-time rule: a join is ambiguous when one of its
/// branches is reached under a different set of split tasks than the join.
fn has_ambiguous_join(spec: &Spec) -> bool {
    !ambiguous_joins(spec).is_empty()
}

fn ambiguous_joins(spec: &Spec) -> Vec<usize> {
    use std::collections::BTreeSet;
    let n = spec.tasks.len();
    let split = split_tasks(spec);
    let mut union: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut seen: Vec<Vec<BTreeSet<usize>>> = vec![Vec::new(); n];
    let mut queue: VecDeque<(usize, BTreeSet<usize>)> = spec
        .starts()
        .into_iter()
        .map(|s| (s, BTreeSet::new()))
        .collect();
    while let Some((t, mut set)) = queue.pop_front() {
        if seen[t].contains(&set) {
            continue;
        }
        seen[t].push(set.clone());
        if split[t] {
            set.insert(t);
        }
        union[t].extend(set.iter().copied());
        for tr in &spec.tasks[t].next {
            for tg in &tr.targets {
                if let Target::Task(x) = *tg {
                    queue.push_back((x, set.clone()));
                }
            }
        }
    }
    let inbound = spec.inbound();
    (0..n)
        .filter(|&j| {
            spec.tasks[j].join.is_some() && inbound[j].iter().any(|&i| union[i] != union[j])
        })
        .collect()
}

#[derive(Clone)]
struct JoinState {
    inbound: Vec<usize>,
    arrived: Vec<bool>,
    declined: Vec<bool>,
    count: usize,
    need: usize,
    fired: bool,
    /// Instances that arrived, one per inbound task.
    parents: Vec<usize>,
}

/// An entry of the scheduler's work queue that the model tracks.
#[derive(Clone, Debug)]
enum Work {
    /// Create an instance of `task` in `route`, which depends on `parents`.
    Dispatch {
        task: usize,
        parents: Vec<usize>,
        route: Route,
    },
    /// The `fail` command, which takes effect when the scheduler reaches it.
    Fail,
}

/// A sequential interpretation of the scheduler's semantics.
#[derive(Clone)]
struct Model<'a> {
    spec: &'a Spec,
    fail_fast: bool,
    failed: bool,
    /// Per join task, its state before any branch arrived.
    joins: Vec<Option<JoinState>>,
    /// The joins' states, per (task, route).
    join_states: std::collections::HashMap<(usize, Route), JoinState>,
    /// The routes' paths, by route.
    routes: Vec<Path>,
    split: Vec<bool>,
    join_successors: Vec<Vec<usize>>,
    vars: Vec<i64>,
    /// Dispatches and `fail` commands, in the order they were queued.
    queue: VecDeque<Work>,
    /// Targets skipped at once (arrivals while failing), seen next in order.
    skipped_now: VecDeque<usize>,
}

impl<'a> Model<'a> {
    fn new(spec: &'a Spec, fail_fast: bool) -> Model<'a> {
        let n = spec.tasks.len();
        let inbound = spec.inbound();
        let mut join_successors = vec![Vec::new(); n];
        let joins = (0..n)
            .map(|i| {
                let kind = spec.tasks[i].join?;
                for &p in &inbound[i] {
                    join_successors[p].push(i);
                }
                let c = inbound[i].len();
                Some(JoinState {
                    inbound: inbound[i].clone(),
                    arrived: vec![false; c],
                    declined: vec![false; c],
                    count: 0,
                    need: match kind {
                        JoinKind::All => c,
                        JoinKind::Count(k) => k.min(c),
                    },
                    fired: false,
                    parents: Vec::new(),
                })
            })
            .collect();
        let mut m = Model {
            spec,
            fail_fast,
            failed: false,
            joins,
            join_states: Default::default(),
            routes: vec![Vec::new()],
            split: split_tasks(spec),
            join_successors,
            vars: vec![0; spec.counters],
            queue: VecDeque::new(),
            skipped_now: VecDeque::new(),
        };
        for s in spec.starts() {
            m.owe(s, Vec::new(), 0);
        }
        m
    }

    /// The run is in its `Running` state.
    fn running(&self) -> bool {
        !(self.fail_fast && self.failed)
    }

    fn owe(&mut self, task: usize, parents: Vec<usize>, route: Route) {
        self.queue.push_back(Work::Dispatch {
            task,
            parents,
            route,
        });
    }

    fn fail(&mut self) {
        self.failed = true;
    }

    /// Applies the `fail` commands at the head of the queue.
    fn reach_fails(&mut self) {
        while matches!(self.queue.front(), Some(Work::Fail)) {
            self.queue.pop_front();
            self.fail();
        }
    }

    /// An instance in `route` completed: evaluate its transitions in order.
    fn complete(&mut self, task: usize, instance: usize, ok: bool, route: Route) {
        let spec = self.spec;
        let mut handled = false;
        let mut went_to = Vec::new();
        for (ti, tr) in spec.tasks[task].next.iter().enumerate() {
            // A task named twice in one `do` is reached once.
            let mut targets = tr.targets.clone();
            let mut k = 0;
            while k < targets.len() {
                if targets[..k].contains(&targets[k]) {
                    targets.remove(k);
                } else {
                    k += 1;
                }
            }
            let take = match tr.when {
                When::Always => true,
                When::Succeeded => ok,
                When::Failed => !ok,
                When::Loop { var, max } => ok && self.vars[var] < max,
            };
            if !take {
                continue;
            }
            handled |= tr.remediates();
            if let When::Loop { var, .. } = tr.when {
                self.vars[var] += 1;
            }
            for tg in &targets {
                match *tg {
                    Target::Task(n) => {
                        went_to.push(n);
                        // The edge key: how many earlier transitions of
                        // `task` name `n`.
                        let key = spec.tasks[task].next[..ti]
                            .iter()
                            .filter(|t| t.targets.contains(&Target::Task(n)))
                            .count() as u32;
                        self.arrive(n, task, key, instance, route);
                    }
                    // Queued behind the transition's dispatches, so that
                    // `do: [notify, fail]` still starts `notify`.
                    Target::Fail => self.queue.push_back(Work::Fail),
                    Target::Noop => {}
                }
            }
        }
        if !ok && !handled {
            self.fail();
        }
        for j in self.join_successors[task].clone() {
            if !went_to.contains(&j) {
                self.decline(j, task, route);
            }
        }
    }

    fn join_state(&mut self, target: usize, route: Route) -> Option<&mut JoinState> {
        let fresh = self.joins[target].clone()?;
        Some(self.join_states.entry((target, route)).or_insert(fresh))
    }

    fn arrive(&mut self, target: usize, from: usize, key: u32, instance: usize, route: Route) {
        if !self.running() {
            self.skipped_now.push_back(target);
            return;
        }
        let Some(js) = self.join_state(target, route) else {
            let mut route = route;
            if self.split[target] && !self.routes[route].contains(&(from, key)) {
                let mut path = self.routes[route].clone();
                path.push((from, key));
                self.routes.push(path);
                route = self.routes.len() - 1;
            }
            self.owe(target, vec![instance], route);
            return;
        };
        if js.fired {
            return;
        }
        let pos = js.inbound.binary_search(&from).expect("inbound");
        if !js.arrived[pos] {
            js.arrived[pos] = true;
            js.declined[pos] = false;
            js.count += 1;
            js.parents.push(instance);
        }
        if js.count >= js.need {
            js.fired = true;
            let parents = js.parents.clone();
            self.owe(target, parents, route);
        } else {
            self.check_join(target, route);
        }
    }

    fn decline(&mut self, target: usize, from: usize, route: Route) {
        let Some(js) = self.join_state(target, route) else {
            return;
        };
        if js.fired {
            return;
        }
        let pos = js.inbound.binary_search(&from).expect("inbound");
        if !js.arrived[pos] {
            js.declined[pos] = true;
        }
        self.check_join(target, route);
    }

    fn check_join(&mut self, target: usize, route: Route) {
        let running = self.running();
        let Some(js) = self.join_states.get(&(target, route)) else {
            return;
        };
        if js.fired || js.count == 0 || !running {
            return;
        }
        let open = (0..js.inbound.len())
            .filter(|&i| !js.arrived[i] && !js.declined[i])
            .count();
        if js.count + open < js.need {
            self.fail();
        }
    }

    /// The run ends: a join that some branch reached but that never fired
    /// fails it.
    fn end(&mut self) {
        if self.running()
            && self
                .join_states
                .values()
                .any(|js| !js.fired && js.count > 0)
        {
            self.fail();
        }
    }
}

/// What the plan does when run alone without fail-fast.
struct Ideal {
    /// Per task: (attempts, succeeded) of each instance, sorted.
    per_task: Vec<Vec<(u32, bool)>>,
    fails: bool,
}

fn ideal(spec: &Spec) -> Ideal {
    let mut m = Model::new(spec, false);
    let mut per_task = vec![Vec::new(); spec.tasks.len()];
    let mut instance = 0;
    while let Some(work) = m.queue.pop_front() {
        let Work::Dispatch { task: t, route, .. } = work else {
            m.fail();
            continue;
        };
        let (attempts, ok) = spec.tasks[t].ideal();
        per_task[t].push((attempts, ok));
        m.complete(t, instance, ok, route);
        instance += 1;
        assert!(instance < 100_000, "the generator made a runaway plan");
    }
    m.end();
    for v in &mut per_task {
        v.sort_unstable();
    }
    Ideal {
        per_task,
        fails: m.failed,
    }
}

// ---- replaying a real run ------------------------------------------------

#[derive(Clone)]
struct Seen {
    task: usize,
    parents: Vec<usize>,
    route: Route,
    started: u32,
    retries: u32,
    ok: Option<bool>,
}

fn task_of(name: &str, n: usize) -> Result<usize, String> {
    Spec::index(name)
        .filter(|&i| i < n)
        .ok_or_else(|| format!("event names unknown task `{name}`"))
}

/// One hypothesis of the replay: the model and the instances seen so far.
#[derive(Clone)]
struct Replay<'a> {
    m: Model<'a>,
    seen: Vec<Seen>,
}

impl Replay<'_> {
    /// The next dispatch owed must be one of `task`.
    fn next_dispatch(&mut self, task: usize) -> Result<(Vec<usize>, Route), String> {
        self.m.reach_fails();
        match self.m.queue.pop_front() {
            Some(Work::Dispatch {
                task: t,
                parents,
                route,
            }) if t == task => Ok((parents, route)),
            Some(Work::Dispatch { task: t, .. }) => Err(format!(
                "the next dispatch owed is of {}, not {}",
                Spec::name(t),
                Spec::name(task)
            )),
            _ => Err("no satisfied transition leads here".into()),
        }
    }

    fn step(&mut self, ev: &Event) -> Result<(), String> {
        let spec = self.m.spec;
        let n = spec.tasks.len();
        if let Some(&t) = self.m.skipped_now.front() {
            return match &ev.kind {
                EventKind::TaskSkipped { task, .. } if task_of(task, n)? == t => {
                    self.m.skipped_now.pop_front();
                    Ok(())
                }
                _ => Err(format!("{} should have been skipped here", Spec::name(t))),
            };
        }
        match &ev.kind {
            EventKind::TaskScheduled {
                task,
                instance,
                route: seen_route,
            } => {
                let (parents, route) = self.next_dispatch(task_of(task, n)?)?;
                let path = path_names(&self.m.routes[route]);
                if **seen_route != *path {
                    return Err(format!(
                        "scheduled in route {seen_route:?}, the model says {path:?}"
                    ));
                }
                if !self.m.running() {
                    return Err("scheduled after the run started failing".into());
                }
                if *instance as usize != self.seen.len() {
                    return Err(format!("expected instance {}", self.seen.len()));
                }
                if spec.limit.is_some_and(|l| self.seen.len() >= l) {
                    return Err("scheduled over the instance limit".into());
                }
                if let Some(&p) = parents.iter().find(|&&p| self.seen[p].ok.is_none()) {
                    return Err(format!("instance {p} it depends on is not complete"));
                }
                self.seen.push(Seen {
                    task: task_of(task, n)?,
                    parents,
                    route,
                    started: 0,
                    retries: 0,
                    ok: None,
                });
            }
            EventKind::TaskSkipped { task, .. } => {
                self.next_dispatch(task_of(task, n)?)?;
                if self.m.running() {
                    // The instance limit refused it, which fails the run.
                    if spec.limit != Some(self.seen.len()) {
                        return Err("skipped while the run is running".into());
                    }
                    self.m.fail();
                }
            }
            EventKind::TaskStarted {
                instance,
                item,
                attempt,
                ..
            } => {
                let s = self
                    .seen
                    .get_mut(*instance as usize)
                    .ok_or("unknown instance")?;
                if item.is_some() || s.ok.is_some() || *attempt != s.started + 1 {
                    return Err(format!("out of order (started {})", s.started));
                }
                if *attempt != s.retries + 1 {
                    return Err("attempt without a retry".into());
                }
                s.started += 1;
            }
            EventKind::TaskRetrying {
                instance,
                item,
                attempt,
                ..
            } => {
                let running = self.m.running();
                let s = self
                    .seen
                    .get_mut(*instance as usize)
                    .ok_or("unknown instance")?;
                let failed = attempt - 1;
                if item.is_some() || s.ok.is_some() || failed != s.started {
                    return Err(format!("out of order (started {})", s.started));
                }
                if !running {
                    return Err("retry after the run started failing".into());
                }
                if !spec.tasks[s.task].retries_after(failed) {
                    return Err("retry the policy does not allow".into());
                }
                s.retries += 1;
            }
            EventKind::TaskSucceeded { instance, .. } | EventKind::TaskFailed { instance, .. } => {
                let succeeded = matches!(ev.kind, EventKind::TaskSucceeded { .. });
                let running = self.m.running();
                let s = self
                    .seen
                    .get_mut(*instance as usize)
                    .ok_or("unknown instance")?;
                if s.ok.is_some() || s.started == 0 || s.started != s.retries + 1 {
                    return Err(format!(
                        "ends after {} attempts and {} retries",
                        s.started, s.retries
                    ));
                }
                let task = &spec.tasks[s.task];
                if succeeded == task.fails(s.started) {
                    return Err(format!("attempt {} had the other outcome", s.started));
                }
                // A retry is only ever withheld once the run is failing
                // (decided when the attempt completed; failing is for good).
                if task.retries_after(s.started) && running {
                    return Err(format!("attempt {} was not retried", s.started));
                }
                s.ok = Some(succeeded);
                let (t, route) = (s.task, s.route);
                self.m.complete(t, *instance as usize, succeeded, route);
            }
            other => return Err(format!("unexpected event {other:?}")),
        }
        Ok(())
    }

    /// Failing hypotheses with the same owed work behave the same from here.
    fn failing_key(&self) -> Option<Vec<usize>> {
        if self.m.running() {
            return None;
        }
        let mut key: Vec<usize> = self
            .m
            .queue
            .iter()
            .map(|w| match w {
                Work::Dispatch { task, .. } => *task,
                Work::Fail => usize::MAX,
            })
            .collect();
        key.push(usize::MAX - 1);
        key.extend(self.m.skipped_now.iter().copied());
        Some(key)
    }
}

/// Replays the event stream through the model with fail-fast; returns the
/// instances seen and whether the model says the run failed.
///
/// A dispatch over the instance limit fails the run and shows as a
/// `TaskSkipped` while the model still says running. A `fail` command takes
/// effect when the scheduler reaches it in its queue; completions it handles
/// before that leave no trace in the events, so when the model has a `fail`
/// at the head of its queue, a task's end may come before or after it: the
/// replay follows both hypotheses until the events rule one out.
fn replay(spec: &Spec, events: &[Event]) -> Result<(Vec<Seen>, bool), String> {
    let Some((first, rest)) = events.split_first() else {
        return Err("no events".into());
    };
    if !matches!(first.kind, EventKind::RunStarted { .. }) {
        return Err(format!("first event is {:?}", first.kind));
    }
    let Some((last, middle)) = rest.split_last() else {
        return Err("no RunEnded".into());
    };
    let mut states = vec![Replay {
        m: Model::new(spec, true),
        seen: Vec::new(),
    }];
    for (k, ev) in middle.iter().enumerate() {
        let ends = matches!(
            ev.kind,
            EventKind::TaskSucceeded { .. } | EventKind::TaskFailed { .. }
        );
        let mut next: Vec<Replay<'_>> = Vec::with_capacity(states.len() + 1);
        let mut error = None;
        for mut st in states {
            if ends
                && st.m.running()
                && st.m.skipped_now.is_empty()
                && matches!(st.m.queue.front(), Some(Work::Fail))
            {
                let mut alt = st.clone();
                alt.m.reach_fails();
                if alt.step(ev).is_ok() {
                    next.push(alt);
                }
            }
            match st.step(ev) {
                Ok(()) => next.push(st),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        let mut keys = Vec::new();
        next.retain(|st| match st.failing_key() {
            Some(key) if keys.contains(&key) => false,
            Some(key) => {
                keys.push(key);
                true
            }
            None => true,
        });
        if next.is_empty() {
            let e = error.unwrap_or_else(|| "no hypothesis fits".into());
            return Err(format!("event {}: {e} ({:?})", k + 1, ev.kind));
        }
        states = next;
    }
    if !matches!(last.kind, EventKind::RunEnded { .. }) {
        return Err(format!("last event is {:?}", last.kind));
    }
    let mut error = String::new();
    for mut st in states {
        st.m.reach_fails();
        st.m.end();
        if let Some(w) = st.m.queue.front() {
            error = format!("{w:?} was owed but neither scheduled nor skipped");
        } else if let Some(t) = st.m.skipped_now.front() {
            error = format!("{} should have been skipped", Spec::name(*t));
        } else if let Some(i) = st.seen.iter().position(|s| s.ok.is_none()) {
            error = format!("instance {i} never ended");
        } else {
            return Ok((st.seen, st.m.failed));
        }
    }
    Err(error)
}

// ---- running a case ------------------------------------------------------

#[derive(Default)]
struct Counters {
    seq: AtomicU64,
    calls: AtomicU64,
}

fn executor(counters: Arc<Counters>, limit: Option<usize>) -> Executor {
    let b = Executor::builder()
        .without_builtins()
        .action("prop", move |input: ActionInput| {
            let c = counters.clone();
            async move {
                let f = input.get("f").and_then(Value::as_u64).unwrap_or(0);
                let y = input.get("y").and_then(Value::as_u64).unwrap_or(0);
                c.calls.fetch_add(1, Ordering::SeqCst);
                let start = c.seq.fetch_add(1, Ordering::SeqCst);
                for _ in 0..(y + start) % 4 {
                    tokio::task::yield_now().await;
                }
                let end = c.seq.fetch_add(1, Ordering::SeqCst);
                let stamp = json!([start, end]);
                if u64::from(input.attempt) <= f {
                    Err(ActionError::with_result("planned failure", stamp))
                } else {
                    Ok(stamp)
                }
            }
        });
    match limit {
        Some(n) => b.max_task_instances(n).build(),
        None => b.build(),
    }
}

fn stamp(out: &RunOutcome, instance: usize) -> Option<(u64, u64)> {
    let v = out.tasks.get(instance)?.result.as_deref()?;
    Some((v.get(0)?.as_u64()?, v.get(1)?.as_u64()?))
}

async fn check_case(ex: &Executor, counters: &Counters, spec: &Spec) -> Result<(), String> {
    let compiled = weft_core::Workflow::from_yaml_str(&spec.yaml()).and_then(|w| w.compile(ex));
    // A join reached both inside and outside a split does not compile; the
    // model's own reading of the rule must agree.
    let ambiguous = has_ambiguous_join(spec);
    let plan = match compiled {
        Err(e) if ambiguous && e.all().all(|e| e.message().contains("is ambiguous")) => {
            return Ok(())
        }
        Err(e) => return Err(format!("does not compile: {e}")),
        Ok(_) if ambiguous => return Err("compiles, but the model says a join is ambiguous".into()),
        Ok(plan) => plan,
    };
    let model = ideal(spec);
    if spec.mode != Mode::Wild && model.fails {
        return Err("the generator made a failing plan in a mode that should not".into());
    }
    let total: usize = model.per_task.iter().map(Vec::len).sum();
    let must_fail = model.fails || spec.limit.is_some_and(|l| total > l);

    let calls_before = counters.calls.load(Ordering::SeqCst);
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .map_err(|e| e.to_string())?;
    let events = run.events();
    let (events, out) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(events.collect::<Vec<Event>>(), run)
    })
    .await
    .map_err(|_| "the run did not end within 30 s".to_owned())?;
    let out = out.map_err(|e| e.to_string())?;
    let calls = counters.calls.load(Ordering::SeqCst) - calls_before;

    let (seen, replay_failed) = replay(spec, &events)?;

    // Status: the replay's, the ideal run's, and the event's agree.
    let expected = if replay_failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    if out.status != expected {
        return Err(format!(
            "status {:?}, the replay says {expected:?}; errors {:?}",
            out.status, out.errors
        ));
    }
    if replay_failed != must_fail {
        return Err(format!(
            "the replay says failed={replay_failed}, the ideal run failed={} with {total} instances",
            model.fails
        ));
    }
    match events.last().map(|e| &e.kind) {
        Some(EventKind::RunEnded { status }) if *status == out.status => {}
        other => return Err(format!("RunEnded is {other:?}")),
    }
    if out.status == RunStatus::Failed && out.errors.is_empty() {
        return Err("a failed run without errors".into());
    }

    // The outcome agrees with the events, and with the action's own count.
    if out.tasks.len() != seen.len() || out.stats.tasks_run != seen.len() {
        return Err(format!(
            "{} task records, {} scheduled",
            out.tasks.len(),
            seen.len()
        ));
    }
    let attempts: u64 = seen.iter().map(|s| u64::from(s.started)).sum();
    if calls != attempts || out.stats.actions_run as u64 != attempts {
        return Err(format!(
            "{calls} action calls, {attempts} TaskStarted, actions_run {}",
            out.stats.actions_run
        ));
    }
    for (i, (rec, s)) in out.tasks.iter().zip(&seen).enumerate() {
        let status = if s.ok == Some(true) {
            TaskStatus::Succeeded
        } else {
            TaskStatus::Failed
        };
        if *rec.name != Spec::name(s.task)
            || rec.instance as usize != i
            || rec.attempts != s.started
            || rec.status != status
        {
            return Err(format!(
                "record {i} is {} #{} {:?} after {} attempts; events say {} {status:?} after {}",
                rec.name,
                rec.instance,
                rec.status,
                rec.attempts,
                Spec::name(s.task),
                s.started
            ));
        }
        // The action of each instance started after those of the instances
        // it depends on ended.
        let (start, _) = stamp(&out, i).ok_or_else(|| format!("record {i} has no stamp"))?;
        for &p in &s.parents {
            let (_, end) = stamp(&out, p).ok_or_else(|| format!("record {p} has no stamp"))?;
            if start <= end {
                return Err(format!(
                    "instance {i} ({}) started at {start}, before instance {p} ended at {end}",
                    Spec::name(s.task)
                ));
            }
        }
    }

    // Against the ideal run.
    let mut per_task = vec![Vec::new(); spec.tasks.len()];
    for s in &seen {
        per_task[s.task].push((s.started, s.ok == Some(true)));
    }
    for v in &mut per_task {
        v.sort_unstable();
    }
    for (t, (real, want)) in per_task.iter().zip(&model.per_task).enumerate() {
        let fine = if must_fail {
            real.len() <= want.len()
        } else {
            real == want
        };
        if !fine {
            return Err(format!(
                "{}: instances (attempts, succeeded) {real:?}, the model says {want:?}",
                Spec::name(t)
            ));
        }
    }
    // Start tasks are dispatched first, in order, up to the instance limit.
    for (k, s) in spec.starts().into_iter().enumerate() {
        let want = usize::from(spec.limit.is_none_or(|l| k < l));
        if per_task[s].len() != want {
            return Err(format!(
                "start task {} ran {} times",
                Spec::name(s),
                per_task[s].len()
            ));
        }
    }
    Ok(())
}

fn cases() -> Config {
    let mut config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    config
}

fn check_random_plans(rt: tokio::runtime::Runtime) {
    let counters = Arc::new(Counters::default());
    let mut runner = TestRunner::new(cases());
    let result = runner.run(&raw(), |raw| {
        let spec = build(&raw);
        let ex = executor(counters.clone(), spec.limit);
        rt.block_on(check_case(&ex, &counters, &spec)).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n--- instance limit {:?}, workflow ---\n{}",
                spec.limit,
                spec.yaml()
            ))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_plans_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check_random_plans(rt);
}

#[test]
fn random_plans_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    check_random_plans(rt);
}

/// The model itself: a hand-checked plan with a loop, a join and a retry.
#[test]
fn the_model_interprets_a_known_plan() {
    let spec = Spec {
        mode: Mode::Wild,
        counters: 1,
        limit: None,
        tasks: vec![
            // t000: succeeds, leads into the loop and to the join.
            TaskSpec {
                fails_first: 0,
                retry: None,
                join: None,
                next: vec![Tr {
                    when: When::Succeeded,
                    targets: vec![Target::Task(1), Target::Task(3)],
                }],
                yields: 0,
            },
            // t001: loop head; fails once, retried.
            TaskSpec {
                fails_first: 1,
                retry: Some(2),
                join: None,
                next: vec![Tr {
                    when: When::Always,
                    targets: vec![Target::Task(2)],
                }],
                yields: 0,
            },
            // t002: loop tail, twice more round the loop; also to the join.
            TaskSpec {
                fails_first: 0,
                retry: None,
                join: None,
                next: vec![
                    Tr {
                        when: When::Succeeded,
                        targets: vec![Target::Task(3)],
                    },
                    Tr {
                        when: When::Loop { var: 0, max: 2 },
                        targets: vec![Target::Task(1)],
                    },
                ],
                yields: 0,
            },
            // t003: join of t000 and t002.
            TaskSpec {
                fails_first: 0,
                retry: None,
                join: Some(JoinKind::All),
                next: Vec::new(),
                yields: 0,
            },
        ],
    };
    let m = ideal(&spec);
    assert!(!m.fails);
    assert_eq!(m.per_task[0], [(1, true)]);
    assert_eq!(m.per_task[1], [(2, true); 3]);
    assert_eq!(m.per_task[2], [(1, true); 3]);
    assert_eq!(m.per_task[3], [(1, true)]);
    assert!(spec.yaml().contains("workflow.c0 < 2"));

    // The same with the tail failing: the join is declined and fails.
    let mut failing = spec.clone();
    failing.tasks[2].fails_first = 99;
    failing.tasks[2].next.push(Tr {
        when: When::Failed,
        targets: vec![Target::Noop],
    });
    let m = ideal(&failing);
    assert!(m.fails);
    assert_eq!(m.per_task[3], []);
}

// ---- replaying a journal after a crash -------------------------------------

/// Executions per attempt (by idempotency key) of the deterministic action.
#[derive(Default)]
struct Executions(std::sync::Mutex<std::collections::HashMap<String, usize>>);

/// An executor whose `prop` action gives the same outcome for the same
/// attempt every time (the replay contract), journaling into `store`.
fn durable_executor(
    store: Arc<weft_runtime::MemoryStore>,
    limit: Option<usize>,
    seen: Arc<Executions>,
) -> Executor {
    let b = Executor::builder().without_builtins().store(store).action(
        "prop",
        move |input: ActionInput| {
            let seen = seen.clone();
            async move {
                *seen
                    .0
                    .lock()
                    .unwrap()
                    .entry(input.idempotency_key())
                    .or_default() += 1;
                let f = input.get("f").and_then(Value::as_u64).unwrap_or(0);
                let y = input.get("y").and_then(Value::as_u64).unwrap_or(0);
                for _ in 0..y {
                    tokio::task::yield_now().await;
                }
                let result = json!({"task": &*input.task, "attempt": input.attempt});
                if u64::from(input.attempt) <= f {
                    Err(ActionError::with_result("planned failure", result))
                } else {
                    Ok(result)
                }
            }
        },
    );
    match limit {
        Some(n) => b.max_task_instances(n).build(),
        None => b.build(),
    }
}

/// What a run ended with that does not depend on timing in plans where
/// every failure is handled: status, output, and the multiset of
/// instances (task, route path, status, attempts, result).
fn settled(out: &RunOutcome) -> (RunStatus, Value, Vec<String>) {
    let mut instances: Vec<String> = out
        .tasks
        .iter()
        .map(|t| {
            format!(
                "{} {:?} {:?} {} {}",
                t.name,
                out.routes[t.route as usize],
                t.status,
                t.attempts,
                t.result.as_deref().cloned().unwrap_or(Value::Null)
            )
        })
        .collect();
    instances.sort();
    (out.status, out.output.clone(), instances)
}

async fn check_replay(spec: &Spec, cut: &[u16]) -> Result<(), String> {
    let mut text = spec.yaml();
    if spec.counters > 0 {
        text.push_str("output:\n");
        for v in 0..spec.counters {
            let _ = writeln!(text, "  - c{v}: \"{{{{ workflow.c{v} }}}}\"");
        }
    }
    // The uninterrupted run, and its journal.
    let store = Arc::new(weft_runtime::MemoryStore::new());
    let seen = Arc::new(Executions::default());
    let ex = durable_executor(store.clone(), spec.limit, seen.clone());
    let plan = match weft_core::Workflow::from_yaml_str(&text).and_then(|w| w.compile(&ex)) {
        Ok(p) => p,
        Err(_) if has_ambiguous_join(spec) => return Ok(()),
        Err(e) => return Err(format!("does not compile: {e}")),
    };
    let reference =
        tokio::time::timeout(Duration::from_secs(30), ex.start(&plan, json!({})).unwrap())
            .await
            .map_err(|_| "the reference run did not end")?
            .map_err(|e| e.to_string())?;
    ex.flush().await.map_err(|e| e.to_string())?;
    let journal = weft_runtime::Store::load(&*store, reference.run_id)
        .await
        .map_err(|e| e.to_string())?;
    // Without fail-fast or the instance limit (which stop a run at a point
    // that depends on timing), every run of the plan ends the same way.
    let deterministic = spec.mode != Mode::Wild && spec.limit.is_none();

    for &c in cut {
        // A crash after record `k` was committed: the rest is lost.
        let k = 1 + usize::from(c) % journal.len();
        let kept = &journal[..k];
        let store = Arc::new(weft_runtime::MemoryStore::new());
        weft_runtime::Store::append(&*store, kept)
            .await
            .map_err(|e| e.to_string())?;
        let recorded: std::collections::HashSet<String> = kept
            .iter()
            .filter_map(|e| match &e.record {
                weft_runtime::store::Record::Attempt(a) => Some(format!(
                    "{}/{}/{}/{}/{}",
                    e.run,
                    "",
                    a.instance,
                    a.item.map_or("-".to_owned(), |i| i.to_string()),
                    a.attempt
                )),
                _ => None,
            })
            .collect();
        let seen = Arc::new(Executions::default());
        let ex = durable_executor(store.clone(), spec.limit, seen.clone());
        let out = if matches!(
            kept.last().map(|e| &e.record),
            Some(weft_runtime::store::Record::Ended(_))
        ) {
            // Nothing to resume: the run had ended.
            if !ex
                .recover()
                .await
                .map_err(|e| e.to_string())?
                .runs
                .is_empty()
            {
                return Err("an ended run was resumed".into());
            }
            continue;
        } else {
            let mut recovered = ex.recover().await.map_err(|e| e.to_string())?;
            if !recovered.failed.is_empty() {
                return Err(format!("recover failed: {:?}", recovered.failed));
            }
            let run = recovered.runs.pop().ok_or("nothing was recovered")?;
            tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .map_err(|_| format!("the run resumed after record {k} did not end"))?
                .map_err(|e| e.to_string())?
        };
        // No attempt whose outcome was journaled ran again.
        for key in seen.0.lock().unwrap().keys() {
            let mut parts: Vec<&str> = key.split('/').collect();
            parts[1] = "";
            if recorded.contains(&parts.join("/")) {
                return Err(format!(
                    "attempt {key} ran again although the journal (cut after record {k}) has its outcome"
                ));
            }
        }
        if out
            .errors
            .iter()
            .any(|e| e.message.contains("cannot be replayed"))
        {
            return Err(format!("cut after record {k}: {:?}", out.errors));
        }
        if deterministic {
            // The status and the task executions do not depend on timing;
            // the output does: variables are scoped to branches, and the
            // output merges the terminal branches in the order their
            // completions were handled, which after the cut is live again
            // and may differ from the uninterrupted run's. (A replay of the
            // same order gives the same output: tests/branch_scope.rs.)
            let strip = |o: &RunOutcome| {
                let (status, _, tasks) = settled(o);
                (status, tasks)
            };
            if strip(&out) != strip(&reference) {
                return Err(format!(
                    "cut after record {k} of {}: the resumed run ended {:?}, the uninterrupted one {:?}",
                    journal.len(),
                    settled(&out),
                    settled(&reference)
                ));
            }
        } else if out.status != reference.status {
            return Err(format!(
                "cut after record {k}: status {:?}, uninterrupted {:?}",
                out.status, reference.status
            ));
        }
    }
    Ok(())
}

fn check_replays(rt: tokio::runtime::Runtime) {
    let mut config = cases();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 24;
    }
    let mut runner = TestRunner::new(config);
    let strategy = (raw(), prop::collection::vec(any::<u16>(), 1..=3));
    let result = runner.run(&strategy, |(raw, cut)| {
        let spec = build(&raw);
        rt.block_on(check_replay(&spec, &cut)).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n--- instance limit {:?}, workflow ---\n{}",
                spec.limit,
                spec.yaml()
            ))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn a_journal_cut_anywhere_resumes_to_the_same_end_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check_replays(rt);
}

#[test]
fn a_journal_cut_anywhere_resumes_to_the_same_end_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    check_replays(rt);
}
