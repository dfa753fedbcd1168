//! The attempts the run's own task polls instead of spawning them (see
//! `attempt.rs`): on a multi_thread runtime at most one, an attempt that
//! started while nothing else of the run was in flight; on a
//! current_thread runtime, where a task of its own would run on the same
//! thread anyway, every attempt without delay, timeout or global cap that
//! nothing holds.
//!
//! Many attempts are kept in a [`Set`] of places, each with a waker of its
//! own made once: waking it queues the place, and a poll of the set polls
//! the queued places only. A place is used again by the next attempt, with
//! its waker, so an attempt costs its own box and nothing else (a
//! `FuturesUnordered` made a node for each).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use futures::task::AtomicWaker;

use crate::attempt::InlineAttempt;

#[derive(Default)]
pub(super) struct Inline {
    /// The attempt polled alone (no set holds any).
    one: Option<InlineAttempt>,
    /// Made when a second attempt joins the first, and kept for the rest
    /// of the run (and, empty, for the executor's next run: see
    /// `pool.rs`).
    set: Option<Box<Set>>,
}

impl Inline {
    /// Starts from a set an earlier run left (emptied).
    pub(super) fn with_set(set: Option<Box<Set>>) -> Inline {
        Inline { one: None, set }
    }

    pub(super) fn push(&mut self, attempt: InlineAttempt) {
        let Some(first) = self.one.take() else {
            match &mut self.set {
                Some(set) if !set.is_empty() => set.push(attempt),
                _ => self.one = Some(attempt),
            }
            return;
        };
        let set = self.set.get_or_insert_with(|| Box::new(Set::new()));
        set.push(first);
        set.push(attempt);
    }

    /// Polls the attempts that can go on; those that end have reported
    /// (on the run's channel) and are dropped.
    #[inline]
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) {
        if let Some(attempt) = self.one.as_mut() {
            if Pin::new(attempt).poll(cx).is_ready() {
                self.one = None;
            }
        }
        if let Some(set) = self.set.as_mut() {
            if !set.is_empty() {
                set.poll(cx);
            }
        }
    }

    /// Drops every attempt (an abort); each reports its drop.
    pub(super) fn clear(&mut self) {
        self.one = None;
        if let Some(set) = self.set.as_mut() {
            set.clear();
        }
    }

    /// The set, emptied, for another run; `None` when it has none or grew
    /// past `max` places (it is freed).
    pub(super) fn take_set(&mut self, max: usize) -> Option<Box<Set>> {
        let mut set = self.set.take()?;
        set.clear();
        (set.places.len() <= max).then_some(set)
    }
}

/// Where woken places are queued, and the run's task to wake for them.
#[derive(Default)]
struct Queue {
    woken: Mutex<Vec<u32>>,
    run: AtomicWaker,
}

/// The waker of one place.
struct PlaceWake {
    queue: Arc<Queue>,
    place: u32,
    /// In the queue already: a second wake before its poll adds nothing.
    queued: AtomicBool,
}

impl Wake for PlaceWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue
                .woken
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.place);
            self.queue.run.wake();
        }
    }
}

struct Place {
    attempt: Option<InlineAttempt>,
    wake: Arc<PlaceWake>,
    waker: Waker,
}

pub(super) struct Set {
    places: Vec<Place>,
    free: Vec<u32>,
    /// Places holding an attempt.
    live: usize,
    queue: Arc<Queue>,
    /// The places taken from the queue, being polled (kept for its buffer).
    polling: Vec<u32>,
}

impl Set {
    fn new() -> Set {
        Set {
            places: Vec::new(),
            free: Vec::new(),
            live: 0,
            queue: Arc::new(Queue::default()),
            polling: Vec::new(),
        }
    }

    /// Takes a free place (or makes one) and queues it: the attempt is
    /// polled the next time the set is (in the run's task, which is
    /// running now, so no wake is needed).
    fn push(&mut self, attempt: InlineAttempt) {
        let place = match self.free.pop() {
            Some(p) => p,
            None => {
                let p = self.places.len() as u32;
                let wake = Arc::new(PlaceWake {
                    queue: self.queue.clone(),
                    place: p,
                    queued: AtomicBool::new(false),
                });
                let waker = Waker::from(wake.clone());
                self.places.push(Place {
                    attempt: None,
                    wake,
                    waker,
                });
                p
            }
        };
        let slot = &mut self.places[place as usize];
        slot.attempt = Some(attempt);
        self.live += 1;
        slot.wake.queued.store(true, Ordering::Release);
        self.queue
            .woken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(place);
    }

    /// Polls each place queued when the poll began, once; if more were
    /// woken meanwhile (one woke itself, or another), the run's task is
    /// woken to poll them next time, so a future that always wakes itself
    /// cannot hold the run here.
    fn poll(&mut self, cx: &mut Context<'_>) {
        self.queue.run.register(cx.waker());
        {
            let mut woken = self.queue.woken.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *woken, &mut self.polling);
        }
        for i in 0..self.polling.len() {
            let p = self.polling[i];
            let Some(place) = self.places.get_mut(p as usize) else {
                continue;
            };
            place.wake.queued.store(false, Ordering::Release);
            let Some(attempt) = place.attempt.as_mut() else {
                // A wake after its attempt ended.
                continue;
            };
            let mut own = Context::from_waker(&place.waker);
            if Pin::new(attempt).poll(&mut own).is_ready() {
                place.attempt = None;
                self.free.push(p);
                self.live -= 1;
            }
        }
        self.polling.clear();
        let more = !self
            .queue
            .woken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        if more {
            cx.waker().wake_by_ref();
        }
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn clear(&mut self) {
        // Only an aborted run leaves attempts here (a finished one polled
        // them all to their end): the places are visited only then.
        if self.live > 0 {
            for (p, place) in self.places.iter_mut().enumerate() {
                if place.attempt.take().is_some() {
                    self.free.push(p as u32);
                }
            }
            self.live = 0;
        }
        // A place is marked queued only by whoever then puts its number in
        // `woken`, and unmarked as it is taken from there to be polled: the
        // marked places are among those listed, and only they are visited
        // (a wide run's places are many lines to read again).
        let mut woken = self.queue.woken.lock().unwrap_or_else(|p| p.into_inner());
        for &p in woken.iter() {
            if let Some(place) = self.places.get(p as usize) {
                place.wake.queued.store(false, Ordering::Release);
            }
        }
        woken.clear();
    }
}
