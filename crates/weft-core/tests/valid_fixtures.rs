//! The valid fixtures: realistic workflows that together use every key of
//! the language. Each loads, compiles and survives a round trip through
//! YAML (and JSON); a few have their compiled plans checked in detail.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use weft_core::def::{Backoff, JoinDef, Publish};
use weft_core::engine::{Join, Num, Target, TaskPlan};
use weft_core::{ErrorKind, Plan, TaskId, TaskStatus, ValueTemplate, Workflow, WorkflowDef};

const CATALOG: &[&str] = &[
    "core.noop",
    "core.echo",
    "core.sleep",
    "core.fail",
    "core.local",
    "demo.greet",
];

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture directory is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/valid")
        .join(name)
}

fn compile(name: &str) -> Plan {
    let path = fixture(name);
    let wf = Workflow::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    wf.compile(CATALOG).unwrap_or_else(|e| panic!("{e}"))
}

fn task<'p>(plan: &'p Plan, name: &str) -> &'p TaskPlan {
    let id = plan
        .task_id(name)
        .unwrap_or_else(|| panic!("no task `{name}`"));
    plan.task(id)
}

fn id(plan: &Plan, name: &str) -> TaskId {
    plan.task_id(name)
        .unwrap_or_else(|| panic!("no task `{name}`"))
}

/// The fixture at `path`, loaded and compiled (a failure names the file).
fn compiled(path: &std::path::Path) -> (Workflow, Plan) {
    let wf = Workflow::from_file(path).unwrap_or_else(|e| panic!("{e}"));
    let plan = wf
        .compile(CATALOG)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (wf, plan)
}

fn names(plan: &Plan, ids: &[TaskId]) -> Vec<String> {
    ids.iter().map(|&i| plan.task(i).name.to_string()).collect()
}

fn constant(n: Option<&Num>) -> Option<f64> {
    match n {
        Some(Num::Const(x)) => Some(*x),
        _ => None,
    }
}

#[test]
fn there_are_enough_valid_fixtures() {
    let files = fixtures();
    assert!(
        (6..=10).contains(&files.len()),
        "expected 6 to 10 valid fixtures, found {}",
        files.len()
    );
    assert!(
        files
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "json")),
        "at least one valid fixture should be JSON"
    );
}

#[test]
fn every_valid_fixture_loads_compiles_and_round_trips() {
    for path in fixtures() {
        let shown = path.display();
        let (wf, plan) = compiled(&path);
        assert_eq!(plan.tasks().len(), wf.def().tasks.len(), "{shown}");
        assert!(!plan.starts().is_empty(), "{shown}: no start task");
        assert_eq!(
            wf.name(),
            path.file_stem().and_then(|s| s.to_str()),
            "{shown}"
        );
        assert_eq!(Some(&**plan.name()), wf.name(), "{shown}");

        // YAML round trip.
        let yaml = wf.to_yaml_string().unwrap_or_else(|e| panic!("{e}"));
        let again = Workflow::from_yaml_str(&yaml)
            .unwrap_or_else(|e| panic!("{shown}: the written YAML does not load: {e}\n{yaml}"));
        assert_eq!(again.def(), wf.def(), "{shown}: YAML round trip differs");
        again
            .compile(CATALOG)
            .unwrap_or_else(|e| panic!("{shown}: the written YAML does not compile: {e}"));

        // JSON round trip.
        let json = serde_json::to_string_pretty(wf.def()).expect("definitions serialize");
        let again = Workflow::from_json_str(&json)
            .unwrap_or_else(|e| panic!("{shown}: the written JSON does not load: {e}\n{json}"));
        assert_eq!(again.def(), wf.def(), "{shown}: JSON round trip differs");
    }
}

