//! The end of a run: joins left waiting are reported, the output is
//! evaluated in order, and the outcome with every task record is made.

use std::sync::Arc;

use serde_json::{Map, Value};
use weft_core::{TaskId, TaskStatus, WorkflowContext};

use super::scope::Scope;
use super::stamp::Stamp;
use super::{Instance, JoinState, Scheduler, State, Terminal};
use crate::event::EventKind;
use crate::id::RunId;
use crate::outcome::{RunError, RunOutcome, RunStats, RunStatus, TaskRecord};

impl Scheduler {
    pub(super) fn finish(&mut self) -> RunOutcome {
        // (The rare parts of a run's end are methods of their own, out of
        // line: every run goes through this one, and the code of what few
        // runs do, inlined between its lines, made it many cache lines
        // wide.)
        if self.state == State::Running
            && (self.graph.joins_waiting > 0 || self.graph.route_joins.is_some())
        {
            self.unsatisfied_joins();
        }
        let mut status = if self.state.failed() {
            RunStatus::Failed
        } else if self.state.canceled() {
            RunStatus::Canceled
        } else {
            RunStatus::Succeeded
        };
        let mut output = match self.env.plan.output().is_empty() {
            true => Value::Object(Map::new()),
            false => self.render_output(&mut status),
        };
        if self.secrets.is_some() {
            self.mask_outcome(&mut output);
        }
        if self.journal.is_some() && !self.ended_before {
            self.record_run_end(status, &output);
        }
        self.emit(|| EventKind::RunEnded { status });
        // The working state is done with: free it before the records are
        // made, so a run of a million tasks does not hold both at its end.
        // (A small run skips the context: a fresh one costs more than it
        // frees.)
        if self.graph.instances.len() >= 4096 {
            self.free_context();
        }
        // (The joins' tables are kept, emptied, for the executor's next
        // run; see `pool.rs`.)
        self.graph.joins.clear();
        // (Only a run with `output` or splits made these.)
        if self.graph.terminal.capacity() > 0 || self.graph.route_joins.is_some() {
            self.free_terminal_and_route_joins();
        }
        self.graph.join_slot.clear();
        // (The actions' table too, filled for the next run of the plan
        // when it can serve one.)
        // The buffers an executor keeps for its next run stay (empty).
        self.free_big_buffers();
        let tasks_run = self.graph.instances.len();
        let (tasks, routes) = self.records(true);
        RunOutcome {
            run_id: self.run_id,
            parent: self.parent,
            workflow: self.env.plan.name().clone(),
            status,
            output,
            tasks,
            routes,
            errors: std::mem::take(&mut self.errors),
            stats: RunStats {
                tasks_run,
                actions_run: self.actions_run,
                duration: self.started.elapsed(),
            },
        }
    }

    /// Fails the run for the joins that some branch reached but that never
    /// fired, in route order (route 0 first).
    #[cold]
    #[inline(never)]
    fn unsatisfied_joins(&mut self) {
        let before = self.errors.len();
        if self.graph.joins_waiting > 0 {
            for j in 0..self.graph.joins.len() {
                if let Some(e) = self.never_satisfied(0, j, &self.graph.joins[j]) {
                    self.errors.push(e);
                }
            }
        }
        if let Some(route_joins) = self.graph.route_joins.as_deref() {
            let mut others: Vec<(u32, u32, &JoinState)> =
                route_joins.iter().map(|(&(j, r), js)| (r, j, js)).collect();
            others.sort_unstable_by_key(|&(r, j, _)| (r, j));
            let errors: Vec<RunError> = others
                .into_iter()
                .filter_map(|(r, j, js)| self.never_satisfied(r, j as usize, js))
                .collect();
            self.errors.extend(errors);
        }
        if self.errors.len() > before {
            self.state = State::Failing { canceled: false };
        }
    }

    /// The workflow's `output`, rendered in Orquesta's rolling context: each
    /// entry with the ones before it in `ctx()` (an entry may shadow a
    /// variable of the run), over the merge of the terminal entries'
    /// scopes. An entry that fails to render fails a run that succeeded.
    #[cold]
    #[inline(never)]
    fn render_output(&mut self, status: &mut RunStatus) -> Value {
        let mut output = Map::new();
        let plan = self.env.plan.clone();
        let mut ctx = self.terminal_context();
        for (name, value) in plan.output() {
            match value.render(&ctx) {
                Ok(v) => {
                    ctx.set_var(name.as_str(), v.clone());
                    output.insert(name.clone(), v);
                }
                Err(e) if *status == RunStatus::Succeeded => {
                    self.errors.push(RunError {
                        task: None,
                        message: plan.describe_error(&e, &format!("output.{name}")),
                    });
                    *status = RunStatus::Failed;
                }
                Err(_) => {}
            }
        }
        Value::Object(output)
    }

