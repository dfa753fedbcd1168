//! Transitions and joins: when an instance is complete its `next` entries
//! are evaluated (every `when` first, then the publishes of the taken ones,
//! in order, each entry's against the instance's own context), targets are
//! started in the scope the transition gives them or counted at their join,
//! and joins that can no longer be satisfied fail the run by name.

use std::sync::Arc;
use weft_core::engine::Target;
use weft_core::{CurrentTask, TaskId, TaskRun, TaskStatus, WorkflowContext};

use super::bits::Bits;
use super::scope::{Published, Scope};
use super::stamp::Stamp;
use super::{null_result, JoinState, RouteStep, Scheduler, Skipped, State, Terminal, Work};
use crate::event::EventKind;
use crate::run::msg::InstanceId;

impl Scheduler {
    /// A task instance is complete: record it, evaluate its transitions.
    pub(super) fn finish_instance(&mut self, id: InstanceId) {
        // The task's `TaskPlan` is read only where its flags say it is
        // needed, and the plan cloned (a reference count) only for a task
        // with transitions.
        let inst = &self.graph.instances[id.index()];
        let t = inst.task;
        let status = inst.status;
        let route = inst.route;
        let level = inst.level;
        let result = inst.result.clone().unwrap_or_else(null_result);
        let error = inst.error().map(str::to_owned);
        // Terminal events carry the moment the instance ended (taken in the
        // attempt's task), not the moment the scheduler got to it.
        let at = inst.ended.unwrap_or_else(|| self.stamp_now());
        self.ctx
            .set_task_result_at(self.env.plan.task_index(), t, result.clone());
        if self.env.plan.uses_task_status() {
            self.set_task_run(id, at, &result);
        }
        // The task's flags, not its `TaskPlan`: a task without `next`
        // reads no more of it, a plain one only its transitions.
        let flags = self.env.plan.flags(t);
        let (no_next, plain) = (flags.no_next(), flags.plain_next());
        if !self.subscribers.is_empty() {
            self.emit_finished(t, id, status, at, error.as_deref());
        }
        if status == TaskStatus::Canceled {
            return;
        }
        // This completion's number: the tasks it makes ready, and the
        // engine commands it takes, are ordered by it (see `Terminal`).
        self.graph.batch += 1;
        let batch = self.graph.batch;

        if no_next {
            if status.is_failure() {
                self.failed_at_end(t, status, error);
            }
            // No transition at all: a terminal entry in Orquesta.
            self.mark_terminal(id);
            return;
        }
        if plain {
            return self.take_plain(id, t, status, at, error);
        }
        self.take_transitions(id, (t, status, route, level, batch), at, result, error);
    }

    /// The status and run of instance `id`'s task in the context, for a
    /// plan whose expressions read them (`task(...)`, `task_status`).
    #[inline(never)]
    fn set_task_run(&mut self, id: InstanceId, at: Stamp, result: &Arc<serde_json::Value>) {
        let inst = &self.graph.instances[id.index()];
        let task = self.env.plan.task(inst.task);
        self.ctx.set_task_status(&task.name, inst.status);
        let started_sys = self.started_sys;
        let run = TaskRun::new(
            id.0,
            inst.route,
            inst.started.map(|s| s.system_time(started_sys)),
            Some(at.system_time(started_sys)),
            inst.status,
            result.clone(),
        )
        .with_items(inst.items().is_some());
        self.ctx.set_task_run(&task.name, &run);
    }

    /// A task without transitions failed: so does the run.
    #[cold]
    #[inline(never)]
    fn failed_at_end(&mut self, t: TaskId, status: TaskStatus, error: Option<String>) {
        let msg = error.unwrap_or_else(|| status.to_string());
        let name = self.env.plan.task(t).name.clone();
        self.fail_run(Some(&name), msg);
    }