/// A plan's table of flags says what each task's own plan says, for every
/// fixture (which together use every key): a runtime reads the flags
/// instead of the task, and would skip a retry, a timeout or a delay that
/// a wrong flag hid.
#[test]
fn every_fixture_plan_flags_agree_with_its_tasks() {
    let mut seen = [false; 9];
    let mut edges_seen = [false; 3];
    for path in fixtures() {
        let shown = path.display();
        let (_, plan) = compiled(&path);
        for t in plan.tasks() {
            let f = plan.flags(t.id);
            let empty_input =
                matches!(&t.input, ValueTemplate::Static(Value::Object(m)) if m.is_empty());
            let facts = [
                (f.retry(), t.retry.is_some()),
                (f.timeout(), t.timeout.is_some()),
                (f.with(), t.with.is_some()),
                (f.delay(), t.delay.is_some()),
                (f.dynamic_action(), t.dynamic_action.is_some()),
                (f.empty_input(), empty_input),
                (f.no_next(), t.next.is_empty()),
                (f.plain_next(), t.plain_next),
                (f.split(), t.split),
            ];
            for (i, (flag, fact)) in facts.into_iter().enumerate() {
                assert_eq!(flag, fact, "{shown}: task `{}`, flag {i}", t.name);
                seen[i] |= fact;
            }
            assert_eq!(plan.is_split(t.id), t.split, "{shown}: `{}`", t.name);
            let kinds = assert_plain_edges(&plan, t, &shown.to_string());
            for (seen, kind) in edges_seen.iter_mut().zip(kinds) {
                *seen |= kind;
            }
        }
    }
    assert_eq!(
        edges_seen, [true; 3],
        "the fixtures have plain tasks with several transitions, with several targets \
         in one transition, and with a transition taken on failure only"
    );
    // No fixture names its action by an expression.
    let text = "vars:\n  - act: core.noop\ntasks:\n  a: {action: '{{ ctx().act }}'}\n";
    let plan = Workflow::from_yaml_str(text)
        .and_then(|wf| wf.compile(CATALOG))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = id(&plan, "a");
    assert!(task(&plan, "a").dynamic_action.is_some());
    seen[4] |= plan.flags(a).dynamic_action();
    assert_eq!(seen, [true; 9], "the fixtures set every flag somewhere");
}

/// A plan's table of plain edges lists, for a task whose `next` is plain,
/// each target of each transition in order, taken by the statuses its
/// transition's `when` is taken by; and nothing for any other task.
/// Says which kinds of plain `next` the task has: several transitions,
/// a transition with several targets, a transition taken on failure only.
fn assert_plain_edges(plan: &Plan, t: &TaskPlan, shown: &str) -> [bool; 3] {
    let edges = plan.plain_edges(t.id);
    if !t.plain_next {
        assert!(edges.is_empty(), "{shown}: `{}` has plain edges", t.name);
        return [false; 3];
    }
    let mut expected = Vec::new();
    for (ti, tr) in t.next.iter().enumerate() {
        for target in &tr.targets {
            let Target::Task(n) = *target else {
                panic!("{shown}: `{}` is plain with a command", t.name);
            };
            expected.push((n, ti as u32));
        }
    }
    let got: Vec<(TaskId, u32)> = edges.iter().map(|e| (e.target, e.transition)).collect();
    assert_eq!(got, expected, "{shown}: `{}`", t.name);
    for e in edges {
        let tr = &t.next[e.transition as usize];
        for s in [
            TaskStatus::Pending,
            TaskStatus::Running,
            TaskStatus::Succeeded,
            TaskStatus::Failed,
            TaskStatus::TimedOut,
            TaskStatus::Canceled,
        ] {
            assert_eq!(
                Some(e.taken_by(s)),
                tr.taken_by_status(s),
                "{shown}: `{}`, transition {}, {s}",
                t.name,
                e.transition
            );
        }
    }
    [
        t.next.len() > 1,
        t.next.iter().any(|tr| tr.targets.len() > 1),
        edges
            .iter()
            .any(|e| e.taken_by(TaskStatus::Failed) && !e.taken_by(TaskStatus::Succeeded)),
    ]
}

