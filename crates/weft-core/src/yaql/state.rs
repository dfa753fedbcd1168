//! What one evaluation reads and spends: the workflow's context, the
//! `Arc`s it pins so that values can borrow them, and its fuel.

use std::cell::{Cell, OnceCell};
use std::sync::Arc;

use serde_json::Value;

use super::{YErr, R};
use crate::context::WorkflowContext;
use crate::limits::ExpressionLimits;

/// The `Arc`s an evaluation pins, so that it can borrow their values.
pub(crate) type Pins = OnceCell<typed_arena::Arena<Arc<Value>>>;

/// What one evaluation reads and spends.
pub(crate) struct State<'a> {
    pub(crate) ctx: &'a WorkflowContext,
    pins: &'a Pins,
    fuel: Cell<u64>,
    pub(crate) max_bytes: usize,
}

impl<'a> State<'a> {
    pub(crate) fn new(ctx: &'a WorkflowContext, pins: &'a Pins) -> State<'a> {
        let limits = ExpressionLimits::current();
        State {
            ctx,
            pins,
            fuel: Cell::new(limits.fuel),
            max_bytes: limits.max_value_bytes,
        }
    }

    /// Keeps `v` alive for the evaluation, and lends it.
    pub(crate) fn pin(&self, v: Arc<Value>) -> &'a Value {
        let arena = self
            .pins
            .get_or_init(|| typed_arena::Arena::with_capacity(4));
        arena.alloc(v)
    }

    /// Spends `n` fuel.
    pub(crate) fn spend(&self, n: u64) -> R<()> {
        let left = self.fuel.get();
        if left < n {
            self.fuel.set(0);
            return Err(YErr::fuel());
        }
        self.fuel.set(left - n);
        Ok(())
    }

    /// Pays for a string of `len` bytes about to be made, and refuses one
    /// over `max_value_bytes`.
    pub(crate) fn text(&self, len: usize) -> R<()> {
        if len > self.max_bytes {
            return Err(YErr::too_large(self.max_bytes));
        }
        self.spend(len as u64 / 64)
    }

    /// Pays for reading `len` bytes of text (a scan, a search).
    pub(crate) fn read(&self, len: usize) -> R<()> {
        self.spend(len as u64 / 64)
    }
}