    /// The transitions of instance `id` (of task `t`, ended with `status`,
    /// in `route` at `level`, completion `batch`) in general: `when`s
    /// evaluated, publishes, engine commands, joins declined. Out of line:
    /// a plain task's completion (`take_plain`) does not go through its
    /// code.
    #[inline(never)]
    fn take_transitions(
        &mut self,
        id: InstanceId,
        (t, status, route, level, batch): (TaskId, TaskStatus, u32, u32, u32),
        at: Stamp,
        result: Arc<serde_json::Value>,
        error: Option<String>,
    ) {
        let plan = self.env.plan.clone();
        let task = plan.task(t);
        let scope = self.graph.instances[id.index()].scope.clone();
        // The context with this task as `result()` and the status functions'
        // subject; made only when some `when` or publish needs more than
        // the status (`{{ succeeded() }}` is decided without it).
        let mut cur: Option<WorkflowContext> = None;
        let current = |ctx: &WorkflowContext| {
            let mut c = ctx.with_variables(scope.vars.clone());
            c.set_current_task(CurrentTask {
                name: task.name.clone(),
                status,
                result: result.clone(),
            });
            c.set_current_route(route);
            c
        };
        // Every `when` is evaluated first, against the context as the task
        // left it; only then are the matching transitions' publishes applied
        // (in order) and their targets started. So a publish of one
        // transition cannot change which other transitions match.
        let mut taken = Bits::new(task.next.len());
        let mut when_failed = false;
        for (ti, tr) in task.next.iter().enumerate() {
            let take = match (tr.taken_by_status(status), &tr.when) {
                (Some(b), _) => b,
                // (A transition without `when` is decided by the status.)
                (None, None) => true,
                (None, Some(w)) => {
                    let c = cur.get_or_insert_with(|| current(&self.ctx));
                    match w.eval_bool(c) {
                        Ok(b) => b,
                        Err(e) => {
                            when_failed = true;
                            self.fail_run(
                                Some(&task.name),
                                self.env
                                    .plan
                                    .describe_error(&e, &format!("next[{ti}].when")),
                            );
                            break;
                        }
                    }
                }
            };
            if take {
                taken.set(ti);
            }
        }
        // A failure is remediated only by a taken transition that goes
        // somewhere: a task or `noop`. `continue`, or a transition without
        // `do` (a publish alone), lets the failure stand: Orquesta's rule.
        let handled = when_failed
            || (0..task.next.len()).any(|ti| {
                taken.get(ti)
                    && task.next[ti]
                        .targets
                        .iter()
                        .any(|t| matches!(t, Target::Task(_) | Target::Noop))
            });
        // What the dispatches below were enabled by (see `queue_dispatch`).
        self.turn.cause = Some(at);
        // The engine commands taken (`continue`, also for a transition
        // without `do`; `noop`; `fail`), each with the scope it was given:
        // terminal entries in Orquesta.
        let mut commands: Vec<(&'static str, Scope)> = Vec::new();
        let mut goes_to_fail = false;
        'transitions: for ti in 0..task.next.len() {
            if when_failed || !taken.get(ti) {
                continue;
            }
            let tr = &task.next[ti];
            // Orquesta's `finalize_context`: each entry's publishes are
            // evaluated in order against the instance's context (never
            // another entry's publishes), each seeing the ones before it.
            let mut published: Option<Published> = None;
            if !tr.publish.is_empty() {
                let mut rolling = cur.get_or_insert_with(|| current(&self.ctx)).clone();
                let mut entry = Vec::with_capacity(tr.publish.len());
                for (k, v) in &tr.publish {
                    let set = match v.render(&rolling) {
                        Ok(value) => self
                            .count_var(k, &value)
                            .map(|()| value)
                            .map_err(|e| format!("next[{ti}].publish.{k}: {e}")),
                        Err(e) => Err(self
                            .env
                            .plan
                            .describe_error(&e, &format!("next[{ti}].publish.{k}"))),
                    };
                    match set {
                        Ok(value) => {
                            let key: Arc<str> = Arc::from(k.as_str());
                            let value = Arc::new(value);
                            rolling.set_var(key.clone(), value.clone());
                            entry.push((key, value));
                        }
                        Err(message) => {
                            self.fail_run(Some(&task.name), message);
                            break 'transitions;
                        }
                    }
                }
                published = Some(entry.into());
            }
            let out = scope.with(published.as_ref());
            if tr.targets.is_empty() {
                commands.push(("continue", out.clone()));
            }
            for target in &tr.targets {
                match *target {
                    Target::Task(n) => self.arrive(n, task.id, ti, route, level, out.clone()),
                    Target::Fail => {
                        goes_to_fail = true;
                        commands.push(("fail", out.clone()));
                        let why = match &error {
                            Some(e) => format!("transitioned to `fail` after: {e}"),
                            None => "transitioned to `fail`".to_owned(),
                        };
                        self.turn.fails_queued += 1;
                        self.turn
                            .queue
                            .push_back(Work::Fail(Box::new((task.name.clone(), why))));
                    }
                    Target::Noop => commands.push(("noop", out.clone())),
                    Target::Continue => commands.push(("continue", out.clone())),
                }
            }
        }
        self.turn.cause = None;
        // Orquesta makes the commands' entries in the order of its edges,
        // which is by target name.
        // Only `output` reads the terminal entries.
        if commands.is_empty() || self.env.plan.output().is_empty() {
            commands.clear();
        } else {
            commands.sort_by_key(|&(name, _)| name);
        }
        for (order, (_, scope)) in commands.into_iter().enumerate() {
            self.graph.terminal.push(Terminal {
                batch,
                task: task.id,
                route,
                order: order as u32,
                instance: None,
                scope,
            });
        }
        if status.is_failure() && !handled {
            let msg = error.unwrap_or_else(|| status.to_string());
            self.graph.instances[id.index()].unremediated = true;
            self.fail_run(Some(&task.name), msg);
        }
        // Every join this task leads to and did not arrive at is declined
        // (`decline` leaves the ones it arrived at alone).
        if !self.graph.join_slot.is_empty() {
            for tr in &task.next {
                for target in &tr.targets {
                    if let Target::Task(n) = *target {
                        self.decline(n, task.id, route);
                    }
                }
            }
        }
        // A task that completes once the run is over (it failed, or it is
        // still running when the run fails) is a terminal entry in Orquesta;
        // so is the one whose completion ends the run (see `finish`).
        if goes_to_fail || self.state != State::Running {
            self.mark_terminal(id);
        } else {
            self.graph.last_open = Some(id);
        }
    }