/// The fixtures together must use every part of the language, so that the
/// round trip and compile checks above cover all of it.
#[test]
fn valid_fixtures_cover_the_whole_language() {
    let mut seen = BTreeSet::new();
    let mut see = |what: &'static str, cond: bool| {
        if cond {
            seen.insert(what);
        }
    };
    for path in fixtures() {
        let text = fs::read_to_string(&path).expect("fixture is readable");
        let (wf, plan) = compiled(&path);
        let def: &WorkflowDef = wf.def();
        let json = path.extension().is_some_and(|e| e == "json");
        see("json", json);
        see("version", def.version.is_some());
        see("description", def.description.is_some());
        see(
            "input required",
            def.input.iter().any(|i| i.default.is_none()),
        );
        see(
            "input default",
            def.input.iter().any(|i| i.default.is_some()),
        );
        see("vars as list", !json && text.contains("\nvars:\n  - "));
        see(
            "vars as map",
            !def.vars.is_empty() && (json || !text.contains("\nvars:\n  - ")),
        );
        see("output as list", !json && text.contains("\noutput:\n  - "));
        see(
            "output as map",
            !def.output.is_empty() && (json || !text.contains("\noutput:\n  - ")),
        );
        see(
            "do as string",
            text.contains("do: \"") || text.contains("\"do\": \""),
        );
        see(
            "do as list",
            text.contains("do: [") || text.contains("\"do\": ["),
        );
        see("with as string", text.contains("with: \""));
        see("with as map", text.contains("items:"));
        see("with x in", text.contains(" in {{"));
        see(
            "with x, y in",
            text.contains(", ") && text.contains(" in {{ zip("),
        );
        see("statement template", text.contains("{%"));
        for (name, t) in &def.tasks {
            let p = task(&plan, name);
            see("task without action", t.action.is_none());
            see(
                "inline action parameters",
                t.action
                    .as_deref()
                    .is_some_and(|a| a.trim().contains(char::is_whitespace)),
            );
            see("task input", t.input.is_some());
            see("next", !t.next.is_empty());
            see("join all", t.join == Some(JoinDef::All));
            see("join N", matches!(t.join, Some(JoinDef::Count(_))));
            see(
                "with concurrency",
                t.with.as_ref().is_some_and(|w| w.concurrency.is_some()),
            );
            see("delay", t.delay.is_some());
            see("timeout", t.timeout.is_some());
            see("dotted task name", name.contains('.'));
            if let Some(r) = &t.retry {
                see("retry", true);
                see("retry when", r.when.is_some());
                see("retry delay", r.delay.is_some());
                see("retry max_delay", r.max_delay.is_some());
                see("backoff linear", r.backoff == Backoff::Linear);
                see("backoff exponential", r.backoff == Backoff::Exponential);
            }
            for tr in &t.next {
                see("when", tr.when.is_some());
                see("transition without when", tr.when.is_none());
                see("publish", !tr.publish.is_empty());
                see("inline publish", matches!(tr.publish, Publish::Inline(_)));
            }
            for tr in &p.next {
                for target in &tr.targets {
                    see("engine fail", *target == Target::Fail);
                    see("engine noop", *target == Target::Noop);
                    see("engine continue", *target == Target::Continue);
                }
            }
            see(
                "loop",
                p.next.iter().any(|tr| {
                    tr.targets.iter().any(|tg| match tg {
                        Target::Task(n) => plan
                            .task(*n)
                            .next
                            .iter()
                            .any(|back| back.targets.contains(&Target::Task(p.id))),
                        _ => false,
                    })
                }),
            );
        }
    }
    let wanted = [
        "json",
        "version",
        "description",
        "input required",
        "input default",
        "vars as list",
        "vars as map",
        "output as list",
        "output as map",
        "do as string",
        "do as list",
        "with as string",
        "with as map",
        "with x in",
        "with x, y in",
        "statement template",
        "task without action",
        "inline action parameters",
        "task input",
        "next",
        "join all",
        "join N",
        "with concurrency",
        "delay",
        "timeout",
        "dotted task name",
        "retry",
        "retry when",
        "retry delay",
        "retry max_delay",
        "backoff linear",
        "backoff exponential",
        "when",
        "transition without when",
        "publish",
        "inline publish",
        "engine fail",
        "engine noop",
        "engine continue",
        "loop",
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !seen.contains(w))
        .collect();
    assert!(missing.is_empty(), "no valid fixture uses: {missing:?}");
}

