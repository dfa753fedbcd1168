//! weft against Orquesta's own conductor: every case of
//! `tests/orquesta/corpus.json` (workflows written by hand and generated
//! ones, with the answers Orquesta's `WorkflowConductor` gave, recorded by
//! `scripts/orquesta_conduct.py record`) runs in weft, and the final status,
//! the `output` and the task executions (task, route, status, result, in
//! completion order) must be Orquesta's.
//!
//! Every task runs the action `mock`, registered here. Its result is the
//! case's explicit result for the task, or else its rendered input (so a
//! result shows what the task read from the context), and it succeeds or
//! fails as the case's outcome table says. Completions happen in the order
//! Orquesta completed them: an attempt waits until a sequencer says it is its
//! turn (task, route and the n-th attempt there), and the sequencer moves on
//! when weft's scheduler reports the completion. If weft does not start the
//! task Orquesta completes next, the case fails after a few seconds with a
//! message that says so; it never hangs.
//!
//! weft scopes the context to branches as Orquesta does
//! (docs/orquesta-data-flow.md); where it differs on purpose (joins, `fail`;
//! docs/workflow-language.md, "Differences from Orquesta"), `KNOWN` lists
//! the cases with their cause. The test fails on any other difference, and
//! on a listed case that agrees (remove it from the list). With `WEFT_ORQUESTA_PYTHON` naming a Python that can `import
//! orquesta` when the tests are built, `live_random_cases` also asks Orquesta
//! about fresh random workflows; otherwise it is ignored.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use weft::prelude::*;
use weft::RunOptions;

/// How long an attempt waits for its turn, or for weft to report a route.
const STEP_WAIT: Duration = Duration::from_secs(1);
/// How long an attempt waits once the case has gone wrong.
const AFTER_PROBLEM_WAIT: Duration = Duration::from_millis(200);
/// How long a whole case may take in weft.
const RUN_WAIT: Duration = Duration::from_secs(30);

/// Why weft's answer differs from Orquesta's, for a case in `KNOWN`
/// (docs/orquesta-data-flow.md, "weft today").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Cause {
    /// Orquesta runs a `join: N` task again for each inbound branch that
    /// arrives after the N-th (and what follows it); weft runs a join once
    /// per route.
    JoinRunsAgain,
    /// weft fails the run as soon as a join can no longer be satisfied and
    /// starts nothing more; Orquesta runs the other branches to their end
    /// and fails the workflow then.
    JoinFailsFast,
    /// Orquesta starts every task a completion's taken transitions name
    /// even when one of them goes to `fail`; weft applies the transitions in
    /// order and starts nothing after `fail`.
    FailStartsSiblings,
}

impl Cause {
    fn describe(self) -> &'static str {
        match self {
            Cause::JoinRunsAgain => "a `join: N` runs again in Orquesta for each later arrival",
            Cause::JoinFailsFast => "an unsatisfiable join fails weft's run at once",
            Cause::FailStartsSiblings => {
                "Orquesta starts the other targets of a completion that goes to `fail`"
            }
        }
    }
}

