//! Small sets of indices.

/// A set of small indices (the transitions a task took): one word,
/// without allocating, for up to 64.
pub(super) enum Bits {
    Small(u64),
    Large(Vec<bool>),
}

impl Bits {
    pub(super) fn new(n: usize) -> Bits {
        if n <= 64 {
            Bits::Small(0)
        } else {
            Bits::Large(vec![false; n])
        }
    }

    pub(super) fn set(&mut self, i: usize) {
        match self {
            Bits::Small(bits) => *bits |= 1 << i,
            Bits::Large(v) => v[i] = true,
        }
    }

    pub(super) fn get(&self, i: usize) -> bool {
        match self {
            Bits::Small(bits) => bits & (1 << i) != 0,
            Bits::Large(v) => v[i],
        }
    }
}

/// The branches of a join that arrived, and those that declined (finished
/// without a transition to it): two words inline for up to 64 branches,
/// else one box of a byte a branch. One enum for both sets keeps a join's
/// state small (a wide run has a state per join task, read at every
/// arrival).
pub(super) enum Branches {
    Small { arrived: u64, declined: u64 },
    Large(Box<[u8]>),
}

impl Branches {
    const ARRIVED: u8 = 1;
    const DECLINED: u8 = 2;

    pub(super) fn new(n: usize) -> Branches {
        if n <= 64 {
            Branches::Small {
                arrived: 0,
                declined: 0,
            }
        } else {
            Branches::Large(vec![0; n].into_boxed_slice())
        }
    }

    pub(super) fn arrived(&self, i: usize) -> bool {
        match self {
            Branches::Small { arrived, .. } => arrived & (1 << i) != 0,
            Branches::Large(v) => v[i] & Self::ARRIVED != 0,
        }
    }

    pub(super) fn declined(&self, i: usize) -> bool {
        match self {
            Branches::Small { declined, .. } => declined & (1 << i) != 0,
            Branches::Large(v) => v[i] & Self::DECLINED != 0,
        }
    }

    /// Branch `i` arrived: it no longer counts as declined.
    pub(super) fn arrive(&mut self, i: usize) {
        match self {
            Branches::Small { arrived, declined } => {
                *arrived |= 1 << i;
                *declined &= !(1 << i);
            }
            Branches::Large(v) => v[i] = Self::ARRIVED,
        }
    }

    pub(super) fn decline(&mut self, i: usize) {
        match self {
            Branches::Small { declined, .. } => *declined |= 1 << i,
            Branches::Large(v) => v[i] |= Self::DECLINED,
        }
    }

    /// No branch declined.
    pub(super) fn none_declined(&self) -> bool {
        match self {
            Branches::Small { declined, .. } => *declined == 0,
            Branches::Large(v) => v.iter().all(|b| b & Self::DECLINED == 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Branches;

    /// Inline (64 branches) and boxed (65) sets answer alike: an arrival
    /// takes its branch out of the declined ones.
    #[test]
    fn branches_inline_and_boxed_agree() {
        for n in [64, 65] {
            let mut b = Branches::new(n);
            assert_eq!(matches!(b, Branches::Large(_)), n > 64);
            let last = n - 1;
            assert!(b.none_declined() && !b.arrived(last) && !b.declined(last));
            b.decline(last);
            b.decline(3);
            assert!(!b.none_declined() && b.declined(last) && !b.arrived(last));
            b.arrive(last);
            assert!(b.arrived(last) && !b.declined(last), "{n} branches");
            assert!(b.declined(3) && !b.arrived(3) && !b.none_declined());
            b.arrive(3);
            assert!(b.none_declined(), "{n} branches");
            assert!(!b.arrived(0) && !b.declined(0));
        }
    }
}