#[test]
fn deploy_plan_has_the_expected_shape() {
    let plan = compile("deploy.yaml");
    assert_eq!(plan.description(), Some("deploy to every region"));
    assert_eq!(names(&plan, plan.starts()), ["validate"]);

    let validate = task(&plan, "validate");
    assert_eq!(validate.action.as_deref(), Some("demo.greet"));
    assert_eq!(validate.inbound_transitions, 0);
    assert_eq!(validate.next.len(), 2);
    assert_eq!(
        validate.next[0].targets,
        [Target::Task(id(&plan, "deploy"))]
    );
    assert_eq!(
        validate.next[0]
            .publish
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["summary", "attempts"],
        "publish keeps its order"
    );
    assert_eq!(
        validate.next[1].targets,
        [Target::Task(id(&plan, "notify")), Target::Fail]
    );
    let retry = validate.retry.as_ref().expect("validate retries");
    assert_eq!(retry.backoff, Backoff::Exponential);
    assert!(
        matches!(retry.count, Num::Expr(_)),
        "count is an expression"
    );
    assert_eq!(constant(retry.delay.as_ref()), Some(0.5));
    assert_eq!(constant(retry.max_delay.as_ref()), Some(10.0));
    assert_eq!(retry.delay_for(1, 0.5, Some(10.0)), 0.5);
    assert_eq!(retry.delay_for(3, 0.5, Some(10.0)), 2.0);
    assert_eq!(retry.delay_for(10, 0.5, Some(10.0)), 10.0);
    assert_eq!(constant(validate.timeout.as_ref()), Some(30.0));

    let deploy = task(&plan, "deploy");
    let with = deploy.with.as_ref().expect("deploy has items");
    assert_eq!(with.names, ["region"]);
    assert_eq!(constant(with.concurrency.as_ref()), Some(2.0));
    assert_eq!(deploy.inbound, [id(&plan, "validate")]);
    assert_eq!(deploy.inbound_transitions, 1);

    let report = task(&plan, "report");
    assert_eq!(report.join, Some(Join::All));
    assert_eq!(report.inbound, [id(&plan, "deploy")]);

    let notify = task(&plan, "notify");
    assert!(notify.next.is_empty());
    assert!(notify.join.is_none());

    assert_eq!(
        plan.output()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["deployed", "count", "summary"]
    );
    assert_eq!(
        plan.vars()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["deployed", "attempts"]
    );
}

#[test]
fn joins_and_engine_commands_compile_to_targets() {
    let plan = compile("first_responder.yaml");
    assert_eq!(names(&plan, plan.starts()), ["start"]);
    let start = task(&plan, "start");
    assert!(start.action.is_none(), "a task without action only routes");
    assert_eq!(
        start.next[0].targets,
        ["ask_eu", "ask_us", "ask_ap"].map(|n| Target::Task(id(&plan, n)))
    );
    let quorum = task(&plan, "quorum");
    assert_eq!(quorum.join, Some(Join::Count(2)));
    assert_eq!(quorum.inbound_transitions, 3);
    assert_eq!(
        names(&plan, &quorum.inbound),
        ["ask_eu", "ask_us", "ask_ap"]
    );
    assert_eq!(task(&plan, "ask_ap").next[1].targets, [Target::Noop]);
    assert_eq!(constant(task(&plan, "ask_us").delay.as_ref()), Some(0.05));
    assert_eq!(constant(task(&plan, "ask_ap").timeout.as_ref()), Some(1.5));

    // A loop: `check` is entered from `begin` and again from `wait`.
    let plan = compile("poll_until_ready.yaml");
    assert_eq!(names(&plan, plan.starts()), ["begin"]);
    let check = task(&plan, "check");
    assert_eq!(check.inbound_transitions, 2);
    assert_eq!(names(&plan, &check.inbound), ["begin", "wait"]);
    assert_eq!(check.next.len(), 4, "transitions keep their order");
    assert_eq!(check.next[3].targets, [Target::Continue]);
    assert!(check.next.iter().all(|t| t.when.is_some()));
    assert_eq!(
        task(&plan, "wait").next[0].targets,
        [Target::Task(check.id)]
    );
}