/// The cases weft answers differently on purpose, and why; a case here that
/// agrees fails the test.
use Cause::*;
const KNOWN: &[(&str, Cause)] = &[
    ("fail_starts_siblings", FailStartsSiblings),
    ("join_count_runs_again", JoinRunsAgain),
    ("gen-22010", JoinRunsAgain),
    ("gen-22016", JoinRunsAgain),
    ("gen-22028", JoinRunsAgain),
    ("gen-22033", JoinFailsFast),
    ("gen-22038", JoinRunsAgain),
    ("gen-22040", JoinFailsFast),
    ("gen-22042", JoinFailsFast),
    ("gen-22058", JoinRunsAgain),
    ("gen-22060", JoinRunsAgain),
    ("gen-22070", JoinFailsFast),
    ("gen-22078", JoinFailsFast),
    ("gen-22085", JoinFailsFast),
    ("gen-22088", JoinFailsFast),
    ("gen-22089", FailStartsSiblings),
    ("gen-22097", JoinRunsAgain),
    ("gen-22109", FailStartsSiblings),
    ("gen-22111", JoinRunsAgain),
    ("gen-22114", JoinRunsAgain),
    ("gen-22116", JoinRunsAgain),
    ("gen-22117", JoinRunsAgain),
    ("gen-22129", JoinFailsFast),
    ("gen-22130", JoinRunsAgain),
    ("gen-22131", JoinRunsAgain),
    ("gen-22138", JoinFailsFast),
    ("gen-22150", JoinFailsFast),
    ("gen-22158", JoinRunsAgain),
    ("gen-22160", JoinRunsAgain),
    ("gen-22168", JoinRunsAgain),
    ("gen-22171", JoinFailsFast),
    ("gen-22173", JoinRunsAgain),
    ("gen-22177", JoinRunsAgain),
    ("gen-22183", JoinRunsAgain),
    ("gen-22193", FailStartsSiblings),
    ("gen-22203", JoinRunsAgain),
    ("gen-22205", JoinRunsAgain),
    ("gen-22212", JoinRunsAgain),
    ("gen-22216", JoinFailsFast),
    ("gen-22223", JoinFailsFast),
    ("gen-22231", JoinFailsFast),
    ("gen-22236", JoinFailsFast),
    ("gen-22243", JoinFailsFast),
    ("gen-22245", JoinRunsAgain),
    ("gen-22246", JoinFailsFast),
    ("gen-22247", FailStartsSiblings),
    ("gen-22250", JoinRunsAgain),
    ("gen-22254", JoinFailsFast),
    ("gen-22258", FailStartsSiblings),
    ("gen-22264", JoinRunsAgain),
    ("gen-22265", JoinRunsAgain),
    ("gen-22277", JoinRunsAgain),
    ("gen-22279", JoinRunsAgain),
    ("gen-22308", FailStartsSiblings),
    ("gen-22321", JoinRunsAgain),
    ("gen-22324", JoinFailsFast),
    ("gen-22329", JoinFailsFast),
    ("gen-22332", JoinFailsFast),
    ("gen-22341", FailStartsSiblings),
    ("gen-22347", JoinFailsFast),
    ("gen-22348", JoinFailsFast),
    ("gen-22353", FailStartsSiblings),
    ("gen-22355", JoinRunsAgain),
    ("gen-22356", JoinRunsAgain),
    ("gen-22364", FailStartsSiblings),
    ("gen-22372", FailStartsSiblings),
    ("gen-22374", JoinFailsFast),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// The sequencer

/// What the sequencer and the event reader share.
#[derive(Default)]
struct SeqState {
    /// Index in `expected` of the completion that is due.
    cursor: usize,
    /// Route of each task instance, from `TaskScheduled`.
    routes: HashMap<u32, Vec<String>>,
    /// Attempts started per (task, route).
    attempts: HashMap<(String, Vec<String>), usize>,
    /// The result the mock gave for an instance's latest attempt.
    given: HashMap<u32, Value>,
    /// weft's completions, in the order its scheduler reported them.
    completed: Vec<Value>,
    /// What went wrong in the ordering (weft started something Orquesta
    /// did not, or not what Orquesta completes next).
    problems: Vec<String>,
}

struct Sequencer {
    /// Orquesta's completions: (task, route).
    expected: Vec<(String, Vec<String>)>,
    outcomes: Map<String, Value>,
    state: Mutex<SeqState>,
    tick: watch::Sender<u64>,
}

impl Sequencer {
    fn new(case: &Value) -> Sequencer {
        let expected = case["answer"]["tasks"]
            .as_array()
            .map(|tasks| {
                tasks
                    .iter()
                    .map(|t| (str_of(&t["id"]), strings(&t["route"])))
                    .collect()
            })
            .unwrap_or_default();
        Sequencer {
            expected,
            outcomes: case["outcomes"].as_object().cloned().unwrap_or_default(),
            state: Mutex::new(SeqState::default()),
            tick: watch::channel(0).0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SeqState> {
        // A panic while the lock is held already fails the test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.tick.send_modify(|n| *n += 1);
    }

    /// Waits until `f` gives a value, for at most `STEP_WAIT` (or
    /// `AFTER_PROBLEM_WAIT` once the case has gone wrong, so that a case that
    /// differs costs seconds, not minutes).
    async fn wait_for<T>(&self, mut f: impl FnMut(&mut SeqState) -> Option<T>) -> Option<T> {
        let mut rx = self.tick.subscribe();
        let wait = if self.state().problems.is_empty() {
            STEP_WAIT
        } else {
            AFTER_PROBLEM_WAIT
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(v) = f(&mut self.state()) {
                return Some(v);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }

    fn problem(&self, text: String) -> ActionError {
        self.state().problems.push(text.clone());
        self.changed();
        ActionError::new(text)
    }

    /// The mock action: wait for this attempt's turn, then succeed or fail
    /// as the outcome table says.
    async fn act(&self, input: ActionInput) -> ActionResult {
        let task = input.task.to_string();
        let Some(route) = self
            .wait_for(|s| s.routes.get(&input.instance).cloned())
            .await
        else {
            return Err(self.problem(format!(
                "weft reported no route for `{task}` instance {}",
                input.instance
            )));
        };
        let key = (task.clone(), route.clone());
        let n = {
            let mut s = self.state();
            let n = s.attempts.entry(key.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        let Some(position) = self
            .expected
            .iter()
            .enumerate()
            .filter(|(_, e)| **e == key)
            .map(|(i, _)| i)
            .nth(n)
        else {
            return Err(self.problem(format!(
                "weft started `{task}` in route {route:?} a {} time; Orquesta completed it there {n} times",
                ordinal(n + 1)
            )));
        };
        if self
            .wait_for(|s| (s.cursor == position).then_some(()))
            .await
            .is_none()
        {
            let cursor = self.state().cursor;
            let due = self
                .expected
                .get(cursor)
                .map(|(t, r)| format!("`{t}` in route {r:?}"))
                .unwrap_or_else(|| "nothing".into());
            return Err(self.problem(format!(
                "`{task}` in route {route:?} waited for its turn (Orquesta's completion {position}); \
                 the completion due is {due}, which weft did not start"
            )));
        }
        let (status, explicit) = outcome(&self.outcomes, &task, n);
        let result = explicit.unwrap_or_else(|| match &input.input {
            Value::Null => json!({}),
            given => given.clone(),
        });
        self.state().given.insert(input.instance, result.clone());
        if status == "failed" {
            Err(ActionError::with_result("mock failure", result))
        } else {
            Ok(result)
        }
    }

    /// Reads the run's events: routes of instances, and completions, which
    /// move the cursor on.
    async fn follow(&self, mut events: weft::EventStream) {
        while let Some(event) = events.next().await {
            let (instance, status) = match &event.kind {
                EventKind::TaskScheduled {
                    instance, route, ..
                } => {
                    self.state().routes.insert(*instance, route.to_vec());
                    self.changed();
                    continue;
                }
                EventKind::TaskSucceeded { instance, .. } => (*instance, "succeeded"),
                EventKind::TaskFailed { instance, .. } => (*instance, "failed"),
                EventKind::TaskTimedOut { instance, .. } => (*instance, "timed_out"),
                EventKind::TaskRetrying {
                    instance, error, ..
                } => (
                    *instance,
                    if error.is_some() {
                        "failed"
                    } else {
                        "succeeded"
                    },
                ),
                EventKind::TaskSkipped {
                    task,
                    instance: Some(instance),
                    reason,
                } => {
                    let mut s = self.state();
                    s.problems.push(format!(
                        "weft stopped `{task}` instance {instance}: {reason}"
                    ));
                    drop(s);
                    self.changed();
                    continue;
                }
                EventKind::RunEnded { .. } => break,
                _ => continue,
            };
            let mut s = self.state();
            let name = event_task(&event.kind);
            let route = s.routes.get(&instance).cloned().unwrap_or_default();
            let result = s.given.remove(&instance).unwrap_or(Value::Null);
            s.completed.push(json!({
                "id": name,
                "route": route,
                "status": status,
                "result": result,
            }));
            s.cursor += 1;
            drop(s);
            self.changed();
        }
    }
}

fn event_task(kind: &EventKind) -> String {
    match kind {
        EventKind::TaskSucceeded { task, .. }
        | EventKind::TaskFailed { task, .. }
        | EventKind::TaskTimedOut { task, .. }
        | EventKind::TaskRetrying { task, .. } => task.to_string(),
        _ => String::new(),
    }
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        _ => format!("{n}th"),
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(str_of).collect())
        .unwrap_or_default()
}

/// (status, explicit result) of attempt `n` (0-based) of `task`, as
/// `scripts/orquesta_conduct.py` reads the outcome table.
fn outcome(outcomes: &Map<String, Value>, task: &str, n: usize) -> (String, Option<Value>) {
    match outcomes.get(task) {
        None => ("succeeded".into(), None),
        Some(Value::String(s)) => (s.clone(), None),
        Some(spec) => {
            let statuses = match &spec["statuses"] {
                Value::Array(a) if !a.is_empty() => a.clone(),
                _ => vec![spec
                    .get("status")
                    .cloned()
                    .unwrap_or_else(|| json!("succeeded"))],
            };
            let status = str_of(&statuses[n.min(statuses.len() - 1)]);
            (status, spec.get("result").cloned())
        }
    }
}

// ---------------------------------------------------------------------------
// One case

/// weft's answer, in the shape of Orquesta's: status, output, tasks.
async fn weft_answer(case: &Value) -> Value {
    let seq = Arc::new(Sequencer::new(case));
    let mock = seq.clone();
    let executor = Executor::builder()
        .action("mock", move |input: ActionInput| {
            let seq = mock.clone();
            async move { seq.act(input).await }
        })
        .build();
    let text = str_of(&case["workflow"]);
    let plan = match Workflow::from_yaml_str(&text).and_then(|wf| wf.compile(&executor)) {
        Ok(plan) => plan,
        Err(e) => return json!({"refused": e.to_string()}),
    };
    let inputs = match &case["inputs"] {
        Value::Null => json!({}),
        v => v.clone(),
    };
    let mut run = match executor.start_with(&plan, inputs, RunOptions::new().with_events()) {
        Ok(run) => run,
        Err(e) => return json!({"refused": e.to_string()}),
    };
    let follower = {
        let seq = seq.clone();
        let events = run.events();
        tokio::spawn(async move { seq.follow(events).await })
    };
    let outcome = match tokio::time::timeout(RUN_WAIT, run).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(lost)) => return json!({"refused": format!("run lost: {lost}")}),
        Err(_) => return json!({"refused": "the run did not end in time"}),
    };
    let _ = tokio::time::timeout(STEP_WAIT, follower).await;
    let s = seq.state();
    let mut answer = json!({
        "status": outcome.status.as_str(),
        "output": normal_output(&outcome.output),
        "tasks": s.completed,
    });
    if !s.problems.is_empty() {
        answer["problems"] = json!(s.problems);
    }
    if !outcome.errors.is_empty() {
        answer["errors"] = json!(outcome
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.task.as_deref().unwrap_or("-"), e.message))
            .collect::<Vec<_>>());
    }
    answer
}

/// Orquesta gives no output (`None`) where weft gives an empty map.
fn normal_output(v: &Value) -> Value {
    match v {
        Value::Null => json!({}),
        v => v.clone(),
    }
}

/// What to compare of an answer.
fn comparable(answer: &Value) -> Value {
    json!({
        "status": answer["status"],
        "output": normal_output(&answer["output"]),
        "tasks": answer["tasks"],
    })
}

/// A readable account of a difference: which parts differ, both answers.
fn report(case: &Value, orquesta: &Value, weft: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["status", "output", "tasks"] {
        if orquesta[key] != weft[key] {
            parts.push(key);
        }
    }
    if weft.get("refused").is_some() {
        parts.push("refused");
    }
    format!(
        "case {} differs in {}\n--- workflow (outcomes {}, order {})\n{}--- Orquesta\n{}\n--- weft\n{}\n",
        str_of(&case["id"]),
        parts.join(", "),
        case["outcomes"],
        if case["order"].is_null() {
            format!("seed {}", case["order_seed"])
        } else {
            case["order"].to_string()
        },
        str_of(&case["workflow"]),
        pretty(orquesta),
        pretty(weft),
    )
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// How weft's answer to a case compares with Orquesta's.
enum Verdict {
    /// The same status, output and task executions.
    Agrees,
    /// Different, and the same as the answer of Orquesta's conductor
    /// changed to keep one context for the whole run, as weft did before
    /// it had branch scope: a regression.
    BranchScope(String),
    /// Different for one of the other documented reasons.
    Documented(Cause, String),
    /// Different for another reason.
    Other(String),
}

/// The documented difference other than branch scope that explains a
/// case, read from both answers.
fn other_cause(orquesta: &Value, weft: &Value) -> Option<Cause> {
    let errors = weft["errors"].to_string();
    if orquesta["join_reruns"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        Some(Cause::JoinRunsAgain)
    } else if errors.contains("join can never be satisfied") {
        Some(Cause::JoinFailsFast)
    } else if errors.contains("transitioned to `fail`") && orquesta["status"] == "failed" {
        Some(Cause::FailStartsSiblings)
    } else {
        None
    }
}

/// Runs `cases` in weft, and compares each with Orquesta's answers.
async fn verdicts(cases: &[Value]) -> Vec<(String, Verdict)> {
    let mut out = Vec::new();
    for case in cases {
        let weft = weft_answer(case).await;
        let orquesta = comparable(&case["answer"]);
        let id = str_of(&case["id"]);
        // A documented cause first: where it applies (an unsatisfiable join
        // failing weft's run at once, say), weft's answer may happen to be
        // the one-context answer too.
        let verdict = if weft.get("refused").is_none() && comparable(&weft) == orquesta {
            Verdict::Agrees
        } else if let Some(cause) = other_cause(&case["answer"], &weft) {
            Verdict::Documented(cause, report(case, &orquesta, &weft))
        } else if weft.get("refused").is_none()
            && comparable(&weft) == comparable(&case["answer"]["one_context"])
        {
            Verdict::BranchScope(report(case, &orquesta, &weft))
        } else {
            Verdict::Other(report(case, &orquesta, &weft))
        };
        out.push((id, verdict));
    }
    out
}

fn load_corpus() -> Value {
    let path = root().join("tests/orquesta/corpus.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_cases_agree_with_orquesta() {
    let corpus = load_corpus();
    let cases = corpus["cases"].as_array().cloned().unwrap_or_default();
    assert!(cases.len() >= 300, "the corpus has {} cases", cases.len());
    let verdicts = verdicts(&cases).await;

    let known: HashMap<&str, Cause> = KNOWN.iter().copied().collect();
    let mut failures = Vec::new();
    let mut agree = 0;
    let mut by_cause: HashMap<Cause, usize> = HashMap::new();
    for (id, verdict) in &verdicts {
        match (verdict, known.get(id.as_str())) {
            (Verdict::Agrees, None) => agree += 1,
            (Verdict::Agrees, Some(_)) => failures.push(format!(
                "case {id} now agrees with Orquesta: remove it from KNOWN"
            )),
            (Verdict::Documented(found, _), Some(cause)) if found == cause => {
                *by_cause.entry(*cause).or_default() += 1
            }
            (Verdict::Documented(found, text), _) => failures.push(format!(
                "{text}(a difference from: {}; KNOWN says {:?})",
                found.describe(),
                known.get(id.as_str())
            )),
            (Verdict::Other(text), Some(cause)) => failures.push(format!(
                "{text}(listed as {cause:?}, but that does not explain it)"
            )),
            // weft has branch scope: the answer of one run-wide context
            // is a regression, listed or not.
            (Verdict::BranchScope(text), _) => failures.push(format!(
                "{text}(weft gave the answer of one run-wide context: branch scope is broken)"
            )),
            (Verdict::Other(text), None) => failures.push(text.clone()),
        }
    }
    let unused: Vec<&str> = KNOWN
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !verdicts.iter().any(|(v, _)| v == id))
        .collect();
    if !unused.is_empty() {
        failures.push(format!("KNOWN names cases the corpus lacks: {unused:?}"));
    }

    println!(
        "{} cases answered by Orquesta {}: {agree} agree, {} known differences",
        cases.len(),
        corpus["orquesta"],
        by_cause.values().sum::<usize>(),
    );
    let mut causes: Vec<_> = by_cause.into_iter().collect();
    causes.sort();
    for (cause, n) in causes {
        println!("  {n:4} {}", cause.describe());
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Fresh random workflows, generated and answered by Orquesta now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(weft_orquesta_live),
    ignore = "set WEFT_ORQUESTA_PYTHON to a Python that can `import orquesta` and rebuild"
)]
async fn live_random_cases() {
    let python = option_env!("WEFT_ORQUESTA_LIVE_PYTHON").unwrap_or("python3");
    let seed: u64 = std::env::var("WEFT_ORQUESTA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() % 1_000_000_000)
                .unwrap_or(1)
        });
    println!("live cases from seed {seed} (WEFT_ORQUESTA_SEED={seed} repeats them)");
    let out = std::process::Command::new(python)
        .arg(root().join("scripts/orquesta_conduct.py"))
        .args(["generate", "--seed", &seed.to_string(), "--count", "100"])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    assert!(
        out.status.success(),
        "{python} scripts/orquesta_conduct.py generate failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answered: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    let cases = answered["cases"].as_array().cloned().unwrap_or_default();
    let verdicts = verdicts(&cases).await;
    let scope = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::BranchScope(_)))
        .count();
    let documented = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Documented(..)))
        .count();
    let others: Vec<&str> = verdicts
        .iter()
        .filter_map(|(_, v)| match v {
            // weft has branch scope: the one-context answer is a bug too.
            Verdict::Other(text) | Verdict::BranchScope(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    println!(
        "{} live cases: {} agree, {documented} differ by a documented difference, {} \
         otherwise ({scope} of them with the one-context answer)",
        cases.len(),
        cases.len() - documented - others.len(),
        others.len()
    );
    assert!(
        others.is_empty(),
        "{} of {} live cases (seed {seed}) differ from Orquesta {} for a reason not documented:\n{}",
        others.len(),
        cases.len(),
        answered["orquesta"],
        others.join("\n")
    );
}
