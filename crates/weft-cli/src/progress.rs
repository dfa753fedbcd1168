//! The live display of `weft run` on a terminal, driven by the run's events.
//!
//! One bar counts task instances and the items of `with` tasks (done /
//! total, with the names of those running and the elapsed time), moving as
//! each item finishes; below it, one line per `with` task in flight counts
//! its items.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use weft_core::Plan;
use weft_runtime::{Event, EventKind};

/// A task instance: task name and instance number.
type Key = (Arc<str>, u32);

#[derive(Default)]
struct Items {
    total: Option<u64>,
    done: u64,
    failed: u64,
    in_flight: u64,
}

pub(crate) struct Progress {
    multi: MultiProgress,
    main: ProgressBar,
    /// Instances scheduled and not yet finished; `true` once an attempt started.
    live: BTreeMap<Key, bool>,
    items: HashMap<Key, (ProgressBar, Items)>,
    planned: u64,
    scheduled: u64,
    /// Items of `with` tasks announced so far (`ItemsScheduled`).
    items_total: u64,
    done: u64,
}

impl Progress {
    /// A display for a run of `plan` drawn to stderr.
    pub(crate) fn stderr(plan: &Plan) -> Progress {
        Progress::new(plan, ProgressDrawTarget::stderr())
    }

    fn new(plan: &Plan, target: ProgressDrawTarget) -> Progress {
        let multi = MultiProgress::with_draw_target(target);
        let planned = plan.tasks().len() as u64;
        let main = multi.add(ProgressBar::new(planned));
        main.set_style(
            ProgressStyle::with_template(
                "{spinner:.cyan} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} tasks and items done  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        main.enable_steady_tick(Duration::from_millis(100));
        Progress {
            multi,
            main,
            live: BTreeMap::new(),
            items: HashMap::new(),
            planned,
            scheduled: 0,
            items_total: 0,
            done: 0,
        }
    }

    /// Prints a line above the bars.
    pub(crate) fn note(&self, line: &str) {
        if self.multi.println(line).is_err() {
            eprintln!("{line}");
        }
    }

    pub(crate) fn on_event(&mut self, event: &Event) {
        match &event.kind {
            EventKind::TaskScheduled { task, instance, .. } => {
                self.live.insert((task.clone(), *instance), false);
                self.scheduled += 1;
                self.set_length();
            }
            EventKind::ItemsScheduled {
                task,
                instance,
                total,
            } => {
                let multi = &self.multi;
                let (bar, items) = self
                    .items
                    .entry((task.clone(), *instance))
                    .or_insert_with(|| (items_bar(multi, task), Items::default()));
                items.total = Some(*total as u64);
                update_items(bar, items);
                self.items_total += *total as u64;
                self.set_length();
            }
            EventKind::TaskStarted {
                task,
                instance,
                item,
                ..
            } => {
                let key = (task.clone(), *instance);
                self.live.insert(key.clone(), true);
                if item.is_some() {
                    let multi = &self.multi;
                    let (bar, items) = self
                        .items
                        .entry(key)
                        .or_insert_with(|| (items_bar(multi, task), Items::default()));
                    items.in_flight += 1;
                    update_items(bar, items);
                }
            }
            EventKind::TaskRetrying {
                task,
                instance,
                item: Some(_),
                ..
            } => {
                if let Some((bar, items)) = self.items.get_mut(&(task.clone(), *instance)) {
                    items.in_flight = items.in_flight.saturating_sub(1);
                    update_items(bar, items);
                }
            }
            EventKind::ItemDone {
                task,
                instance,
                succeeded,
                ..
            } => {
                if let Some((bar, items)) = self.items.get_mut(&(task.clone(), *instance)) {
                    items.in_flight = items.in_flight.saturating_sub(1);
                    items.done += 1;
                    items.failed += u64::from(!succeeded);
                    update_items(bar, items);
                    self.done += 1;
                    self.main.set_position(self.done);
                }
            }
            EventKind::TaskSucceeded { task, instance }
            | EventKind::TaskFailed { task, instance, .. }
            | EventKind::TaskTimedOut { task, instance } => {
                self.finish(&(task.clone(), *instance));
            }
            EventKind::TaskSkipped {
                task,
                instance: Some(instance),
                ..
            } => {
                // A canceled instance; a transition not followed has no
                // instance and nothing to end.
                self.finish(&(task.clone(), *instance));
            }
            _ => {}
        }
        self.main.set_message(self.running_message());
    }

    /// Task instances (at least the plan's tasks) plus the items announced.
    fn set_length(&self) {
        // Loops create more instances than there are tasks; branches not
        // taken create fewer, and the count stays an upper bound.
        let tasks = self.planned.max(self.scheduled);
        self.main.set_length(tasks + self.items_total);
    }

    fn finish(&mut self, key: &Key) {
        if self.live.remove(key).is_some() {
            self.done += 1;
        }
        if let Some((bar, items)) = self.items.remove(key) {
            // Items that never ran (the task failed or was canceled) count
            // as done with it, so the bar ends full.
            if let Some(total) = items.total {
                self.done += total.saturating_sub(items.done);
            }
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.main.set_position(self.done);
    }

    fn running_message(&self) -> String {
        let running: Vec<&str> = self
            .live
            .iter()
            .filter(|(_, started)| **started)
            .map(|((task, _), _)| &**task)
            .collect();
        if running.is_empty() {
            return String::new();
        }
        const SHOWN: usize = 3;
        let mut names = running
            .iter()
            .take(SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if running.len() > SHOWN {
            names.push_str(&format!(", +{}", running.len() - SHOWN));
        }
        format!("{} running: {names}", running.len())
    }

    /// Removes the display from the terminal.
    pub(crate) fn finish_and_clear(&mut self) {
        for (_, (bar, _)) in self.items.drain() {
            bar.finish_and_clear();
        }
        self.main.finish_and_clear();
        let _ = self.multi.clear();
    }

    #[cfg(test)]
    fn counts(&self) -> (u64, u64, usize) {
        (self.done, self.main.length().unwrap_or(0), self.items.len())
    }
}

fn items_bar(multi: &MultiProgress, task: &str) -> ProgressBar {
    let bar = multi.add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("  {spinner:.green} {prefix}: {pos} items done{msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(task.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn update_items(bar: &ProgressBar, items: &Items) {
    bar.set_position(items.done);
    let mut msg = match items.total {
        Some(total) => format!(" of {total}, {} running", items.in_flight),
        None => format!(", {} running", items.in_flight),
    };
    if items.failed > 0 {
        msg.push_str(&format!(", {} failed", items.failed));
    }
    bar.set_message(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use weft_core::Workflow;
    use weft_runtime::Executor;

    fn event(kind: EventKind) -> Event {
        Event {
            run_id: weft_runtime::RunId::new(),
            at: Instant::now(),
            time: std::time::SystemTime::now(),
            kind,
        }
    }

    #[test]
    fn counts_follow_the_events() {
        let plan = Workflow::from_yaml_str(
            "tasks:\n  a: {action: core.noop, next: [{do: b}]}\n  b: {action: core.noop}\n",
        )
        .and_then(|w| w.compile(&Executor::new()))
        .unwrap();
        let mut p = Progress::new(&plan, ProgressDrawTarget::hidden());
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        p.on_event(&event(EventKind::TaskScheduled {
            task: a.clone(),
            instance: 0,
            route: Arc::from(Vec::new()),
        }));
        p.on_event(&event(EventKind::ItemsScheduled {
            task: a.clone(),
            instance: 0,
            total: 3,
        }));
        // Two tasks and three items.
        assert_eq!(p.counts(), (0, 5, 1));
        for index in 0..2 {
            p.on_event(&event(EventKind::TaskStarted {
                task: a.clone(),
                instance: 0,
                item: Some(index),
                attempt: 1,
                child_run: None,
            }));
        }
        assert_eq!(p.running_message(), "1 running: a");
        // A retried item is not done yet.
        p.on_event(&event(EventKind::TaskRetrying {
            task: a.clone(),
            instance: 0,
            item: Some(1),
            attempt: 2,
            delay: Duration::ZERO,
            error: Some("flaky".into()),
        }));
        assert_eq!(p.counts(), (0, 5, 1));
        // Each item counts as it finishes.
        p.on_event(&event(EventKind::ItemDone {
            task: a.clone(),
            instance: 0,
            index: 0,
            succeeded: true,
        }));
        assert_eq!(p.counts(), (1, 5, 1));
        p.on_event(&event(EventKind::ItemDone {
            task: a.clone(),
            instance: 0,
            index: 1,
            succeeded: false,
        }));
        assert_eq!(p.counts(), (2, 5, 1));
        // The task fails: its item that never ran counts as done with it.
        p.on_event(&event(EventKind::TaskFailed {
            task: a.clone(),
            instance: 0,
            error: "item 1: flaky".into(),
        }));
        assert_eq!(p.counts(), (4, 5, 0));
        for i in 1..=3 {
            p.on_event(&event(EventKind::TaskScheduled {
                task: b.clone(),
                instance: i,
                route: Arc::from(Vec::new()),
            }));
        }
        // More instances than tasks: the total grows.
        assert_eq!(p.counts(), (4, 7, 0));
        p.on_event(&event(EventKind::TaskSkipped {
            task: b.clone(),
            instance: Some(2),
            reason: "the run was canceled".into(),
        }));
        p.on_event(&event(EventKind::TaskSkipped {
            task: Arc::from("never"),
            instance: None,
            reason: "the run was canceled".into(),
        }));
        assert_eq!(p.counts(), (5, 7, 0));
        p.finish_and_clear();
    }
}
