//! Dispatch: a task instance is created, its timeout evaluated, and its
//! first attempt (or its items) started; an attempt's input is rendered at
//! this moment and its action spawned in a tokio task of its own (or kept
//! for the run's task to poll: `inline.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use weft_core::engine::json_type_name;
use weft_core::engine::TaskPlan;
use weft_core::{TaskId, TaskStatus, ValueTemplate, WorkflowContext};

use super::launch::Launch;
use super::scope::Scope;
use super::stamp::Stamp;
use super::{null_result, Actions, Held, InFlight, Instance, Scheduler, Skipped, State, Work};
use crate::action::{Action, ActionError, ActionInput};
use crate::attempt::{PlainAttempt, Report, Spawned};
use crate::event::EventKind;
use crate::id::RunId;
use crate::run::msg::{AttemptKey, Done, InstanceId, ItemIndex, Outcome, SlotId};
use crate::secrets::Secrets;

impl Scheduler {
    pub(super) fn dispatch(
        &mut self,
        t: TaskId,
        route: u32,
        level: u32,
        cause: Option<Stamp>,
        scope: Scope,
        batch: u32,
    ) {
        // (What few dispatches meet — a stopping run, the instance limit,
        // an event subscriber, a timeout — is done out of line, so that a
        // plain dispatch goes through a few lines.)
        if self.state != State::Running {
            return self.skip_dispatch(t, route, level, scope);
        }
        if self.graph.instances.len() >= self.max_instances {
            return self.over_instance_limit(t);
        }
        let id = InstanceId(self.graph.instances.len() as u32);
        self.graph.instances.push(Instance {
            task: t,
            route,
            level,
            status: TaskStatus::Pending,
            unremediated: false,
            attempts: 0,
            batch,
            started: None,
            ended: None,
            result: None,
            rare: None,
            scope,
        });
        if let Some(cause) = cause {
            self.note_cause(id, cause);
        }
        if !self.subscribers.is_empty() {
            self.emit_scheduled(id, t, route);
        }
        // The task's flags, not its `TaskPlan`: the plan is read only for
        // a timeout, and cloned (a reference count) only for items.
        let flags = self.env.plan.flags(t);
        if flags.timeout() && !self.set_timeout(id, t) {
            return;
        }
        if !flags.with() {
            self.start_attempt(id, None, 1, None);
            return;
        }
        self.dispatch_items(id, t);
    }

    /// What enabled instance `id` (with metrics on).
    #[cold]
    #[inline(never)]
    fn note_cause(&mut self, id: InstanceId, cause: Stamp) {
        let causes = &mut self.graph.causes;
        causes.resize(id.index(), None);
        causes.push(Some(cause));
    }

    /// The `TaskScheduled` event of instance `id` of `t` in `route`.
    #[cold]
    #[inline(never)]
    fn emit_scheduled(&mut self, id: InstanceId, t: TaskId, route: u32) {
        let route = self.graph.routes[route as usize].path.clone();
        let task = self.env.plan.task(t).name.clone();
        self.emit(|| EventKind::TaskScheduled {
            task,
            instance: id.0,
            route,
        });
    }

    /// The timeout of instance `id` of `t` evaluated and set; `false` when
    /// it cannot be (the instance failed).
    #[cold]
    #[inline(never)]
    fn set_timeout(&mut self, id: InstanceId, t: TaskId) -> bool {
        let Some(timeout) = self.env.plan.task(t).timeout.as_ref() else {
            return true;
        };
        match timeout.eval(&self.ctx_of(id)) {
            Ok(s) if s > 0.0 && s.is_finite() => {
                self.graph.instances[id.index()].rare_mut().timeout =
                    Some(Duration::from_secs_f64(s.min(1e9)));
                true
            }
            Ok(s) => {
                self.fail_instance(id, format!("timeout: must be more than 0 seconds, not {s}"));
                false
            }
            Err(e) => {
                let msg = self.env.plan.describe_error(&e, "timeout");
                self.fail_instance(id, msg);
                false
            }
        }
    }

    /// Instance `id` of the with-items task `t` starts its items.
    #[cold]
    #[inline(never)]
    fn dispatch_items(&mut self, id: InstanceId, t: TaskId) {
        let plan = self.env.plan.clone();
        if let Some(with) = &plan.task(t).with {
            self.start_items(id, with);
        }
    }

