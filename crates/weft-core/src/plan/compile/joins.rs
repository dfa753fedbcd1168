//! The passes over the whole graph, once every task is compiled: the start
//! tasks, joins that cannot be satisfied or are ambiguous, the split tasks
//! (see [`crate::graph`]) and the tasks that no start reaches.

use crate::diag::path::task_path;
use crate::error::ErrorKind;
use crate::plan::{Join, Target, TaskId, TaskPlan};

use super::{index, Compiler};

impl Compiler<'_> {
    /// Finds the start tasks, marks the split tasks, and checks joins and
    /// reachability; returns the start tasks.
    pub(super) fn graph(&mut self, tasks: &mut [TaskPlan]) -> Vec<TaskId> {
        let starts: Vec<TaskId> = tasks
            .iter()
            .filter(|t| t.inbound_transitions == 0)
            .map(|t| t.id)
            .collect();
        if starts.is_empty() && !tasks.is_empty() {
            self.error(
                ErrorKind::Validation,
                "tasks",
                format!(
                    "no start task: every task is named in some `do`, so none can run first; add a task that no `do` names (or remove `{}` from the `do` lists)",
                    tasks.first().map(|t| &*t.name).unwrap_or("")
                ),
            );
        }
        self.join_counts(tasks);

        // Splits, and joins that can never be satisfied or are ambiguous.
        let cyclic = crate::graph::on_cycle(tasks);
        let split = crate::graph::split_tasks(tasks, &cyclic);
        for (t, s) in tasks.iter_mut().zip(&split) {
            t.split = *s;
        }
        if !starts.is_empty() {
            self.late_and_ambiguous_joins(tasks, &starts, &cyclic, &split);
            self.unreachable(tasks, &starts);
        }
        starts
    }

    /// A join needs a task leading to it, and no more branches than lead
    /// to it.
    fn join_counts(&mut self, tasks: &[TaskPlan]) {
        for t in tasks {
            if t.join.is_none() {
                continue;
            }
            let jpath = format!("{}.join", task_path(&t.name));
            match t.join {
                Some(_) if t.inbound.is_empty() => self.error(
                    ErrorKind::Validation,
                    &jpath,
                    format!("`join` on task `{}`, which no transition leads to: remove the join", t.name),
                ),
                Some(Join::Count(n)) if n as usize > t.inbound.len() => self.error(
                    ErrorKind::Validation,
                    &jpath,
                    format!(
                        "`join: {n}` waits for {n} branches but only {} task(s) lead to `{}` ({}): lower the number or use `join: all`",
                        t.inbound.len(),
                        t.name,
                        t.inbound
                            .iter()
                            .map(|&i| tasks[index(i)].name.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                _ => {}
            }
        }
    }

    /// Joins that can never be satisfied because some branches only run after
    /// the join itself, and joins reached both inside and outside a split.
    fn late_and_ambiguous_joins(
        &mut self,

        tasks: &[TaskPlan],
        starts: &[TaskId],
        cyclic: &[bool],
        split: &[bool],
    ) {
        let name = |id: TaskId| format!("`{}`", tasks[index(id)].name);
        let names = |ids: &[TaskId]| ids.iter().map(|&i| name(i)).collect::<Vec<_>>().join(", ");
        for lb in crate::graph::late_branches(tasks, starts, cyclic) {
            let j = &tasks[index(lb.join)];
            let what = if lb.late.contains(&lb.join) {
                "it transitions to itself, and counts itself as a branch that can only arrive after it ran".to_owned()
            } else {
                format!(
                    "{} can only run after `{}` itself (they are reached through it)",
                    names(&lb.late),
                    j.name
                )
            };
            self.error(
                ErrorKind::Validation,
                &format!("{}.join", task_path(&j.name)),
                format!(
                    "the join on `{}` can never be satisfied: {what}; remove those transitions into the join, or lower the count",
                    j.name
                ),
            );
        }
        let Some(ambiguous) = crate::graph::ambiguous_joins(tasks, starts, split) else {
            return;
        };
        for a in ambiguous {
            let j = &tasks[index(a.join)];
            let level = |s: &[TaskId]| {
                if s.is_empty() {
                    "outside every split".to_owned()
                } else {
                    format!("inside the routes of split task(s) {}", names(s))
                }
            };
            self.error(
                ErrorKind::Validation,
                &format!("{}.join", task_path(&j.name)),
                format!(
                    "the join on `{}` is ambiguous: its branch {} runs {}, but the join is reached {}; \
                     a task reached from several transitions runs once per arrival (a route), so join \
                     the branches of each route below the split, or join before it",
                    j.name,
                    name(a.branch),
                    level(&a.branch_splits),
                    level(&a.join_splits),
                ),
            );
        }
    }

    /// Tasks that no path from a start reaches.
    fn unreachable(&mut self, tasks: &[TaskPlan], starts: &[TaskId]) {
        let mut reached = vec![false; tasks.len()];
        let mut stack: Vec<TaskId> = starts.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut reached[index(id)], true) {
                continue;
            }
            for tr in &tasks[index(id)].next {
                for tg in &tr.targets {
                    if let Target::Task(n) = tg {
                        if !reached[index(*n)] {
                            stack.push(*n);
                        }
                    }
                }
            }
        }
        for t in tasks {
            if !reached[index(t.id)] {
                self.error(
                    ErrorKind::Validation,
                    &task_path(&t.name),
                    format!(
                        "task `{}` can never run: it is only reached from a cycle that no start task leads into; add a transition to it from a task that runs, or remove it",
                        t.name
                    ),
                );
            }
        }
    }
}