#[test]
fn plain_next_marks_transitions_taken_by_status_alone() {
    let yaml = r#"
tasks:
  a:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        do: [b, c]
      - when: "{{ failed() }}"
        do: c
  b:
    action: core.noop
    next:
      - do: c
  c:
    action: core.noop
    join: all
    next:
      - when: "{{ result() == 1 }}"
        do: d
  d:
    action: core.noop
    next:
      - publish:
          - x: 1
        do: e
  e:
    action: core.noop
    next:
      - do: [f, noop]
  f:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
  g:
    action: core.noop
"#;
    let plan = Workflow::from_yaml_str(yaml)
        .and_then(|wf| wf.compile(CATALOG))
        .unwrap_or_else(|e| panic!("{e}"));
    let plain = |name: &str| task(&plan, name).plain_next;
    assert!(plain("a"), "status tests and tasks only");
    assert!(plain("b"), "no `when`");
    assert!(!plain("c"), "a `when` that reads the result");
    assert!(!plain("d"), "a publish");
    assert!(!plain("e"), "an engine command");
    assert!(!plain("f"), "a transition without `do`");
    assert!(!plain("g"), "no `next`");

    // Each transition's decision by status, made when the plan compiled.
    use weft_core::TaskStatus::{Canceled, Failed, Succeeded, TimedOut};
    let by = |name: &str, i: usize| {
        let tr = &task(&plan, name).next[i];
        [Succeeded, Failed, TimedOut, Canceled].map(|s| tr.taken_by_status(s))
    };
    let s = Some;
    assert_eq!(by("a", 0), [s(true), s(false), s(false), s(false)]);
    assert_eq!(by("a", 1), [s(false), s(true), s(true), s(false)]);
    assert_eq!(by("b", 0), [s(true); 4], "no `when`: taken on any status");
    assert_eq!(by("c", 0), [None; 4], "a `when` that reads the result");
    assert_eq!(plan.joins(), [id(&plan, "c")], "the plan's list of joins");
    let [spec] = plan.join_specs() else {
        panic!("one join's entry: {:?}", plan.join_specs());
    };
    assert_eq!(spec.task, id(&plan, "c"));
    assert_eq!(*spec.inbound, *task(&plan, "c").inbound, "its branches");
    assert_eq!(spec.need, 2, "`join: all` needs both branches, `a` and `b`");

    // A status function inside a larger expression is evaluated; YAQL's
    // bare status functions are decided by status, as Jinja's.
    let yaml = r#"
vars:
  - go: true
tasks:
  a:
    action: core.noop
    next:
      - when: "{{ succeeded() and ctx().go }}"
        do: b
      - when: "<% succeeded() %>"
        do: b
      - when: "<% not succeeded() %>"
        do: b
      - when: "<% completed() %>"
        do: b
  b:
    action: core.noop
"#;
    let plan = Workflow::from_yaml_str(yaml)
        .and_then(|wf| wf.compile(CATALOG))
        .unwrap_or_else(|e| panic!("{e}"));
    let by = |i: usize| {
        let tr = &task(&plan, "a").next[i];
        [Succeeded, Failed, TimedOut, Canceled].map(|s| tr.taken_by_status(s))
    };
    assert_eq!(by(0), [None; 4], "`succeeded() and ctx().go` is evaluated");
    assert_eq!(by(1), [s(true), s(false), s(false), s(false)]);
    assert_eq!(by(2), [None; 4], "`not succeeded()` is evaluated");
    assert_eq!(by(3), [s(true); 4], "`completed()`: every end");

    // A join on a count needs that many of its branches.
    let yaml = r#"
tasks:
  a:
    action: core.noop
    next:
      - do: [b, c, d]
  b:
    action: core.noop
    next:
      - do: [two, three]
  c:
    action: core.noop
    next:
      - do: [two, three]
  d:
    action: core.noop
    next:
      - do: [two, three]
  two:
    action: core.noop
    join: 2
  three:
    action: core.noop
    join: 3
"#;
    let plan = Workflow::from_yaml_str(yaml)
        .and_then(|wf| wf.compile(CATALOG))
        .unwrap_or_else(|e| panic!("{e}"));
    let need = |name: &str| {
        let spec = plan
            .join_specs()
            .iter()
            .find(|j| j.task == id(&plan, name))
            .unwrap_or_else(|| panic!("{name} is a join: {:?}", plan.join_specs()));
        assert_eq!(
            *spec.inbound,
            *task(&plan, name).inbound,
            "{name}'s branches"
        );
        assert_eq!(spec.inbound.len(), 3, "{name}'s branches: b, c and d");
        spec.need
    };
    assert_eq!(need("two"), 2, "`join: 2` of three branches");
    assert_eq!(need("three"), 3, "`join: 3` of three branches");
}

