//! The attempts the run's own task polls instead of spawning them (see
//! `attempt.rs`): on a multi_thread runtime at most one, an attempt that
//! started while nothing else of the run was in flight; on a
//! current_thread runtime, where a task of its own would run on the same
//! thread anyway, every attempt without delay, timeout or global cap that
//! nothing holds.

use std::future::Future;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::attempt::InlineAttempt;

#[derive(Default)]
pub(super) enum Inline {
    #[default]
    None,
    One(InlineAttempt),
    /// Made when a second attempt joins the first, and kept for the rest
    /// of the run (empty or not): it polls only the attempts woken since
    /// its last poll.
    Many(Box<FuturesUnordered<InlineAttempt>>),
}

impl Inline {
    pub(super) fn push(&mut self, attempt: InlineAttempt) {
        match std::mem::take(self) {
            Inline::None => *self = Inline::One(attempt),
            Inline::One(first) => {
                let set = FuturesUnordered::new();
                set.push(first);
                set.push(attempt);
                *self = Inline::Many(Box::new(set));
            }
            Inline::Many(set) => {
                set.push(attempt);
                *self = Inline::Many(set);
            }
        }
    }

    /// Polls the attempts that can go on; those that end have reported
    /// (on the run's channel) and are dropped.
    #[inline]
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) {
        match self {
            Inline::None => {}
            Inline::One(attempt) => {
                if std::pin::Pin::new(attempt).poll(cx).is_ready() {
                    *self = Inline::None;
                }
            }
            Inline::Many(set) => while let Poll::Ready(Some(())) = set.poll_next_unpin(cx) {},
        }
    }

    /// Drops every attempt (an abort); each reports its drop.
    pub(super) fn clear(&mut self) {
        match self {
            Inline::Many(set) => set.clear(),
            _ => *self = Inline::None,
        }
    }
}