    /// Masks the secret inputs' values in the output and the errors.
    #[cold]
    #[inline(never)]
    fn mask_outcome(&mut self, output: &mut Value) {
        if let Some(secrets) = &self.secrets {
            if let Some(masked) = secrets.value(output) {
                *output = masked;
            }
            for e in &mut self.errors {
                secrets.mask(&mut e.message);
            }
        }
    }

    /// A big run's context freed before its records are made.
    #[cold]
    #[inline(never)]
    fn free_context(&mut self) {
        self.ctx = WorkflowContext::new(Value::Null, []);
    }

    /// The terminal entries and the other routes' joins freed.
    #[cold]
    #[inline(never)]
    fn free_terminal_and_route_joins(&mut self) {
        self.graph.terminal = Vec::new();
        self.graph.route_joins = None;
    }

    /// A journaled run's end, recorded.
    #[cold]
    #[inline(never)]
    fn record_run_end(&mut self, status: RunStatus, output: &Value) {
        let end = self.end_record(status, output);
        self.record_end(end);
    }

    /// The error of join `j` in `route` (its state `js`) that some branch
    /// reached but that never fired.
    fn never_satisfied(&self, route: u32, j: usize, js: &JoinState) -> Option<RunError> {
        if js.fired || js.arrived_count == 0 {
            return None;
        }
        let spec = &self.env.plan.join_specs()[j];
        let inbound = &spec.inbound;
        let missing: Vec<String> = (0..inbound.len())
            .filter(|&i| !js.branches.arrived(i))
            .map(|i| format!("`{}`", self.env.plan.task(inbound[i]).name))
            .collect();
        Some(RunError {
            task: Some(self.env.plan.task(spec.task).name.to_string()),
            message: format!(
                "join can never be satisfied{}: it needs {} of {} branches, and {} never arrived",
                self.in_route(route),
                spec.need,
                inbound.len(),
                missing.join(", ")
            ),
        })
    }

    /// The context `output` is rendered in: Orquesta's
    /// `get_workflow_terminal_context`, the terminal entries' scopes merged
    /// in the order Orquesta made the entries (see `Terminal`). The run's
    /// initial context when there is none.
    fn terminal_context(&mut self) -> WorkflowContext {
        if !self.state.canceled() {
            if let Some(id) = self.graph.last_open.take() {
                // The completion that ended the run.
                self.mark_terminal(id);
            }
        }
        let plan = &self.env.plan;
        let mut entries: Vec<&Terminal> = self.graph.terminal.iter().collect();
        // By name: compared as ranks, numbers in the plan, not as strings.
        entries.sort_by_key(|t| {
            let rank = plan.name_rank(t.task);
            (t.batch, t.instance.is_some(), rank, t.route, t.order)
        });
        match Scope::terminal(entries.into_iter().map(|t| &t.scope)) {
            Some(vars) => self.ctx.with_variables(vars),
            None => self.ctx.clone(),
        }
    }