    /// The transitions of instance `id` of a task whose `next` is plain
    /// ([`TaskPlan::plain_next`]): what the general path of
    /// `finish_instance` does for them, without its context, publishes,
    /// engine commands or error handling of a `when`, none of which such
    /// transitions have.
    fn take_plain(
        &mut self,
        id: InstanceId,
        t: TaskId,
        status: TaskStatus,
        at: Stamp,
        error: Option<String>,
    ) {
        // The plan's table of plain edges, not the task's `TaskPlan`: its
        // transitions and their targets are allocations of their own, in
        // lines a wide run has long evicted by the task's end.
        let plan = self.env.plan.clone();
        let edges = plan.plain_edges(t);
        let inst = &self.graph.instances[id.index()];
        let (route, level) = (inst.route, inst.level);
        let scope = inst.scope.clone();
        self.turn.cause = Some(at);
        // Each `when` is decided by the status alone, so deciding them all
        // first (as the general path does) changes nothing. (A transition
        // is taken or not with all its edges, and has at least one.)
        let mut any_taken = false;
        let mut all_taken = true;
        for e in edges {
            if !e.taken_by(status) {
                all_taken = false;
                continue;
            }
            any_taken = true;
            self.arrive(
                e.target,
                t,
                e.transition as usize,
                route,
                level,
                scope.clone(),
            );
        }
        self.turn.cause = None;
        // Every target is a task: a taken transition remediates a failure.
        if status.is_failure() && !any_taken {
            let msg = error.unwrap_or_else(|| status.to_string());
            self.graph.instances[id.index()].unremediated = true;
            self.fail_run(Some(&plan.task(t).name), msg);
        }
        // The joins it did not arrive at are declined. When every
        // transition was taken while the run went on, it arrived at all
        // of them (and `decline` would leave each alone).
        if !self.graph.join_slot.is_empty() && (!all_taken || self.state != State::Running) {
            for e in edges {
                self.decline(e.target, t, route);
            }
        }
        if self.state != State::Running {
            self.mark_terminal(id);
        } else {
            self.graph.last_open = Some(id);
        }
    }

    /// The event that says how instance `id` of task `t` ended.
    fn emit_finished(
        &mut self,
        t: TaskId,
        id: InstanceId,
        status: TaskStatus,
        at: Stamp,
        error: Option<&str>,
    ) {
        let at = at.instant(self.started);
        let name = self.env.plan.task(t).name.clone();
        let error = error.map(str::to_owned);
        match status {
            TaskStatus::Succeeded => self.emit_at(at, || EventKind::TaskSucceeded {
                task: name,
                instance: id.0,
            }),
            TaskStatus::TimedOut => self.emit_at(at, || EventKind::TaskTimedOut {
                task: name,
                instance: id.0,
            }),
            TaskStatus::Canceled => {
                let reason = error.unwrap_or_default();
                self.emit_at(at, || EventKind::TaskSkipped {
                    task: name,
                    instance: Some(id.0),
                    reason,
                })
            }
            _ => {
                let e = error.unwrap_or_default();
                self.emit_at(at, || EventKind::TaskFailed {
                    task: name,
                    instance: id.0,
                    error: e,
                })
            }
        }
    }

