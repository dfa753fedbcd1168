//! The scheduler's working buffers, kept from one run to the next.
//!
//! A run grows a few queues and tables as it goes: the turn's work queue
//! and what rides beside it, the attempts in flight and their free slots,
//! the joins' states and the table that finds them, the task instances. A short run pays more
//! for allocating them (and for growing them, which copies what they hold)
//! than for using them. So when a run ends, its buffers, emptied, go back
//! to the executor (`RunHost::keep_run_buffers`), as its context maps do,
//! and the executor's next run starts with them.
//! Buffers that grew past [`KEPT_BYTES`] in all are freed instead: one big
//! run does not pin its memory for good.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::scope::Scope;
use super::{InFlight, Instance, JoinState, RouteStep, Scheduler, Work};
use crate::action::Action;
use crate::run::msg::{Done, SlotId};

/// The most room (in bytes) a run's buffers may hold in all and still be
/// kept: an executor keeps at most 16 sets, so at most 4 MiB.
const KEPT_BYTES: usize = 256 << 10;

/// Over this many entries, the two largest buffers are freed before the
/// outcome is made (they will not be kept).
const KEPT_ENTRIES: usize = 1 << 12;

/// The buffers of a run that ended, empty, with their room kept.
#[derive(Default)]
pub(crate) struct RunBuffers {
    pub(super) queue: VecDeque<Work>,
    pub(super) scopes: VecDeque<(Scope, u32)>,
    pub(super) causes: VecDeque<Option<Instant>>,
    pub(super) arrived: Vec<Done>,
    pub(super) slots: Vec<Option<InFlight>>,
    pub(super) free_slots: Vec<SlotId>,
    pub(super) joins: Vec<JoinState>,
    pub(super) join_slot: Vec<Option<u32>>,
    pub(super) routes: Vec<RouteStep>,
    /// The task instances (emptied by the outcome's records).
    pub(super) instances: Vec<Instance>,
    /// The run's actions by task (`RunEnv::actions`).
    actions: Vec<Option<Arc<dyn Action>>>,
}

impl RunBuffers {
    /// The table of the run's actions by task, empty.
    pub(crate) fn take_actions(&mut self) -> Vec<Option<Arc<dyn Action>>> {
        std::mem::take(&mut self.actions)
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
            + bytes::<Option<Instant>>(self.turn.causes.capacity())
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
    pub(super) fn take_buffers(&mut self) -> Option<RunBuffers> {
        if !self.buffers_kept() {
            return None;
        }
        let mut b = RunBuffers {
            queue: std::mem::take(&mut self.turn.queue),
            scopes: std::mem::take(&mut self.turn.scopes),
            causes: std::mem::take(&mut self.turn.causes),
            arrived: std::mem::take(&mut self.turn.arrived),
            slots: std::mem::take(&mut self.slots),
            free_slots: std::mem::take(&mut self.free_slots),
            joins: std::mem::take(&mut self.graph.joins),
            join_slot: std::mem::take(&mut self.graph.join_slot),
            routes: std::mem::take(&mut self.graph.routes),
            instances: std::mem::take(&mut self.graph.instances),
            actions: std::mem::take(&mut self.env.actions),
        };
        b.queue.clear();
        b.scopes.clear();
        b.causes.clear();
        b.arrived.clear();
        b.slots.clear();
        b.free_slots.clear();
        b.joins.clear();
        b.join_slot.clear();
        b.routes.clear();
        b.instances.clear();
        b.actions.clear();
        Some(b)
    }
}