    /// The task records and the route table, taking the instances. At the
    /// end of a run (`ended_run`), an instance that never finished is
    /// `canceled`; otherwise (a snapshot) it keeps its status.
    pub(super) fn records(&mut self, ended_run: bool) -> (Vec<TaskRecord>, Vec<Vec<String>>) {
        // A run without split tasks has one route, route 0: nothing to rank.
        let single = self.graph.routes.len() == 1;
        let rank = if single {
            Vec::new()
        } else {
            self.route_ranks()
        };
        // One route: its empty path, without `from_elem`'s call and loop.
        let mut routes = if single {
            vec![Vec::new()]
        } else {
            vec![Vec::new(); self.graph.routes.len()]
        };
        if !single {
            for (r, step) in self.graph.routes.iter().enumerate() {
                routes[rank[r] as usize] = step.path.to_vec();
            }
        }
        let started_sys = self.started_sys;
        let to_sys = move |at: Stamp| at.system_time(started_sys);
        let plan = &self.env.plan;
        let names = plan.task_index();
        let secrets = self.secrets.as_deref();
        // The record of instance `i` from its fields.
        let record = |i: usize,
                      (task, route, status, attempts, items): (
            TaskId,
            u32,
            TaskStatus,
            u32,
            Option<usize>,
        ),
                      (mut result, mut error, child_runs): (
            Option<Arc<Value>>,
            Option<String>,
            Vec<RunId>,
        ),
                      (started, ended): (Option<Stamp>, Option<Stamp>)| {
            let status = if status.is_terminal() || !ended_run {
                status
            } else {
                TaskStatus::Canceled
            };
            if let Some(secrets) = secrets {
                if let Some(masked) = result.as_deref().and_then(|r| secrets.value(r)) {
                    result = Some(Arc::new(masked));
                }
                if let Some(e) = error.as_mut() {
                    secrets.mask(e);
                }
            }
            TaskRecord {
                name: names
                    .name(task)
                    .unwrap_or_else(|| &plan.task(task).name)
                    .clone(),
                instance: i as u32,
                route: if single { 0 } else { rank[route as usize] },
                status,
                attempts,
                items,
                result,
                error,
                child_runs,
                started_at: started.map(to_sys),
                ended_at: ended.map(to_sys),
            }
        };
        // Each instance taken apart as it is read (`..` drops the rest
        // there): read once, where a pass through references and then the
        // instances' drop read a wide run's instances twice (≈ 1.4 read
        // misses a task on `wavefront`, the instances no longer in the
        // cache by the second pass).
        let take = |(
            i,
            Instance {
                task,
                route,
                status,
                attempts,
                started,
                ended,
                result,
                rare,
                ..
            },
        ): (usize, Instance)| {
            let (error, child_runs, items) = match rare {
                Some(rare) => (rare.error, rare.child_runs, rare.items.map(|it| it.total)),
                None => (None, Vec::new(), None),
            };
            record(
                i,
                (task, route, status, attempts, items),
                (result, error, child_runs),
                (started, ended),
            )
        };
        // A run whose buffers the executor keeps (see `pool.rs`) gives its
        // records a buffer of their own and keeps the instances' for the
        // next run: a fresh block the size of the records is, from the
        // second run on, the one the last run's outcome freed, where
        // shrinking the instances' block in place and allocating another
        // for the next run's instances cost ≈ 430 instructions a 4-task
        // run. A bigger run's instances are freed once their records are
        // made (a record, 136 bytes, does not fit in an instance's place).
        // One path for both: with two, the closure above was not inlined
        // into either (a call and a copy of each instance, ≈ 70
        // instructions a task on `fanout`).
        let tasks = self
            .graph
            .instances
            .drain(..)
            .enumerate()
            .map(take)
            .collect();
        if !self.buffers_kept() {
            self.graph.instances = Vec::new();
        }
        (tasks, routes)
    }

    /// The number each route gets in the outcome, by its number while the
    /// run went on.
    ///
    /// Routes are made in the order tasks happen to end, which varies from
    /// run to run when tasks run concurrently. The outcome numbers them in
    /// an order that depends only on the workflow, the one Orquesta's own
    /// tests see: by the level of the instance whose completion made the
    /// route, then the name of its task, the number of the route it ran
    /// in, the name of the split task, and the transition.
    fn route_ranks(&self) -> Vec<u32> {
        let n = self.graph.routes.len();
        let mut rank = vec![0u32; n];
        let mut order: Vec<u32> = (1..n as u32).collect();
        // A route's parent was made at a lower level, so it is ranked by
        // the time its children are sorted.
        order.sort_by_key(|&r| self.graph.routes[r as usize].level);
        let mut next = 1u32;
        let mut i = 0;
        while i < order.len() {
            let level = self.graph.routes[order[i] as usize].level;
            let end = i + order[i..]
                .iter()
                .take_while(|&&r| self.graph.routes[r as usize].level == level)
                .count();
            let group = &mut order[i..end];
            group.sort_by(|&a, &b| {
                let (sa, sb) = (
                    &self.graph.routes[a as usize],
                    &self.graph.routes[b as usize],
                );
                self.env
                    .plan
                    .task(sa.from)
                    .name
                    .cmp(&self.env.plan.task(sb.from).name)
                    .then(rank[sa.parent as usize].cmp(&rank[sb.parent as usize]))
                    .then(
                        self.env
                            .plan
                            .task(sa.target)
                            .name
                            .cmp(&self.env.plan.task(sb.target).name),
                    )
                    .then(sa.key.cmp(&sb.key))
                    .then(a.cmp(&b))
            });
            for &r in group.iter() {
                rank[r as usize] = next;
                next += 1;
            }
            i = end;
        }
        rank
    }
}