#[test]
fn json_fixture_uses_string_do_and_map_sections() {
    let plan = compile("etl.json");
    assert_eq!(names(&plan, plan.starts()), ["extract"]);
    let extract = task(&plan, "extract");
    assert_eq!(
        extract.next[0].targets,
        [
            Target::Task(id(&plan, "transform")),
            Target::Task(id(&plan, "audit"))
        ],
        "`do: \"transform, audit\"` names two tasks"
    );
    assert_eq!(extract.next[1].targets, [Target::Fail]);
    let load = task(&plan, "load");
    assert_eq!(load.join, Some(Join::All));
    assert_eq!(names(&plan, &load.inbound), ["transform", "audit"]);
    assert_eq!(
        load.retry.as_ref().map(|r| r.backoff),
        Some(Backoff::Linear)
    );
    assert_eq!(load.next[1].targets, [Target::Noop]);
    assert!(load.next[0].targets.is_empty(), "publish without `do`");
    assert_eq!(
        plan.vars()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["loaded", "errors"],
        "a map of vars keeps file order"
    );
    assert_eq!(
        plan.output()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["loaded", "source"]
    );

    let plan = compile("release_train.yaml");
    let build = task(&plan, "build");
    assert_eq!(
        build.next[0].targets,
        ["test.linux", "test.macos"].map(|n| Target::Task(id(&plan, n)))
    );
    assert_eq!(task(&plan, "gate").join, Some(Join::All));
    assert!(task(&plan, "gate").action.is_none());
    assert_eq!(
        names(&plan, &task(&plan, "notify.ops").inbound),
        ["build", "gate"]
    );
}

