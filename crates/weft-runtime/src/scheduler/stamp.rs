//! Moments of a run as its task instances keep them: nanoseconds since the
//! run's start, in 8 bytes, where an `Option<Instant>` takes 16.
//!
//! A wide run makes an instance per task and reads each several times
//! (dispatch, completion, transitions, the outcome): every byte of an
//! instance is memory traffic per task. An instance holds three moments
//! (its first attempt's start, its end, and what enabled it); as stamps
//! they take 24 bytes instead of 48.
//!
//! A moment before the run's start (a journal's record, written on a clock
//! that has since moved back) is the start, as the outcome's task records
//! and task runs counted it (`saturating_duration_since`); a task's end
//! event and the `dispatched` metric get it clamped as well.

use std::num::NonZeroU64;
use std::time::{Duration, Instant, SystemTime};

/// A moment of a run: nanoseconds since its start, plus one, so that an
/// `Option<Stamp>` is 8 bytes. Good for 584 years of a run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) struct Stamp(NonZeroU64);

const _: () = assert!(std::mem::size_of::<Option<Stamp>>() == 8);

impl Stamp {
    /// `at` on the clock of a run that started at `start` (the start, for
    /// a moment before it).
    #[inline]
    pub(super) fn new(start: Instant, at: Instant) -> Stamp {
        let since = at.saturating_duration_since(start);
        let nanos = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX);
        Stamp(NonZeroU64::MIN.saturating_add(nanos))
    }

    /// The time from the run's start to this moment.
    #[inline]
    pub(super) fn since_start(self) -> Duration {
        Duration::from_nanos(self.0.get() - 1)
    }

    /// This moment as an `Instant`, for a run that started at `start`.
    #[inline]
    pub(super) fn instant(self, start: Instant) -> Instant {
        start + self.since_start()
    }

    /// This moment on the system clock, for a run that started at `start`
    /// by it.
    #[inline]
    pub(super) fn system_time(self, start: SystemTime) -> SystemTime {
        start + self.since_start()
    }

    /// The time from `earlier` to this moment (zero if it is later).
    #[inline]
    pub(super) fn saturating_since(self, earlier: Stamp) -> Duration {
        Duration::from_nanos(self.0.get().saturating_sub(earlier.0.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_comes_back_as_it_went_in() {
        let start = Instant::now();
        let at = start + Duration::new(3, 141_592_653);
        let s = Stamp::new(start, at);
        assert_eq!(s.instant(start), at);
        assert_eq!(s.since_start(), Duration::new(3, 141_592_653));
        let sys = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(s.system_time(sys), sys + Duration::new(3, 141_592_653));
    }

    #[test]
    fn a_moment_before_the_start_is_the_start() {
        let start = Instant::now() + Duration::from_secs(10);
        let s = Stamp::new(start, Instant::now());
        assert_eq!(s.since_start(), Duration::ZERO);
        assert_eq!(s.instant(start), start);
    }

    #[test]
    fn stamps_order_and_subtract_as_their_moments() {
        let start = Instant::now();
        let a = Stamp::new(start, start + Duration::from_micros(5));
        let b = Stamp::new(start, start + Duration::from_micros(12));
        assert!(a < b);
        assert_eq!(b.saturating_since(a), Duration::from_micros(7));
        assert_eq!(a.saturating_since(b), Duration::ZERO);
    }
}
