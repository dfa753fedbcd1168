//! Stress: 200 concurrent runs of a 50-task workflow on one executor, on a
//! multi_thread runtime, with every event of every run accounted for; and
//! the global cap on actions in flight holding across all of them.
mod common;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use weft_core::{Plan, TaskStatus};
use weft_runtime::{
    ActionError, ActionInput, Event, EventKind, Executor, RunOptions, RunOutcome, RunStatus,
};

const RUNS: usize = 200;

/// What the action itself saw.
#[derive(Default)]
struct Seen {
    /// Calls per run id.
    calls: Mutex<HashMap<weft_runtime::RunId, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn executor(seen: Arc<Seen>, cap: Option<usize>) -> Executor {
    let mut b = Executor::builder().action("work", move |input: ActionInput| {
        let seen = seen.clone();
        async move {
            *seen.calls.lock().unwrap().entry(input.run_id).or_default() += 1;
            let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
            // Stay in flight across a few polls, so runs overlap.
            for _ in 0..1 + now % 3 {
                tokio::task::yield_now().await;
            }
            seen.in_flight.fetch_sub(1, Ordering::SeqCst);
            let fail_first = input.get("fail_first").and_then(Value::as_u64).unwrap_or(0);
            if u64::from(input.attempt) <= fail_first {
                Err(ActionError::new(format!("attempt {} fails", input.attempt)))
            } else {
                Ok(json!({"task": &*input.task, "index": input.index}))
            }
        }
    });
    if let Some(n) = cap {
        b = b.max_actions_in_flight(n);
    }
    b.build()
}

/// A 50-task workflow: a fan-out into three chains (one with a retried
/// task and a handled failure, one ending in a `with` task whose odd items
/// fail once and are retried), a `join: all` over them, a fan-out of ten
/// into a second join (three of them also start one instance each of a task
/// without `join`), and a closing chain. Returns the text and the instances
/// expected per task.
fn workflow() -> (String, HashMap<String, usize>) {
    let mut s = String::from("input: [n]\ntasks:\n");
    let mut expected = HashMap::new();
    let mut task = |s: &mut String, name: String, body: String| {
        let _ = writeln!(s, "  {name}: {body}");
        expected.insert(name, 1);
    };
    task(
        &mut s,
        "start".into(),
        "{action: work, next: [{do: [a01, b01, c01]}]}".into(),
    );
    for i in 1..=10 {
        let next = if i < 10 {
            format!("a{:02}", i + 1)
        } else {
            "join1".into()
        };
        task(
            &mut s,
            format!("a{i:02}"),
            format!(r#"{{action: work, next: [{{when: "{{{{ succeeded() }}}}", do: {next}}}]}}"#),
        );
    }
    for i in 1..=10 {
        let next = if i < 10 {
            format!("b{:02}", i + 1)
        } else {
            "join1".into()
        };
        let body = match i {
            3 => format!(
                r#"{{action: work, input: {{fail_first: 1}}, retry: {{count: 2}}, next: [{{when: "{{{{ succeeded() }}}}", do: {next}}}]}}"#
            ),
            6 => format!(
                r#"{{action: work, input: {{fail_first: 99}}, next: [{{publish: [{{b06: "{{{{ 'failed' if failed() else 'ok' }}}}"}}], do: {next}}}]}}"#
            ),
            _ => format!("{{action: work, next: [{{do: {next}}}]}}"),
        };
        task(&mut s, format!("b{i:02}"), body);
    }
    for i in 1..=7 {
        let next = if i < 7 {
            format!("c{:02}", i + 1)
        } else {
            "items".into()
        };
        task(
            &mut s,
            format!("c{i:02}"),
            format!("{{action: work, next: [{{do: {next}}}]}}"),
        );
    }
    task(
        &mut s,
        "items".into(),
        r#"{with: {items: "{{ range(parameters.n) | list }}", concurrency: 3}, action: work, input: {fail_first: "{{ item % 2 }}"}, retry: {count: 1}, next: [{when: "{{ succeeded() }}", do: join1}]}"#.into(),
    );
    let ds: Vec<String> = (1..=10).map(|i| format!("d{i:02}")).collect();
    task(
        &mut s,
        "join1".into(),
        format!(
            "{{join: all, action: work, next: [{{do: [{}]}}]}}",
            ds.join(", ")
        ),
    );
    for (i, d) in ds.iter().enumerate() {
        let targets = if i < 3 { "[join2, multi]" } else { "join2" };
        task(
            &mut s,
            d.clone(),
            format!("{{action: work, next: [{{do: {targets}}}]}}"),
        );
    }
    task(
        &mut s,
        "join2".into(),
        "{join: all, action: work, next: [{do: e01}]}".into(),
    );
    task(&mut s, "multi".into(), "{action: work}".into());
    for i in 1..=8 {
        let body = if i < 8 {
            format!("{{action: work, next: [{{do: e{:02}}}]}}", i + 1)
        } else {
            "{action: work}".into()
        };
        task(&mut s, format!("e{i:02}"), body);
    }
    s.push_str(
        "output:\n  - items: \"{{ task.items | length }}\"\n  - b06: \"{{ workflow.b06 }}\"\n",
    );
    expected.insert("multi".into(), 3);
    (s, expected)
}

/// Checks one run's events against its outcome and the action's own count.
fn account(
    events: &[Event],
    out: &RunOutcome,
    calls: usize,
    items: usize,
    expected: &HashMap<String, usize>,
) -> Result<(), String> {
    if out.status != RunStatus::Succeeded {
        return Err(format!("run {:?}: {:?}", out.status, out.errors));
    }
    if let Some(e) = events.iter().find(|e| e.run_id != out.run_id) {
        return Err(format!("event of run {} in run {}", e.run_id, out.run_id));
    }
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    let count = |f: &dyn Fn(&EventKind) -> bool| kinds.iter().filter(|k| f(k)).count();
    if !matches!(kinds.first(), Some(EventKind::RunStarted { .. }))
        || count(&|k| matches!(k, EventKind::RunStarted { .. })) != 1
    {
        return Err("RunStarted is not exactly once and first".into());
    }
    match kinds.last() {
        Some(EventKind::RunEnded { status }) if *status == out.status => {}
        other => return Err(format!("the last event is {other:?}")),
    }
    if count(&|k| matches!(k, EventKind::RunEnded { .. })) != 1 {
        return Err("RunEnded more than once".into());
    }
    if count(&|k| matches!(k, EventKind::TaskSkipped { .. })) != 0 {
        return Err("a task was skipped".into());
    }

    // Per instance, by position in the stream.
    #[derive(Default)]
    struct Inst {
        name: String,
        scheduled: Option<usize>,
        terminal: Option<(usize, TaskStatus)>,
        started: Vec<(usize, Option<usize>, u32)>,
        retrying: usize,
        items_done: Vec<usize>,
    }
    let mut insts: HashMap<u32, Inst> = HashMap::new();
    for (pos, kind) in kinds.iter().enumerate() {
        let (instance, status) = match kind {
            EventKind::TaskScheduled { task, instance, .. } => {
                let inst = insts.entry(*instance).or_default();
                if inst.scheduled.replace(pos).is_some() {
                    return Err(format!("instance {instance} scheduled twice"));
                }
                inst.name = task.to_string();
                continue;
            }
            EventKind::TaskStarted {
                instance,
                item,
                attempt,
                ..
            } => {
                let inst = insts.entry(*instance).or_default();
                inst.started.push((pos, *item, *attempt));
                continue;
            }
            EventKind::TaskRetrying { instance, .. } => {
                insts.entry(*instance).or_default().retrying += 1;
                continue;
            }
            EventKind::ItemDone {
                instance, index, ..
            } => {
                insts.entry(*instance).or_default().items_done.push(*index);
                continue;
            }
            EventKind::TaskSucceeded { instance, .. } => (*instance, TaskStatus::Succeeded),
            EventKind::TaskFailed { instance, .. } => (*instance, TaskStatus::Failed),
            EventKind::TaskTimedOut { instance, .. } => (*instance, TaskStatus::TimedOut),
            _ => continue,
        };
        let inst = insts.entry(instance).or_default();
        if inst.terminal.replace((pos, status)).is_some() {
            return Err(format!("instance {instance} ended twice"));
        }
    }

    if insts.len() != out.tasks.len() || out.stats.tasks_run != out.tasks.len() {
        return Err(format!(
            "{} instances in events, {} in the outcome",
            insts.len(),
            out.tasks.len()
        ));
    }
    let mut per_name: HashMap<&str, usize> = HashMap::new();
    let mut total_started = 0;
    for rec in &out.tasks {
        let i = rec.instance;
        let inst = insts
            .get(&i)
            .ok_or_else(|| format!("instance {i} has no events"))?;
        let scheduled = inst
            .scheduled
            .ok_or_else(|| format!("instance {i} never scheduled"))?;
        let (ended, status) = inst
            .terminal
            .ok_or_else(|| format!("instance {i} never ended"))?;
        if inst.name != *rec.name || status != rec.status {
            return Err(format!(
                "instance {i}: events say {} {status:?}, the outcome {} {:?}",
                inst.name, rec.name, rec.status
            ));
        }
        if let Some(&(pos, ..)) = inst
            .started
            .iter()
            .find(|(pos, ..)| *pos < scheduled || *pos > ended)
        {
            return Err(format!(
                "instance {i} started at event {pos}, outside its life"
            ));
        }
        let unique: HashSet<(Option<usize>, u32)> =
            inst.started.iter().map(|&(_, item, a)| (item, a)).collect();
        if unique.len() != inst.started.len() {
            return Err(format!("instance {i}: an attempt started twice"));
        }
        let retried = inst.started.iter().filter(|s| s.2 > 1).count();
        if retried != inst.retrying {
            return Err(format!(
                "instance {i}: {retried} retried attempts started, {} TaskRetrying",
                inst.retrying
            ));
        }
        let max_attempt = inst.started.iter().map(|s| s.2).max().unwrap_or(0);
        if max_attempt != rec.attempts {
            return Err(format!(
                "instance {i}: attempts {} in the outcome, {max_attempt} in events",
                rec.attempts
            ));
        }
        match rec.items {
            Some(n) => {
                let mut done = inst.items_done.clone();
                done.sort_unstable();
                if n != items || done != (0..n).collect::<Vec<_>>() {
                    return Err(format!("instance {i}: {n} items, ItemDone for {done:?}"));
                }
                // Each item: attempts 1..=k, one after another.
                for k in 0..n {
                    let mut a: Vec<u32> = inst
                        .started
                        .iter()
                        .filter(|s| s.1 == Some(k))
                        .map(|s| s.2)
                        .collect();
                    a.sort_unstable();
                    let want: Vec<u32> = (1..=1 + (k as u32 % 2)).collect();
                    if a != want {
                        return Err(format!("instance {i} item {k}: attempts {a:?}"));
                    }
                }
                let results = rec.result.as_deref().and_then(Value::as_array);
                let in_order = results.is_some_and(|r| {
                    r.len() == n && r.iter().enumerate().all(|(k, v)| v["index"] == json!(k))
                });
                if !in_order {
                    return Err(format!("instance {i}: item results {results:?}"));
                }
            }
            None => {
                if !inst.items_done.is_empty() {
                    return Err(format!("instance {i}: ItemDone without items"));
                }
                let a: Vec<u32> = inst.started.iter().map(|s| s.2).collect();
                if a != (1..=rec.attempts).collect::<Vec<_>>() {
                    return Err(format!("instance {i}: attempts started {a:?}"));
                }
            }
        }
        let want_status = if &*rec.name == "b06" {
            TaskStatus::Failed
        } else {
            TaskStatus::Succeeded
        };
        let want_attempts = match &*rec.name {
            "b03" => 2,
            "items" if items >= 2 => 2,
            _ => 1,
        };
        if rec.status != want_status || rec.attempts != want_attempts {
            return Err(format!(
                "{} ended {:?} after {} attempts",
                rec.name, rec.status, rec.attempts
            ));
        }
        total_started += inst.started.len();
        *per_name.entry(&rec.name).or_default() += 1;
    }
    if per_name.len() != expected.len()
        || expected
            .iter()
            .any(|(name, n)| per_name.get(name.as_str()) != Some(n))
    {
        return Err(format!("instances per task {per_name:?}"));
    }
    if total_started != calls || out.stats.actions_run != calls {
        return Err(format!(
            "{total_started} TaskStarted, {calls} action calls, actions_run {}",
            out.stats.actions_run
        ));
    }
    if out.output != json!({"items": items, "b06": "failed"}) {
        return Err(format!("output {}", out.output));
    }
    Ok(())
}

async fn stress(cap: Option<usize>) -> Arc<Seen> {
    let seen = Arc::new(Seen::default());
    let ex = executor(seen.clone(), cap);
    let (text, expected) = workflow();
    assert_eq!(expected.len(), 50);
    let plan: Plan = common::plan(&ex, &text);

    let mut handles = Vec::with_capacity(RUNS);
    for k in 0..RUNS {
        let items = 2 + k % 7;
        let mut run = ex
            .start_with(&plan, json!({"n": items}), RunOptions::new().with_events())
            .expect("start");
        let events = run.events();
        handles.push(tokio::spawn(async move {
            let (events, out) = tokio::join!(events.collect::<Vec<Event>>(), run);
            (items, events, out.expect("run lost"))
        }));
    }
    let all = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(handles))
        .await
        .expect("200 runs did not end within 60 s");

    let calls = seen.calls.lock().unwrap().clone();
    let mut ids = HashSet::new();
    for joined in all {
        let (items, events, out) = joined.expect("collector task");
        assert!(ids.insert(out.run_id), "run id {} twice", out.run_id);
        let n = calls.get(&out.run_id).copied().unwrap_or(0);
        if let Err(e) = account(&events, &out, n, items, &expected) {
            panic!("run {} ({items} items): {e}", out.run_id);
        }
    }
    assert_eq!(ids.len(), RUNS);
    assert_eq!(seen.in_flight.load(Ordering::SeqCst), 0);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_runs_account_for_every_event() {
    stress(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_cap_holds_across_two_hundred_concurrent_runs() {
    const CAP: usize = 3;
    let seen = stress(Some(CAP)).await;
    let max = seen.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (1..=CAP).contains(&max),
        "{max} actions in flight at once, the cap is {CAP}"
    );
}
