//! Branch scope: the workflow variables each task instance sees, computed
//! as Orquesta's conductor computes them (docs/orquesta-data-flow.md).
//!
//! Orquesta keeps a log of what each transition published and gives every
//! task a list of indexes into it (`ctxs.in`): the initial context, then
//! every publish on the path of transitions that led to the task. Here a
//! [`Scope`] holds the same list as a persistent linked list of the
//! published entries ([`Path`]), and beside it the variables that list
//! folds to ([`Variables`], a persistent map), so that a lookup never
//! walks the list. Both clone in O(1): a branch that publishes nothing
//! shares its parent's scope, one that publishes shares everything but the
//! new entry. The list is walked only where Orquesta merges lists: when a
//! later branch arrives at a join, and for the terminal context that
//! `output` is rendered from.

use std::sync::Arc;

use serde_json::Value;
use weft_core::Variables;

/// What one taken transition published: names and values, in order.
pub(super) type Published = Arc<[(Arc<str>, Arc<Value>)]>;

/// The publishes on the path to a task instance, newest first.
#[derive(Clone, Default)]
pub(super) struct Path(Option<Arc<PathNode>>);

struct PathNode {
    entry: Published,
    parent: Path,
}

impl Path {
    fn push(&self, entry: Published) -> Path {
        Path(Some(Arc::new(PathNode {
            entry,
            parent: self.clone(),
        })))
    }

    /// The entries, oldest first.
    fn entries(&self) -> Vec<Published> {
        let mut out = Vec::new();
        let mut at = self.0.as_deref();
        while let Some(node) = at {
            out.push(node.entry.clone());
            at = node.parent.0.as_deref();
        }
        out.reverse();
        out
    }
}

impl Drop for Path {
    /// Frees a long list (a loop that published at every turn) one node at
    /// a time instead of recursively.
    #[inline]
    fn drop(&mut self) {
        // Most scopes have no list (nothing was published on their path):
        // inlined, that case costs one test.
        if let Some(node) = self.0.take() {
            drop_path(node);
        }
    }
}

fn drop_path(node: Arc<PathNode>) {
    let mut next = Some(node);
    while let Some(node) = next {
        match Arc::try_unwrap(node) {
            Ok(mut node) => next = node.parent.0.take(),
            Err(_) => break,
        }
    }
}

/// The context of one branch: Orquesta's `ctxs.in` of a task, less the
/// initial context, and what it folds to.
#[derive(Clone, Default)]
pub(super) struct Scope {
    /// The variables: the run's `vars`, then every entry of `path` merged
    /// in order (`merge_dicts(..., overwrite=True)`).
    pub(super) vars: Variables,
    path: Path,
}

impl Scope {
    /// The scope of the run's start tasks: its `vars`.
    pub(super) fn initial(vars: Variables) -> Scope {
        Scope {
            vars,
            path: Path::default(),
        }
    }

    /// The scope a taken transition gives its target: this one, plus what
    /// it published (the same scope when it published nothing).
    #[inline]
    pub(super) fn with(&self, published: Option<&Published>) -> Scope {
        match published {
            None => self.clone(),
            Some(entry) => self.with_entry(entry),
        }
    }

    fn with_entry(&self, entry: &Published) -> Scope {
        let mut vars = self.vars.clone();
        fold(&mut vars, entry);
        Scope {
            vars,
            path: self.path.push(entry.clone()),
        }
    }

    /// A later branch arrives at a join whose scope this is: its list, less
    /// the initial context, is appended (Orquesta's
    /// `staged.ctxs.in.extend(...)`), so what it brings wins, including
    /// what its path published before the branches split.
    #[inline]
    pub(super) fn join(&mut self, other: &Scope) {
        // Nothing published on its path (a DAG's branches): it brings
        // nothing, and its list is not walked.
        if other.path.0.is_some() {
            self.join_path(other);
        }
    }

    fn join_path(&mut self, other: &Scope) {
        for entry in other.path.entries() {
            fold(&mut self.vars, &entry);
            self.path = self.path.push(entry);
        }
    }

    /// Orquesta's terminal context: the first terminal entry's whole
    /// context, then each other one's list less the initial context,
    /// folded on its own and merged in (`get_workflow_terminal_context`).
    pub(super) fn terminal<'a>(mut entries: impl Iterator<Item = &'a Scope>) -> Option<Variables> {
        let mut acc = entries.next()?.vars.clone();
        for scope in entries {
            if scope.path.0.is_none() {
                // Nothing published on its path: it brings nothing.
                continue;
            }
            let mut delta = Variables::new();
            for entry in scope.path.entries() {
                fold(&mut delta, &entry);
            }
            for (k, v) in delta.iter() {
                acc.merge(k.clone(), v.clone());
            }
        }
        Some(acc)
    }
}

fn fold(vars: &mut Variables, entry: &Published) {
    for (k, v) in entry.iter() {
        vars.merge(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(pairs: &[(&str, Value)]) -> Published {
        pairs
            .iter()
            .map(|(k, v)| (Arc::from(*k), Arc::new(v.clone())))
            .collect()
    }

    fn get(vars: &Variables, k: &str) -> Value {
        vars.get(k).map(|v| (**v).clone()).unwrap_or(Value::Null)
    }

    #[test]
    fn join_reapplies_the_shared_prefix() {
        let mut init = Variables::new();
        init.set("x", json!("init"));
        let start = Scope::initial(init).with(Some(&entry(&[("x", json!("start"))])));
        let a = start.with(Some(&entry(&[("x", json!("a"))])));
        let b = start.with(None);
        let mut j = a.clone();
        j.join(&b);
        // b's list is [start]: applied again after a's, it wins.
        assert_eq!(get(&j.vars, "x"), json!("start"));
        let mut j = b.clone();
        j.join(&a);
        assert_eq!(get(&j.vars, "x"), json!("a"));
    }

    #[test]
    fn terminal_merges_lists_less_the_initial_context() {
        let mut init = Variables::new();
        init.set("x", json!(null));
        init.set("y", json!(0));
        let root = Scope::initial(init);
        let a = root.with(Some(&entry(&[("x", json!("a"))])));
        let c = root.with(Some(&entry(&[("y", json!(2))])));
        // c does not bring the initial `x` back over a's.
        let vars = Scope::terminal([&a, &c].into_iter()).unwrap();
        assert_eq!(get(&vars, "x"), json!("a"));
        assert_eq!(get(&vars, "y"), json!(2));
        assert!(Scope::terminal(std::iter::empty()).is_none());
    }

    #[test]
    fn a_long_path_drops_without_recursing() {
        let mut s = Scope::default();
        let e = entry(&[("n", json!(1))]);
        for _ in 0..200_000 {
            s = s.with(Some(&e));
        }
        assert_eq!(s.path.entries().len(), 200_000);
        drop(s);
    }
}
