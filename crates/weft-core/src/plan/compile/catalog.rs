//! What a workflow's actions are checked against when compiling: the
//! names an executor can run, and the input fields each declares.

use std::collections::{BTreeSet, HashSet};

/// The set of action names a workflow may use, and the input fields of
/// those that declare them.
///
/// Compiling checks every task's `action` against it, and the keys of its
/// `input` against the fields the action declares. The runtime's executor
/// implements it; so do sets and slices of names (which declare no fields).
pub trait ActionCatalog {
    /// True when an action of this name is registered.
    fn has_action(&self, name: &str) -> bool;
    /// Every registered name (used to suggest a fix for a typo).
    fn action_names(&self) -> Vec<String>;
    /// The input fields action `name` declares, or `None` when it declares
    /// none (the default): then its input is not checked when compiling.
    ///
    /// With fields declared, compiling rejects an `input` key that is not
    /// one of them (suggesting the closest) and, when the task's input is
    /// written as a map or inline parameters, a required field left out.
    fn input_fields(&self, name: &str) -> Option<Vec<InputField>> {
        let _ = name;
        None
    }
    /// Why action `name` cannot be used although it is registered, or
    /// `None` (the default) when it can. Compiling a task that uses such
    /// an action fails with this reason, at the task's `action`: an action
    /// whose implementation is not available here, say, is refused before
    /// a run starts rather than when the task is reached.
    fn unavailable(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
}

/// One input field an action declares (see [`ActionCatalog::input_fields`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputField {
    /// The key a task's `input` gives it under.
    pub name: String,
    /// Whether every task must give it.
    pub required: bool,
    /// Whether the action sets it itself: a task may not give it.
    pub immutable: bool,
}

impl InputField {
    /// A field a task must give.
    pub fn required(name: impl Into<String>) -> InputField {
        InputField {
            name: name.into(),
            required: true,
            immutable: false,
        }
    }

    /// A field a task may leave out.
    pub fn optional(name: impl Into<String>) -> InputField {
        InputField {
            name: name.into(),
            required: false,
            immutable: false,
        }
    }

    /// A field the action sets itself: compiling rejects a task that
    /// gives it, naming the field. It is still one of the action's fields
    /// (a task that gives it is told it is fixed, not that it is unknown).
    pub fn immutable(name: impl Into<String>) -> InputField {
        InputField {
            name: name.into(),
            required: false,
            immutable: true,
        }
    }
}

impl<S: std::hash::BuildHasher> ActionCatalog for HashSet<String, S> {
    fn has_action(&self, name: &str) -> bool {
        self.contains(name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().cloned().collect()
    }
}

impl ActionCatalog for BTreeSet<String> {
    fn has_action(&self, name: &str) -> bool {
        self.contains(name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().cloned().collect()
    }
}

impl ActionCatalog for [&str] {
    fn has_action(&self, name: &str) -> bool {
        self.contains(&name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl<const N: usize> ActionCatalog for [&str; N] {
    fn has_action(&self, name: &str) -> bool {
        self.contains(&name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl ActionCatalog for Vec<String> {
    fn has_action(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
    fn action_names(&self) -> Vec<String> {
        self.clone()
    }
}