    /// Instance `id`'s entry is terminal: its scope goes into `output`'s
    /// (not recorded for a workflow without `output`, which never reads it).
    pub(super) fn mark_terminal(&mut self, id: InstanceId) {
        self.graph.last_open = None;
        if self.env.plan.output().is_empty() {
            return;
        }
        let inst = &self.graph.instances[id.index()];
        self.graph.terminal.push(Terminal {
            batch: inst.batch,
            task: inst.task,
            route: inst.route,
            order: 0,
            instance: Some(id),
            scope: inst.scope.clone(),
        });
    }

    pub(super) fn join_of(&self, task: TaskId) -> Option<usize> {
        match self.graph.join_slot.get(task as usize) {
            Some(&Some(j)) => Some(j as usize),
            _ => None,
        }
    }

    /// Transition `ti` of `from` (an instance in `route`, at `level`) was
    /// taken to `target`, giving it `scope`: a join counts the arrival in
    /// that route and merges the scope into its own; a split task starts in
    /// a new route; any other task starts in the same route.
    pub(super) fn arrive(
        &mut self,
        target: TaskId,
        from: TaskId,
        ti: usize,
        route: u32,
        level: u32,
        scope: Scope,
    ) {
        if self.state != State::Running {
            self.skip(target);
            self.graph.skipped.push(Skipped::Arrival {
                target,
                from,
                ti: ti as u32,
                route,
                level,
                scope,
            });
            return;
        }
        let Some(j) = self.join_of(target) else {
            let route = if self.env.plan.is_split(target) {
                // Orquesta numbers a transition's edges to one target: the
                // first transition of `from` that names it is key 0.
                let key = self.env.plan.task(from).next[..ti]
                    .iter()
                    .filter(|tr| tr.targets.contains(&Target::Task(target)))
                    .count() as u32;
                self.new_route(route, from, key, target, level)
            } else {
                route
            };
            self.queue_dispatch(target, route, level + 1, scope);
            return;
        };
        // From the plan's table of joins, not the join task's plan.
        let spec = &self.env.plan.join_specs()[j];
        let (branches, pos) = (spec.inbound.len(), spec.inbound.binary_search(&from));
        let need = spec.need;
        let batch = self.graph.batch;
        let js = self.join_state(j, route, branches);
        let waited = !js.fired && js.arrived_count > 0;
        if js.fired {
            if js.fired_batch == batch {
                if let Some(merged) = js.scope.as_mut() {
                    merged.join(&scope);
                }
            }
            return;
        }
        js.level = js.level.max(level);
        // Orquesta's staged join: the first branch's list, then each later
        // one's appended (less the initial context), in arrival order.
        match js.scope.as_mut() {
            None => js.scope = Some(scope),
            Some(merged) => merged.join(&scope),
        }
        if let Ok(pos) = pos {
            if !js.branches.arrived(pos) {
                js.branches.arrive(pos);
                js.arrived_count += 1;
            }
        }
        if js.arrived_count >= need {
            js.fired = true;
            js.fired_batch = batch;
            let level = js.level + 1;
            if route == 0 && waited {
                self.graph.joins_waiting -= 1;
            }
            // The scope stays with the join until its instance is made
            // (see `fired_join`): this completion's later edges to it may
            // still add to it.
            self.queue_dispatch(target, route, level, Scope::default());
        } else {
            // What `check_join` tests first, on the state at hand: while no
            // branch declined (every join of a DAG whose tasks all
            // succeed), the call would return at once (the run goes on,
            // the join has not fired).
            let declined = !js.branches.none_declined();
            if route == 0 && !waited && js.arrived_count > 0 {
                self.graph.joins_waiting += 1;
            }
            if declined {
                self.check_join(j, route);
            }
        }
    }

    /// The state of join `task` in `route` once it fired, if `task` is a
    /// join.
    pub(super) fn fired_join(&mut self, task: TaskId, route: u32) -> Option<&mut JoinState> {
        let j = self.join_of(task)?;
        let js = if route == 0 {
            &mut self.graph.joins[j]
        } else {
            self.graph
                .route_joins
                .as_mut()?
                .get_mut(&(j as u32, route))?
        };
        js.fired.then_some(js)
    }