    /// A dispatch in a run that is stopping: the task is skipped, and
    /// kept for a re-run.
    #[cold]
    #[inline(never)]
    fn skip_dispatch(&mut self, t: TaskId, route: u32, level: u32, scope: Scope) {
        self.skip(t);
        self.graph.skipped.push(Skipped::Dispatch {
            task: t,
            route,
            level,
            scope,
        });
    }

    /// A dispatch over the run's instance limit: the run fails, and the
    /// task is skipped.
    #[cold]
    #[inline(never)]
    fn over_instance_limit(&mut self, t: TaskId) {
        let task = self.env.plan.task(t).name.clone();
        self.fail_run(
            Some(&task),
            format!(
                "would start task instance number {} but the limit is {}: a loop that never ends? \
                 Raise it with ExecutorBuilder::max_task_instances",
                self.graph.instances.len() + 1,
                self.max_instances
            ),
        );
        // Every satisfied transition shows in the events as scheduled or
        // skipped; this one is skipped, and the run is now failing.
        let reason = format!(
            "the task instance limit ({}) was reached",
            self.max_instances
        );
        self.emit(|| EventKind::TaskSkipped {
            task,
            instance: None,
            reason,
        });
    }

    pub(super) fn fail_instance(&mut self, id: InstanceId, message: String) {
        let inst = &mut self.graph.instances[id.index()];
        inst.status = TaskStatus::Failed;
        inst.result = Some(Arc::new(serde_json::json!({ "error": message })));
        inst.set_error(Some(message));
        inst.ended = Some(Stamp::new(self.started, Instant::now()));
        self.turn.queue.push_back(Work::Finish(id));
    }

