//! The scheduler's working buffers, kept from one run to the next.
//!
//! A run grows a few queues and tables as it goes: the turn's work queue
//! and what rides beside it, the attempts in flight and their free slots,
//! the joins' states and the table that finds them, the task instances. A short run pays more
//! for allocating them (and for growing them, which copies what they hold)
//! than for using them. So when a run ends, its buffers, emptied, go back
//! to the executor (`RunHost::keep_run_buffers`) with its context maps,
//! and the executor's next run starts with them. They go boxed (the box
//! kept with them), so that each step on the way moves a pointer, not
//! their ≈ 300 bytes.
//! Buffers that grew past [`KEPT_BYTES`] in all are freed instead: one big
//! run does not pin its memory for good.
//!
//! The table of the run's actions by task is kept filled, with the plan it
//! was resolved for: the next run of the same plan that gets these buffers
//! takes its actions as they are instead of resolving them again (see
//! `ExecutorInner::run_env`). Only a table that can serve another run is
//! kept so: one resolved for a run that is only inspected holds stand-ins,
//! and one with a sub-workflow's action holds that run's children and the
//! executor itself.

use std::collections::VecDeque;
use std::sync::Arc;

use weft_core::Plan;

use super::env::Actions;
use super::scope::Scope;
use super::stamp::Stamp;
use super::{InFlight, Instance, JoinState, RouteStep, Scheduler, Work};
use crate::action::Action;
use crate::run::msg::{Done, SlotId};

/// The most room (in bytes) a run's buffers may hold in all and still be
/// kept: an executor keeps at most 16 sets, so at most 4 MiB.
const KEPT_BYTES: usize = 256 << 10;

/// The most places a kept set of inline attempts may have (each with its
/// waker: ≈ 100 bytes).
const KEPT_PLACES: usize = 1 << 11;

/// Over this many entries, the two largest buffers are freed before the
/// outcome is made (they will not be kept).
const KEPT_ENTRIES: usize = 1 << 12;

/// The buffers of a run that ended, empty, with their room kept.
#[derive(Default)]
pub(crate) struct RunBuffers {
    pub(super) queue: VecDeque<Work>,
    pub(super) scopes: VecDeque<(Scope, u32)>,
    pub(super) causes: VecDeque<Option<Stamp>>,
    pub(super) arrived: Vec<Done>,
    pub(super) slots: Vec<Option<InFlight>>,
    pub(super) free_slots: Vec<SlotId>,
    pub(super) joins: Vec<JoinState>,
    pub(super) join_slot: Vec<Option<u32>>,
    pub(super) routes: Vec<RouteStep>,
    /// The task instances (emptied by the outcome's records).
    pub(super) instances: Vec<Instance>,
    /// The run's actions by task (`RunEnv::actions`): those of
    /// `actions_of`, or empty when that is `None`.
    actions: Vec<Option<Arc<dyn Action>>>,
    /// The plan whose tasks' actions `actions` holds.
    actions_of: Option<Plan>,
    /// The set of attempts the run's task polled (current_thread), with
    /// its places' wakers, emptied.
    pub(super) inline: Option<Box<super::inline::Set>>,
    /// The maps of the ended run's context, emptied, for the next run's
    /// (`WorkflowContext::with_maps`); `None` when something still held a
    /// clone of that context, or its maps grew big. Kept here rather than
    /// in a pool of their own: a run takes both with one lock, and hands
    /// both back with one.
    pub(super) context: Option<weft_core::ContextMaps>,
}

impl RunBuffers {
    /// The table of the run's actions by task: `plan`'s actions with the
    /// plan they were resolved for (its tasks are `plan`'s), or empty with
    /// `None`.
    pub(crate) fn take_actions(
        &mut self,
        plan: &Plan,
    ) -> (Vec<Option<Arc<dyn Action>>>, Option<Plan>) {
        let mut actions = std::mem::take(&mut self.actions);
        // Only the same compiled plan: the plan kept here is a clone of it,
        // so its address cannot be another plan's. (Not the tasks' slice:
        // every plan without tasks has the same empty one.)
        let of = self
            .actions_of
            .take()
            .filter(|of| of.same(plan) && actions.len() == plan.tasks().len());
        if of.is_none() {
            actions.clear();
        }
        (actions, of)
    }
}

