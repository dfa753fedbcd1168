//! A small set of indices.

/// A set of small indices (the transitions a task took, the branches that
/// reached a join): one word, without allocating, for up to 64.
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

    pub(super) fn unset(&mut self, i: usize) {
        match self {
            Bits::Small(bits) => *bits &= !(1 << i),
            Bits::Large(v) => v[i] = false,
        }
    }

    /// No index is in the set.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Bits::Small(bits) => *bits == 0,
            Bits::Large(v) => !v.contains(&true),
        }
    }

    pub(super) fn get(&self, i: usize) -> bool {
        match self {
            Bits::Small(bits) => bits & (1 << i) != 0,
            Bits::Large(v) => v[i],
        }
    }
}