#[test]
fn bind_inputs_applies_defaults_in_order() {
    let plan = compile("deploy.yaml");
    let bound = plan
        .bind_inputs(json!({"app": "shop", "regions": ["eu", "us"]}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        bound,
        json!({
            "app": "shop",
            "regions": ["eu", "us"],
            "retries": 3,
            "label": "shop-release",
        }),
        "defaults fill in, and a default may use inputs declared before it"
    );

    let given = plan
        .bind_inputs(json!({"app": "shop", "regions": [], "retries": 0, "label": "x"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        given["retries"],
        json!(0),
        "a given value beats the default"
    );
    assert_eq!(given["label"], json!("x"));

    // Declared order is kept whatever order the caller used.
    let keys: Vec<String> = match plan
        .bind_inputs(json!({"regions": [], "app": "a"}))
        .unwrap_or_else(|e| panic!("{e}"))
    {
        Value::Object(m) => m.keys().cloned().collect(),
        other => panic!("inputs bound to {other}"),
    };
    assert_eq!(keys, ["app", "regions", "retries", "label"]);

    // Everything has a default: no inputs at all is fine.
    let plan = compile("first_responder.yaml");
    assert_eq!(
        plan.bind_inputs(Value::Null)
            .unwrap_or_else(|e| panic!("{e}")),
        json!({"mirrors": ["eu", "us", "ap"]})
    );
}

#[test]
fn bind_inputs_of_a_workflow_without_inputs() {
    let plan = Workflow::from_yaml_str("tasks:\n  t: {action: core.noop}\n")
        .and_then(|wf| wf.compile(CATALOG))
        .unwrap_or_else(|e| panic!("{e}"));
    for none in [Value::Null, json!({})] {
        assert_eq!(
            plan.bind_inputs(none).unwrap_or_else(|e| panic!("{e}")),
            json!({}),
            "no inputs bind to an empty map"
        );
    }
    let err = plan
        .bind_inputs(json!({"app": "shop"}))
        .expect_err("`app` is not declared");
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.message().contains("unknown input `app`"), "{err}");
    assert!(err.message().contains("it declares none"), "{err}");
    assert_eq!(err.field(), Some("input.app"));
    let err = plan
        .bind_inputs(json!("shop"))
        .expect_err("inputs must be a map");
    assert!(err.message().contains("not a string"), "{err}");
}

#[test]
fn bind_inputs_names_what_is_wrong() {
    let plan = compile("deploy.yaml");

    let err = plan
        .bind_inputs(json!({"app": "shop"}))
        .expect_err("`regions` is required");
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(
        err.message().contains("missing required input `regions`"),
        "{err}"
    );
    assert_eq!(err.field(), Some("input.regions"));

    let err = plan
        .bind_inputs(json!({}))
        .expect_err("`app` and `regions` are required");
    assert!(
        err.message()
            .contains("missing required inputs `app`, `regions`"),
        "{err}"
    );

    let err = plan
        .bind_inputs(json!({"app": "shop", "regions": [], "region": "eu"}))
        .expect_err("`region` is not declared");
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.message().contains("unknown input `region`"), "{err}");
    assert!(
        err.message()
            .contains("it declares: app, regions, retries, label"),
        "{err}"
    );
    assert_eq!(err.field(), Some("input.region"));

    let err = plan
        .bind_inputs(json!(["shop"]))
        .expect_err("inputs must be a map");
    assert!(err.message().contains("not a list"), "{err}");

    let plan = Workflow::from_yaml_str(
        "input:\n  - label: \"{{ parameters.app }}-x\"\n  - app\ntasks:\n  t: {action: core.noop}\n",
    )
    .and_then(|wf| wf.compile(CATALOG))
    .unwrap_or_else(|e| panic!("{e}"));
    let err = plan
        .bind_inputs(json!({"app": "a"}))
        .expect_err("the default uses an input declared after it");
    assert_eq!(err.field(), Some("input.label"));
    assert!(
        err.message()
            .contains("a default may use only the inputs declared before it"),
        "{err}"
    );

    let plan = compile("hello.yaml");
    let err = plan
        .bind_inputs(json!({"name": "x"}))
        .expect_err("hello declares no inputs");
    assert!(err.message().contains("it declares none"), "{err}");
}

#[test]
fn inline_fixture_compiles_parameters_to_input_and_strings_to_publish() {
    let plan = compile("inline.yaml");
    let greet = task(&plan, "greet");
    assert_eq!(greet.action.as_deref(), Some("demo.greet"));
    let mut ctx =
        weft_core::WorkflowContext::new(json!({"guests": ["ann", "bo"], "greeting": "hi"}), []);
    ctx.set_current_item(json!({"guest": "bo"}), 1);
    assert_eq!(
        greet.input.render(&ctx).unwrap_or_else(|e| panic!("{e}")),
        json!({"name": "bo", "greeting": "hi", "position": 1})
    );
    let publish_names = |n: usize| -> Vec<&str> {
        greet.next[n]
            .publish
            .iter()
            .map(|(k, _)| k.as_str())
            .collect()
    };
    assert_eq!(publish_names(0), ["greeted", "last", "checked"]);
    assert_eq!(publish_names(1), ["greeted", "reason"], "a folded string");
    let settle = task(&plan, "settle");
    assert_eq!(settle.action.as_deref(), Some("core.sleep"));
    assert_eq!(
        settle.input.render(&ctx).ok(),
        Some(json!({"seconds": 0.01}))
    );
}
