//! A task's `next`: each transition's `when`, `publish` and `do`, the
//! edges of the graph they make, and Orquesta's `do: retry`, which becomes
//! the task's retry policy.

use crate::def::{Publish, TaskDef, WorkflowDef};
use crate::error::ErrorKind;
use crate::expr::Template;
use crate::plan::{NameMap, Target, TaskId, TaskPlan, Transition};

use super::{index, Compiler, TaskPath};

/// The edges found so far, by target.
pub(super) struct Edges<'d> {
    /// Every task name, in id order (for hints).
    names: Vec<&'d str>,
    /// Distinct tasks with a transition to each task. Sources are visited
    /// in id order, so each list comes out sorted; a repeat can only be
    /// the last entry.
    inbound: Vec<Vec<TaskId>>,
    /// Transitions that name each task.
    inbound_transitions: Vec<u32>,
}

impl<'d> Edges<'d> {
    pub(super) fn new(def: &'d WorkflowDef) -> Edges<'d> {
        Edges {
            names: def.tasks.keys().map(String::as_str).collect(),
            inbound: vec![Vec::new(); def.tasks.len()],
            inbound_transitions: vec![0u32; def.tasks.len()],
        }
    }

    /// A transition of task `from` to task `to`.
    fn add(&mut self, from: TaskId, to: TaskId) {
        let list = &mut self.inbound[index(to)];
        if list.last() != Some(&from) {
            list.push(from);
        }
        self.inbound_transitions[index(to)] += 1;
    }

    /// Gives each task what leads to it.
    pub(super) fn record(self, tasks: &mut [TaskPlan]) {
        for (task, (inbound, count)) in tasks
            .iter_mut()
            .zip(self.inbound.into_iter().zip(self.inbound_transitions))
        {
            task.inbound = inbound;
            task.inbound_transitions = count;
        }
    }
}

/// A `do: retry` transition: the condition it retries on, and the index of
/// the transition (for a second one's message).
pub(super) type RetryCommand = (Template, usize);

impl Compiler<'_> {
    /// The task's transitions, in order, and its `do: retry` if it has one.
    pub(super) fn transitions(
        &mut self,
        id: TaskId,
        t: &TaskDef,
        base: &TaskPath<'_>,
        edges: &mut Edges<'_>,
        by_name: &NameMap,
    ) -> (Vec<Transition>, Option<RetryCommand>) {
        let mut next = Vec::with_capacity(t.next.len());
        // `do: retry` (Orquesta's engine command): the transition's
        // `when` (or `completed()`) becomes the task's retry policy.
        let mut retry_command: Option<RetryCommand> = None;
        for (ni, tr) in t.next.iter().enumerate() {
            let tpath_cell = std::cell::OnceCell::new();
            let tpath = || {
                tpath_cell
                    .get_or_init(|| format!("{}.next[{ni}]", base.get()))
                    .as_str()
            };
            let when = tr
                .when
                .as_ref()
                .and_then(|w| self.condition(w, &format!("{}.next[{ni}].when", base.get())));
            let publish = match &tr.publish {
                Publish::List(list) => list
                    .0
                    .iter()
                    .enumerate()
                    .filter_map(|(pi, (k, v))| {
                        self.value(v, &format!("{}.publish[{pi}].{k}", tpath()))
                            .map(|t| (k.clone(), t))
                    })
                    .collect(),
                Publish::Inline(text) => self.inline_publish(text, &format!("{}.publish", tpath())),
            };
            let mut targets = Vec::with_capacity(tr.targets.0.len());
            let mut retries_here = false;
            for (di, target) in tr.targets.0.iter().enumerate() {
                let tgt = match target.as_str() {
                    "retry" => {
                        let place = format!("{}.do[{di}]", tpath());
                        if let Some((_, first)) = &retry_command {
                            self.error(
                                ErrorKind::Validation,
                                &place,
                                format!("a second transition to `retry` (next[{first}] has one already): keep one; its `when` says when the task is retried"),
                            );
                        } else if t.retry.is_some() {
                            self.error(
                                ErrorKind::Validation,
                                &place,
                                "`do: retry` and a `retry` key on one task: keep one (the key also sets the count and delay)",
                            );
                        } else {
                            let when = match &tr.when {
                                Some(_) => when.clone(),
                                None => Template::compile("{{ completed() }}").ok(),
                            };
                            if let Some(w) = when {
                                retry_command = Some((w, ni));
                            }
                        }
                        retries_here = true;
                        continue;
                    }
                    "fail" => Target::Fail,
                    "noop" => Target::Noop,
                    "continue" => Target::Continue,
                    other => match by_name.get(other) {
                        // A task named twice in one `do` is reached once
                        // (as in Orquesta, where it is one edge).
                        Some(&tid) if targets.contains(&Target::Task(tid)) => continue,
                        Some(&tid) => {
                            edges.add(id, tid);
                            Target::Task(tid)
                        }
                        None if self.full() => {
                            self.omit();
                            continue;
                        }
                        None => {
                            let path = format!("{}.do[{di}]", tpath());
                            self.unknown_target(other, &path, &edges.names);
                            continue;
                        }
                    },
                };
                targets.push(tgt);
            }
            // A transition whose only target is `retry` is no edge: its
            // publish never runs, and it does not remediate.
            if retries_here && targets.is_empty() {
                continue;
            }
            next.push(Transition::new(when, publish, targets));
        }
        (next, retry_command)
    }

    /// `do` names `other`, which is neither a task nor an engine command.
    fn unknown_target(&mut self, other: &str, path: &str, names: &[&str]) {
        let listed = other.split_whitespace().count() > 1;
        let hint = match self.suggester.suggest(other, names.iter().copied()) {
            // Orquesta splits a `do` string at commas only.
            _ if listed => format!(
                "separate task names with commas: `do: \"{}\"`",
                other.split_whitespace().collect::<Vec<_>>().join(", ")
            ),
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "the tasks are: {}; engine commands: fail, noop, continue, retry",
                preview(names)
            ),
        };
        self.error(
            ErrorKind::Validation,
            path,
            format!("`do` names unknown task `{other}`: {hint}"),
        );
    }
}

/// The first few names of a list, and how many there are in all.
fn preview(names: &[&str]) -> String {
    const MAX: usize = 8;
    let mut s = names
        .iter()
        .take(MAX)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
}
