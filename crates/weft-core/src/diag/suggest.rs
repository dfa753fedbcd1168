//! "Did you mean" hints: the closest known name to a misspelt one, within a
//! budget of work so that a generated file with thousands of mistakes does
//! not cost thousands of full scans.

/// The closest candidate to `name` by edit distance, if it is close.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    Suggester::new(SUGGEST_BUDGET).suggest(name, candidates)
}

/// Work (candidates looked at plus edit-distance cells) one [`Suggester`]
/// may spend: enough for every typo in a hand-written workflow, and a
/// bound when a generated file has thousands of unknown names among
/// thousands of tasks (each suggestion scans every candidate).
pub(crate) const SUGGEST_BUDGET: usize = 4_000_000;

/// Names longer than this get no suggestion: a typo is made in a name
/// people type, and the distance costs the product of the two lengths.
const SUGGEST_MAX_CHARS: usize = 64;

/// Finds close names for "did you mean" hints within a fixed budget of
/// work; once it is spent, it suggests nothing more.
pub(crate) struct Suggester {
    budget: usize,
    before: Vec<usize>,
    prev: Vec<usize>,
    cur: Vec<usize>,
    chars: Vec<char>,
}

impl Suggester {
    pub(crate) fn new(budget: usize) -> Suggester {
        Suggester {
            budget,
            before: Vec::new(),
            prev: Vec::new(),
            cur: Vec::new(),
            chars: Vec::new(),
        }
    }

    /// The closest candidate to `name`, if one is close (an edit distance
    /// of at most a third of the longer name, and at least 1).
    pub(crate) fn suggest<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        self.best(name, candidates).map(|(c, _)| c)
    }

    /// The closest candidate to `name`, if one is close and no other is as
    /// close (candidates are expected to be distinct).
    pub(crate) fn suggest_unique<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        match self.best(name, candidates) {
            Some((c, false)) => Some(c),
            _ => None,
        }
    }

    /// The closest candidate, and whether another was as close.
    fn best<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<(&'a str, bool)> {
        let a: Vec<char> = name.chars().take(SUGGEST_MAX_CHARS + 1).collect();
        if a.len() > SUGGEST_MAX_CHARS {
            return None;
        }
        let mut best: Option<(usize, &str, bool)> = None;
        for c in candidates {
            self.budget = self.budget.checked_sub(1)?;
            // A name of n bytes has between n/4 and n chars, and the
            // distance is at least the difference in length: most
            // candidates are ruled out without counting their chars.
            let limit_for = |len: usize| (a.len().max(len) / 3).max(1);
            if c.len() / 4 > SUGGEST_MAX_CHARS || c.len() / 4 > a.len() + limit_for(c.len()) {
                continue;
            }
            self.chars.clear();
            self.chars.extend(c.chars().take(SUGGEST_MAX_CHARS + 1));
            let b_len = self.chars.len();
            if b_len > SUGGEST_MAX_CHARS {
                continue;
            }
            let limit = limit_for(b_len);
            if a.len().abs_diff(b_len) > limit {
                continue;
            }
            self.budget = self.budget.checked_sub(a.len() * b_len)?;
            let d = self.distance(&a);
            if d > limit {
                continue;
            }
            match best {
                Some((bd, _, ref mut tied)) if d == bd => *tied = true,
                Some((bd, _, _)) if d > bd => {}
                _ => best = Some((d, c, false)),
            }
        }
        best.map(|(_, c, tied)| (c, tied))
    }

    /// Edit distance between `a` and `self.chars`, counting a swap of two
    /// neighbouring letters (`nmae` for `name`) as one edit (the optimal
    /// string alignment distance), in three reused rows.
    fn distance(&mut self, a: &[char]) -> usize {
        let b = &self.chars;
        self.before.clear();
        self.before.resize(b.len() + 1, 0);
        self.prev.clear();
        self.prev.extend(0..=b.len());
        self.cur.clear();
        self.cur.resize(b.len() + 1, 0);
        for (i, ca) in a.iter().enumerate() {
            self.cur[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != cb);
                let mut d = (self.prev[j] + cost)
                    .min(self.prev[j + 1] + 1)
                    .min(self.cur[j] + 1);
                if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                    d = d.min(self.before[j - 1] + 1);
                }
                self.cur[j + 1] = d;
            }
            // The row before the previous one becomes the next current row.
            std::mem::swap(&mut self.before, &mut self.prev);
            std::mem::swap(&mut self.prev, &mut self.cur);
        }
        self.prev[b.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_stop_when_their_budget_is_spent() {
        let names = ["deploy", "build", "test"];
        let mut s = Suggester::new(SUGGEST_BUDGET);
        assert_eq!(s.suggest("deplyo", names), Some("deploy"));
        assert_eq!(s.suggest("zzzzzz", names), None);
        let long = "d".repeat(SUGGEST_MAX_CHARS + 1);
        assert_eq!(
            s.suggest(&long, [long.as_str()]),
            None,
            "too long to compare"
        );
        let mut poor = Suggester::new(10);
        assert_eq!(poor.suggest("deplyo", names), None, "6 x 6 cells exceed 10");
    }
}