    /// Renders the input and spawns one attempt; a render error completes
    /// the attempt at once as a failure.
    pub(super) fn start_attempt(
        &mut self,
        id: InstanceId,
        item: Option<ItemIndex>,
        attempt: u32,
        retry_delay: Option<Duration>,
    ) {
        let key = AttemptKey {
            instance: id,
            item,
            attempt,
        };
        if self.paused {
            self.held.push(Held {
                key,
                delay: retry_delay,
            });
            return;
        }
        // Borrowed, not cloned: only fields are written below until the
        // launch, so the plan's reference count is left alone.
        let inst = &self.graph.instances[id.index()];
        // The task's id from the instance, not its `TaskPlan`: a line of
        // the plan that the attempt does not otherwise read.
        let t = inst.task;
        // Its flags say which of the `TaskPlan`'s fields this attempt
        // reads (most tasks: none).
        let flags = self.env.plan.flags(t);
        let timeout = inst.timeout();
        let mut ctx = self.ctx.with_variables(inst.scope.vars.clone());
        if let Some(m) = self.metrics.as_deref_mut() {
            m.context_cloned();
        }
        if let Some(item) = item {
            if let Some(items) = inst.items() {
                ctx.set_current_item(items.list[item.index()].clone(), item.index());
            }
        }
        ctx.set_current_route(inst.route);
        // Borrowed too: the run's own action is cloned only for a launch
        // that is held (an `Arc` count up and down on every attempt).
        let dynamic;
        let dynamic_action = match flags.dynamic_action() {
            true => self.env.plan.task(t).dynamic_action.as_deref(),
            false => None,
        };
        let action = match (&self.env.actions[t as usize], dynamic_action) {
            (Some(action), _) => action,
            (None, Some(expr)) => match self.dynamic_action(self.env.plan.task(t), expr, &ctx) {
                Ok(action) => {
                    dynamic = action;
                    &dynamic
                }
                Err(msg) => return self.fail_at_once(key, msg),
            },
            (None, None) => {
                // A task without an action routes only: it succeeds with null.
                return self.complete_at_once(key, Outcome::Ok(null_result()));
            }
        };
        let input = if flags.empty_input() {
            // Cloning an empty map still costs; most tasks without `input`
            // land here (and build no `Result`, whose error is big).
            Value::Object(Map::new())
        } else {
            let task = self.env.plan.task(t);
            match task.input.render(&ctx).and_then(|v| input_map(task, v)) {
                Ok(v) => v,
                Err(e) => {
                    let msg = self.env.plan.describe_error(&e, "input");
                    return self.fail_at_once(key, msg);
                }
            }
        };
        let secret = action.secret_values(&input);
        if !secret.is_empty() {
            Secrets::learn(&mut self.secrets, &secret);
        }
        let delay = match retry_delay {
            Some(d) => Some(d),
            None if attempt == 1 && flags.delay() => {
                match self.env.plan.task(t).delay.as_ref().map(|d| d.eval(&ctx)) {
                    None => None,
                    Some(Ok(s)) if s >= 0.0 && s.is_finite() => {
                        Some(Duration::from_secs_f64(s.min(1e9)))
                    }
                    Some(Ok(s)) => {
                        let msg = format!("delay: must be 0 or more seconds, not {s}");
                        return self.fail_at_once(key, msg);
                    }
                    Some(Err(e)) => {
                        let msg = self.env.plan.describe_error(&e, "delay");
                        return self.fail_at_once(key, msg);
                    }
                }
            }
            None => None,
        }
        .filter(|d| !d.is_zero());

        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                SlotId((self.slots.len() - 1) as u32)
            }
        };
        let workflow = self.env.workflow_tasks.get(t as usize).is_some_and(|&w| w);
        let inst = &mut self.graph.instances[id.index()];
        inst.status = TaskStatus::Running;
        inst.attempts = inst.attempts.max(attempt);
        let (instance, index, _) = key.parts();
        if workflow {
            inst.rare_mut()
                .child_runs
                .push(RunId::child(self.run_id, instance, index, attempt));
        }
        self.in_flight += 1;
        self.actions_run += 1;
        self.turn.budget = self.turn.budget.saturating_sub(1);
        // Most attempts are plain: no delay, timeout or global cap, and no
        // journal that holds their launch (which a replay's always does,
        // so that no record says how a plain one ended). Their slot is
        // written once, with the task spawned.
        let held = self.journal.as_deref().is_some_and(|j| j.holds_launches());
        let plain = !held && delay.is_none() && timeout.is_none() && self.env.permits.is_none();
        if !plain {
            self.slots[slot.index()] = Some(InFlight {
                task: None,
                instance: id,
                item,
            });
            if let Some(j) = self.journal.as_deref_mut() {
                if j.recorded_start(key, slot) {
                    // A replay, and the journal says how this attempt ended:
                    // it holds its slot until that record, and never runs.
                    return;
                }
            }
        }
        let notify = !self.subscribers.is_empty();
        // The name from the plan's table of names (16 bytes a task), not
        // from the `TaskPlan`, which this attempt has not read.
        let plan = &self.env.plan;
        let name = match plan.task_index().name(t) {
            Some(name) => name,
            None => &plan.task(t).name,
        };
        let span = tracing::info_span!(
            "task",
            task = %name,
            index = tracing::field::Empty,
            attempt,
            outcome = tracing::field::Empty
        );
        if let Some(item) = item {
            span.record("index", item.0);
        }
        // The action's input is made where it is passed on (an argument,
        // a field of the `Launch`), not first on the stack and then copied
        // (184 bytes) into place.
        let task_name = name.clone();
        let run_id = self.run_id;
        let action_input = move || ActionInput {
            input,
            context: ctx,
            task: task_name,
            instance,
            index,
            attempt,
            run_id,
        };
        if plain {
            // Spawned here, from the borrowed action, with no `Launch`
            // built and moved on the way.
            // The only attempt in flight (on current_thread, every one) is
            // polled by the run's task, unless the executor spawns them all.
            let inline = self.inline_all || (self.in_flight == 1 && !self.env.spawn_every_attempt);
            let report = Report::new(slot, key, self.tx.clone());
            let plain = PlainAttempt::new(report, notify, span, inline);
            let task = match action.spawn_plain(action_input(), plain) {
                Spawned::Task(task) => {
                    self.spawned = true;
                    Some(task)
                }
                Spawned::Reported => None,
                Spawned::Inline(attempt) => {
                    self.inline.push(attempt);
                    None
                }
            };
            self.slots[slot.index()] = Some(InFlight {
                task,
                instance: id,
                item,
            });
            return;
        }
        let launch = Launch {
            slot,
            key,
            action: action.clone(),
            input: action_input(),
            delay,
            timeout,
            limit: self.env.permits.clone(),
            stop: None,
            notify,
            span,
        };
        self.launch_other(launch);
    }

    /// An attempt with a delay, a timeout or the global cap, or one whose
    /// launch the journal holds: launched through its [`Launch`]. Out of
    /// line, so that the code of the plain attempts' path (most of them)
    /// lies together: a chain's hop runs more code than the instruction
    /// cache holds, and each line of it that holds no other code is one
    /// miss fewer a hop.
    #[cold]
    #[inline(never)]
    fn launch_other(&mut self, mut launch: Launch) {
        if launch.delay.is_some() || launch.limit.is_some() {
            launch.stop = Some(self.stop.get_or_insert_with(Default::default).clone());
        }
        self.launch(launch);
    }

    /// Ends attempt `key` before it starts, as a failure with `message`
    /// (an input, a delay or a dynamic action that cannot be made): its
    /// completion is queued, as if it had come from an attempt's task.
    #[cold]
    fn fail_at_once(&mut self, key: AttemptKey, message: String) {
        self.complete_at_once(key, Outcome::Err(ActionError::new(message)));
    }

    /// Ends attempt `key` with `outcome` without running anything.
    fn complete_at_once(&mut self, key: AttemptKey, outcome: Outcome) {
        self.turn.queue.push_back(Work::Completed(Done {
            slot: None,
            key,
            outcome,
            started: None,
            ended: Instant::now(),
        }));
    }

    /// The action a dynamic `action:` names, rendered against the
    /// instance's context and resolved as a static name is when the run
    /// starts; or the task's error.
    fn dynamic_action(
        &self,
        task: &TaskPlan,
        expr: &ValueTemplate,
        ctx: &WorkflowContext,
    ) -> Result<Arc<dyn Action>, String> {
        let located = |message: String| {
            let e = weft_core::Error::new(weft_core::ErrorKind::Validation, message)
                .with_task(&*task.name)
                .with_field("action");
            self.env.plan.describe_error(&e, "action")
        };
        let name = match expr.render(ctx) {
            Ok(Value::String(name)) => name,
            Ok(other) => {
                return Err(located(format!(
                    "the expression yields {} `{other}`, not an action's name: make it yield a string such as `core.echo`",
                    json_type_name(&other)
                )))
            }
            Err(e) => return Err(self.env.plan.describe_error(&e, "action")),
        };
        if let Some(action) = self.env.host.action(name.trim()) {
            // What compiling refuses for a static name fails the task here.
            if let Some(reason) = action.unavailable() {
                return Ok(failing(located(format!(
                    "action `{name}` cannot be used: {reason}"
                ))));
            }
            return Ok(action);
        }
        if self.env.mode == Actions::Inspect {
            // The journal says how the attempt ended, whatever it ran.
            return Ok(failing("this run is only being inspected".to_owned()));
        }
        // A name that resolves to nothing fails in an attempt of its own, so
        // that the journal records the outcome: a replay by an executor
        // without these actions reads it there instead of looking again.
        let message = if self.env.host.is_workflow(name.trim()) {
            format!(
                "`{name}` is a workflow, and a workflow named by an expression is not supported by weft yet: name it in `action` without an expression"
            )
        } else {
            format!(
                "unknown action `{name}` (the value of the expression): register it with the executor, or correct the expression"
            )
        };
        Ok(failing(located(message)))
    }

    /// Spawns a launch now, or holds it: until the turn's journal records
    /// are committed (sync durability), or until the journal being
    /// replayed says how it ended.
    // Inlined into `start_attempt`, so that the launch is built where it
    // is spawned instead of copied (300 bytes) on the way. (The plain
    // attempts that nothing holds, most of them, do not come here.)
    #[inline]
    pub(super) fn launch(&mut self, launch: Launch) {
        if let Some(j) = self.journal.as_mut() {
            if j.holds_launches() {
                j.hold(launch);
                return;
            }
        }
        let slot = launch.slot.index();
        let handle = launch.spawn(&self.tx);
        if let Some(s) = self.slots[slot].as_mut() {
            s.task = handle;
        }
    }
}

/// A rendered input is a map: a static one always is; one expression that
/// yields the whole input (Orquesta's dynamic input) must be.
fn input_map(task: &TaskPlan, v: Value) -> Result<Value, weft_core::Error> {
    if v.is_object() {
        return Ok(v);
    }
    Err(weft_core::Error::new(
        weft_core::ErrorKind::Validation,
        format!(
            "the expression yields {}, not a map of name to value: make it yield a map such as `{{\"message\": \"hi\"}}`",
            json_type_name(&v)
        ),
    )
    .with_task(&*task.name)
    .with_field("input"))
}

/// An action that fails with `message` when it runs.
fn failing(message: String) -> Arc<dyn Action> {
    Arc::new(crate::action::FnAction(move |_: ActionInput| {
        let e = ActionError::new(message.clone());
        async move { Err(e) }
    }))
}