    /// The route that continues `route` through edge `key` of `from` into
    /// `target`; the same route when that edge is already on it.
    fn new_route(&mut self, route: u32, from: TaskId, key: u32, target: TaskId, level: u32) -> u32 {
        let mut r = route;
        while r != 0 {
            let step = &self.graph.routes[r as usize];
            if step.from == from && step.key == key {
                return route;
            }
            r = step.parent;
        }
        let mut path = self.graph.routes[route as usize].path.to_vec();
        path.push(format!("{}__t{key}", self.env.plan.task(from).name));
        if self.env.plan.uses_task_status() {
            let new = self.graph.routes.len() as u32;
            self.ctx.set_route_parent(new, route);
        }
        self.graph.routes.push(RouteStep {
            parent: route,
            from,
            key,
            target,
            level,
            path: Arc::from(path),
        });
        (self.graph.routes.len() - 1) as u32
    }

    /// The state of join `j` in `route`, made on the route's first use.
    #[inline]
    fn join_state(&mut self, j: usize, route: u32, branches: usize) -> &mut JoinState {
        if route == 0 {
            return &mut self.graph.joins[j];
        }
        self.route_join_state(j, route, branches)
    }

    /// The state of join `j` in `route` (not 0), if the route made it.
    fn route_join(&self, j: usize, route: u32) -> Option<&JoinState> {
        self.graph.route_joins.as_ref()?.get(&(j as u32, route))
    }

    fn route_join_state(&mut self, j: usize, route: u32, branches: usize) -> &mut JoinState {
        self.graph
            .route_joins
            .get_or_insert_with(Box::default)
            .entry((j as u32, route))
            .or_insert_with(|| JoinState::new(branches))
    }

    /// `from` finished in `route` without a transition to the join
    /// `target` (a no-op if `target` is no join, or `from` arrived at it).
    pub(super) fn decline(&mut self, target: TaskId, from: TaskId, route: u32) {
        let Some(j) = self.join_of(target) else {
            return;
        };
        let inbound = &self.env.plan.join_specs()[j].inbound;
        let (branches, pos) = (inbound.len(), inbound.binary_search(&from));
        let js = self.join_state(j, route, branches);
        if js.fired {
            return;
        }
        if let Ok(pos) = pos {
            if js.branches.arrived(pos) {
                return;
            }
            js.branches.decline(pos);
        }
        self.check_join(j, route);
    }

    #[inline]
    pub(super) fn check_join(&mut self, j: usize, route: u32) {
        let js = match route {
            0 => &self.graph.joins[j],
            _ => match self.route_join(j, route) {
                Some(js) => js,
                None => return,
            },
        };
        if js.fired || js.arrived_count == 0 || self.state != State::Running {
            return;
        }
        // No branch declined: every branch that has not arrived still may
        // (the count below would be all of them, never fewer than the join
        // needs: `JoinSpec::need` is at most its branches).
        if js.branches.none_declined() {
            return;
        }
        self.check_declined(j, route);
    }

    /// The rest of `check_join`, for a join some branch declined: fails
    /// the run when too few branches are left to satisfy it.
    fn check_declined(&mut self, j: usize, route: u32) {
        let js = match route {
            0 => &self.graph.joins[j],
            _ => match self.route_join(j, route) {
                Some(js) => js,
                None => return,
            },
        };
        let spec = &self.env.plan.join_specs()[j];
        let inbound = &spec.inbound;
        let open = (0..inbound.len())
            .filter(|&i| !js.branches.arrived(i) && !js.branches.declined(i))
            .count() as u32;
        if js.arrived_count + open >= spec.need {
            return;
        }
        let declined: Vec<String> = (0..inbound.len())
            .filter(|&i| js.branches.declined(i))
            .map(|i| format!("`{}`", self.env.plan.task(inbound[i]).name))
            .collect();
        let msg = format!(
            "join can never be satisfied{}: it needs {} of {} branches, and {} finished without a transition to it",
            self.in_route(route),
            spec.need,
            inbound.len(),
            declined.join(", ")
        );
        let name = self.env.plan.task(spec.task).name.clone();
        self.fail_run(Some(&name), msg);
    }

    /// ` in route (path)` for messages; empty for route 0.
    pub(super) fn in_route(&self, route: u32) -> String {
        if route == 0 {
            String::new()
        } else {
            format!(
                " in route ({})",
                self.graph.routes[route as usize].path.join(", ")
            )
        }
    }
}