impl RunBuffers {
    /// Empties the buffers (and the actions' table with `actions`), their
    /// room kept. Out of line, and each clear only where there is
    /// something to drop: at a run's end the queues, the joins and the
    /// instances are empty already (the run drained them), and their drop
    /// loops stay off the path every run takes.
    #[inline(never)]
    fn clear(&mut self, actions: bool) {
        fn empty<T>(v: &mut Vec<T>) {
            if !v.is_empty() {
                v.clear();
            }
        }
        if !self.queue.is_empty() || !self.scopes.is_empty() || !self.causes.is_empty() {
            self.clear_queues();
        }
        empty(&mut self.arrived);
        self.slots.clear();
        self.free_slots.clear();
        empty(&mut self.joins);
        self.join_slot.clear();
        self.routes.clear();
        empty(&mut self.instances);
        if actions {
            self.actions.clear();
        }
    }

    /// The turn's queues emptied: a run that ended without draining them
    /// (it failed, or was canceled, with work queued).
    #[cold]
    #[inline(never)]
    fn clear_queues(&mut self) {
        self.queue.clear();
        self.scopes.clear();
        self.causes.clear();
    }
}

impl Scheduler {
    /// Frees the largest buffers that will not be kept, so that a run of a
    /// million tasks does not hold them while its outcome is made.
    pub(super) fn free_big_buffers(&mut self) {
        if self.slots.capacity() > KEPT_ENTRIES {
            self.slots = Vec::new();
        }
        if self.turn.queue.capacity() > KEPT_ENTRIES {
            self.turn.queue = VecDeque::new();
        }
    }

    /// Whether the buffers will be kept for another run: they hold room
    /// for at most [`KEPT_BYTES`] in all.
    pub(super) fn buffers_kept(&self) -> bool {
        fn bytes<T>(capacity: usize) -> usize {
            capacity.saturating_mul(std::mem::size_of::<T>())
        }
        let room = bytes::<Work>(self.turn.queue.capacity())
            + bytes::<(Scope, u32)>(self.turn.scopes.capacity())
            + bytes::<Option<Stamp>>(self.turn.causes.capacity())
            + bytes::<Done>(self.turn.arrived.capacity())
            + bytes::<Option<InFlight>>(self.slots.capacity())
            + bytes::<SlotId>(self.free_slots.capacity())
            + bytes::<JoinState>(self.graph.joins.capacity())
            + bytes::<Option<u32>>(self.graph.join_slot.capacity())
            + bytes::<RouteStep>(self.graph.routes.capacity())
            + bytes::<Instance>(self.graph.instances.capacity())
            + bytes::<Option<Arc<dyn Action>>>(self.env.actions.capacity());
        room <= KEPT_BYTES
    }

    /// The buffers, emptied, for another run; `None` when they hold room
    /// for more than [`KEPT_BYTES`] in all (they are freed with the
    /// scheduler).
    pub(super) fn take_buffers(&mut self) -> Option<Box<RunBuffers>> {
        if !self.buffers_kept() {
            return None;
        }
        // Into the box they came in (a new one for a run made without),
        // whose buffers are empty: `Scheduler::new` took them. Swapped, not
        // assigned: an assignment drops the value it replaces, and the drop
        // code of eleven buffers (and eleven clears after) made this the
        // biggest function a run goes through once, ≈ 4.4 KB of code.
        let mut b = self.buffers_box.take().unwrap_or_default();
        std::mem::swap(&mut b.queue, &mut self.turn.queue);
        std::mem::swap(&mut b.scopes, &mut self.turn.scopes);
        std::mem::swap(&mut b.causes, &mut self.turn.causes);
        std::mem::swap(&mut b.arrived, &mut self.turn.arrived);
        std::mem::swap(&mut b.slots, &mut self.slots);
        std::mem::swap(&mut b.free_slots, &mut self.free_slots);
        std::mem::swap(&mut b.joins, &mut self.graph.joins);
        std::mem::swap(&mut b.join_slot, &mut self.graph.join_slot);
        std::mem::swap(&mut b.routes, &mut self.graph.routes);
        std::mem::swap(&mut b.instances, &mut self.graph.instances);
        std::mem::swap(&mut b.actions, &mut self.env.actions);
        b.inline = self.inline.take_set(KEPT_PLACES);
        // The actions' table stays filled for the next run of the plan,
        // when it can serve one (see the module's comment).
        b.actions_of = (self.env.mode == Actions::Run
            && self.env.workflow_tasks.is_empty()
            && self.env.children.is_none())
        .then(|| self.env.plan.clone());
        b.clear(b.actions_of.is_none());
        Some(b)
    }
}
