//! Orquesta's inline syntax, loaded and compiled: action parameters after
//! the action's name (`action: core.echo message="hi" count=3`) become the
//! task's input, a `publish` string (`publish: a=1 b="x"`) the transition's
//! publish list; every mistake in them is an error at its line and column.

use serde_json::{json, Value};
use weft_core::def::Publish;
use weft_core::engine::{Target, TaskPlan};
use weft_core::{Error, ErrorKind, Format, Plan, Workflow, WorkflowContext};

const CATALOG: &[&str] = &["core.echo", "core.noop"];

/// Orquesta's engine-observed case `inline-params-and-publish` (Orquesta
/// reads it with `orquesta/utils/parameters.py`), as written there.
const ORQUESTA_CASE: &str = r#"version: 1.0
input:
  - n: 41
tasks:
  t1:
    action: core.echo message="hello world" count=3 ratio=0.5 flag=TRUE nothing=null word=hello expr={{ ctx("n") + 1 }} lst=[1, 2] obj='{"a":1}'
    next:
      - when: '{{ succeeded() }}'
        publish: i=123 j="abc" k=true f=-0.5 n2=null q='123' d='{"a":1}' e={{ ctx("n") + 1 }} s="x y z", t=False; u=.5 v=0123 w=12abc
        do: "t2, t3"
  t2:
    action: core.noop
  t3:
    action: core.noop
"#;

/// The case with the two pairs Orquesta drops text from written as weft's
/// errors say: `word=hello` (dropped whole) left out, `w=12abc` (read as
/// `12`) written `w=12`.
fn orquesta_case_fixed() -> String {
    ORQUESTA_CASE
        .replace(" word=hello", "")
        .replace("w=12abc", "w=12")
}

fn compile(text: &str) -> Result<Plan, Error> {
    Workflow::from_str_named(text, Format::Yaml, "wf.yaml")?.compile(CATALOG)
}

fn compiled(text: &str) -> Plan {
    compile(text).unwrap_or_else(|e| panic!("{e}"))
}

fn failed(text: &str) -> Error {
    match compile(text) {
        Ok(_) => panic!("compiled, but should have failed:\n{text}"),
        Err(e) => e,
    }
}

fn task<'p>(plan: &'p Plan, name: &str) -> &'p TaskPlan {
    plan.task(plan.task_id(name).expect("the task exists"))
}

/// The 1-based line and column where `needle` first appears in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).expect("the needle is in the text");
    let line = text[..at].matches('\n').count() + 1;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..at].chars().count() + 1)
}

fn located(e: &Error) -> (Option<usize>, Option<usize>) {
    (e.line(), e.column())
}

#[test]
fn orquesta_case_compiles_to_the_values_orquesta_reads() {
    let plan = compiled(&orquesta_case_fixed());
    let t1 = task(&plan, "t1");
    assert_eq!(t1.action.as_deref(), Some("core.echo"));
    // The input is rendered when the task starts: with n = 41 the
    // expression gives 42, the rest is as Orquesta parsed it.
    let mut ctx = WorkflowContext::new(json!({"n": 41}), []);
    let input = t1.input.render(&ctx).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        input,
        json!({
            "message": "hello world",
            "count": 3,
            "ratio": 0.5,
            "flag": true,
            "nothing": null,
            "expr": 42,
            "lst": [1, 2],
            "obj": {"a": 1}
        })
    );
    let keys: Vec<&str> = input
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["message", "count", "ratio", "flag", "nothing", "expr", "lst", "obj"],
        "parameters keep their order"
    );

    let publish = &t1.next[0].publish;
    ctx.publish_compiled(publish)
        .unwrap_or_else(|e| panic!("{e}"));
    let published: Vec<(&str, Value)> = publish
        .iter()
        .map(|(name, _)| {
            let v = ctx.get_var(name).expect("published");
            (name.as_str(), (*v).clone())
        })
        .collect();
    // The output Orquesta's conductor gave for this case (expected.json),
    // in publish order.
    assert_eq!(
        published,
        [
            ("i", json!(123)),
            ("j", json!("abc")),
            ("k", json!(true)),
            ("f", json!(-0.5)),
            ("n2", json!(null)),
            ("q", json!("123")),
            ("d", json!({"a": 1})),
            ("e", json!(42)),
            ("s", json!("x y z")),
            ("t", json!(false)),
            ("u", json!(".5")),
            ("v", json!("0123")),
            ("w", json!(12)),
        ]
    );
    let targets: Vec<u32> = t1.next[0]
        .targets
        .iter()
        .filter_map(|t| match t {
            Target::Task(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        [
            plan.task_id("t2").expect("t2"),
            plan.task_id("t3").expect("t3")
        ]
    );
}

#[test]
fn orquesta_case_as_written_names_each_pair_orquesta_drops_text_from() {
    let e = failed(ORQUESTA_CASE);
    let errors: Vec<&Error> = e.all().collect();
    assert_eq!(errors.len(), 2, "{e}");

    let word = errors[0];
    assert_eq!(word.kind(), ErrorKind::Schema);
    assert_eq!(word.task(), Some("t1"));
    assert_eq!(word.field(), Some("action"));
    let (line, column) = position(ORQUESTA_CASE, "word=hello");
    assert_eq!(located(word), (Some(line), Some(column + 5)), "{word}");
    assert!(
        word.message()
            .contains("text must be quoted, as in `word=\"hello\"`"),
        "{word}"
    );
    assert!(
        word.to_string()
            .starts_with(&format!("wf.yaml:{line}:{}: ", column + 5)),
        "{word}"
    );

    let w = errors[1];
    assert_eq!(w.task(), Some("t1"));
    assert_eq!(w.field(), Some("next[0].publish"));
    let (line, column) = position(ORQUESTA_CASE, "w=12abc");
    assert_eq!(located(w), (Some(line), Some(column + 2)), "{w}");
    assert!(
        w.message()
            .contains("Orquesta would read `12` and silently drop `abc`"),
        "{w}"
    );
}

#[test]
fn the_definition_keeps_the_text_as_written_and_round_trips() {
    let wf = Workflow::from_yaml_str(&orquesta_case_fixed()).unwrap_or_else(|e| panic!("{e}"));
    let t1 = &wf.def().tasks["t1"];
    assert!(t1
        .action
        .as_deref()
        .is_some_and(|a| a.starts_with("core.echo message=\"hello world\" count=3")));
    assert!(t1.input.is_none());
    assert!(matches!(&t1.next[0].publish, Publish::Inline(s) if s.starts_with("i=123 j=\"abc\"")));
    for text in [
        wf.to_yaml_string().unwrap_or_else(|e| panic!("{e}")),
        serde_json::to_string(wf.def()).expect("definitions serialize"),
    ] {
        let again = Workflow::from_yaml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again.def(), wf.def());
        again
            .compile(CATALOG)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

#[test]
fn inline_parameters_and_an_input_map_on_one_task_are_an_error() {
    // Orquesta keeps the inline parameters and silently drops `input`.
    let text = "tasks:\n  t:\n    action: core.echo message=\"inline\"\n    input: {message: explicit, other: 1}\n";
    let e = failed(text);
    assert_eq!(e.all().count(), 1, "{e}");
    assert_eq!(e.task(), Some("t"));
    assert_eq!(e.field(), Some("input"));
    assert_eq!(located(&e), (Some(4), Some(5)));
    assert!(e.message().contains("keep one"), "{e}");
}

#[test]
fn errors_in_expressions_point_at_the_value() {
    let text = "tasks:\n  t:\n    action: core.echo a=1 message={{ ctx( }}\n";
    let e = failed(text);
    assert_eq!(e.kind(), ErrorKind::TemplateSyntax, "{e}");
    assert_eq!((e.task(), e.field()), (Some("t"), Some("action")));
    assert_eq!(located(&e), (Some(3), Some(35)), "{e}");

    let text =
        "tasks:\n  t:\n    action: core.noop\n    next:\n      - publish: a=1 b=<% ctx(x %>\n";
    let e = failed(text);
    assert_eq!(e.kind(), ErrorKind::TemplateSyntax, "{e}");
    assert!(e.message().contains("never closed"), "{e}");
    assert_eq!((e.task(), e.field()), (Some("t"), Some("next[0].publish")));
    assert_eq!(located(&e), (Some(5), Some(24)), "{e}");
}

#[test]
fn every_mistake_is_reported_with_its_own_place() {
    let text = "\
tasks:
  a:
    action: core.echo message=hello
    next:
      - publish: x=1 y = 2
        do: b
  b:
    action: core.echo count=1 count=2
    next:
      - publish: ok=true
        do: \"c d\"
  c: {action: core.noop}
  d: {action: core.noop}
";
    let e = failed(text);
    let found: Vec<_> = e
        .all()
        .map(|e| (e.task(), e.field(), e.line(), e.column()))
        .collect();
    assert_eq!(
        found,
        [
            (Some("a"), Some("action"), Some(3), Some(31)),
            (Some("a"), Some("next[0].publish"), Some(5), Some(22)),
            (Some("b"), Some("action"), Some(8), Some(31)),
            (Some("b"), Some("next[0].do[0]"), Some(11), Some(9)),
        ],
        "{e}"
    );
    let messages: Vec<&str> = e.all().map(Error::message).collect();
    assert!(messages[1].contains("no spaces around `=`: write `y=2`"));
    assert!(messages[2].contains("parameter `count` is given twice"));
    assert!(
        messages[3].contains("separate task names with commas: `do: \"c, d\"`"),
        "{}",
        messages[3]
    );
}

#[test]
fn positions_inside_quoted_and_block_scalars_count_escapes_and_indentation() {
    // In a single-quoted YAML scalar `''` is one quote; in a JSON string
    // `\"` is one. The column is the text's, not the value's.
    let text = "tasks:\n  t:\n    action: 'core.echo msg=\"it''s\" bad=x'\n";
    let e = failed(text);
    let (_, column) = position(text, "bad=x");
    assert_eq!(located(&e), (Some(3), Some(column + 4)), "{e}");
    assert!(e.message().contains("`bad=x`"), "{e}");

    let json = r#"{"tasks": {"t": {"action": "core.echo msg=\"hi\" bad=x"}}}"#;
    let e = Workflow::from_json_str(json)
        .and_then(|wf| wf.compile(CATALOG))
        .expect_err("a bare word");
    let (_, column) = position(json, "bad=x");
    assert_eq!(located(&e), (Some(1), Some(column + 4)), "{e}");

    // In a block scalar, each line's indentation is skipped.
    let text = "tasks:\n  t:\n    action: core.noop\n    next:\n      - publish: |\n          a=1\n          b=oops\n";
    let e = failed(text);
    assert_eq!(located(&e), (Some(7), Some(13)), "{e}");
}

#[test]
fn multi_line_values_fold_as_yaml_folds_them() {
    let text = "tasks:\n  t:\n    action: core.echo\n      message=\"a b\"\n      count=3\n    next:\n      - publish: >-\n          a=1\n          b=2\n";
    let plan = compiled(text);
    let t = task(&plan, "t");
    let ctx = WorkflowContext::new(Value::Null, []);
    assert_eq!(
        t.input.render(&ctx).unwrap_or_else(|e| panic!("{e}")),
        json!({"message": "a b", "count": 3})
    );
    let names: Vec<&str> = t.next[0].publish.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b"]);

    // A mistake on the folded plain scalar's second line is found there.
    let text = "tasks:\n  t:\n    action: core.echo\n      message=\"a b\"\n      count=three\n";
    let e = failed(text);
    assert_eq!(located(&e), (Some(5), Some(13)), "{e}");
}

#[test]
fn expressions_keep_their_type_and_run_per_item() {
    let text = r#"
input:
  - hosts: [a, b]
tasks:
  ping:
    with: "{{ parameters.hosts }}"
    action: core.echo host={{ item }} n={{ index + 1 }} label="{{ item }}-{{ index }}" all={{ parameters.hosts }}
"#;
    let plan = compiled(text);
    let t = task(&plan, "ping");
    let mut ctx = WorkflowContext::new(json!({"hosts": ["a", "b"]}), []);
    ctx.set_current_item(json!("b"), 1);
    assert_eq!(
        t.input.render(&ctx).unwrap_or_else(|e| panic!("{e}")),
        json!({"host": "b", "n": 2, "label": "b-1", "all": ["a", "b"]})
    );
}

#[test]
fn an_action_name_alone_or_with_trailing_space_has_no_input() {
    for text in [
        "tasks:\n  t: {action: core.echo}\n",
        "tasks:\n  t: {action: \"core.echo  \"}\n",
    ] {
        let plan = compiled(text);
        let t = task(&plan, "t");
        assert_eq!(t.action.as_deref(), Some("core.echo"));
        let ctx = WorkflowContext::new(Value::Null, []);
        assert_eq!(t.input.render(&ctx).ok(), Some(json!({})));
    }
    let e = failed("tasks:\n  t: {action: core.echo hello}\n");
    assert!(
        e.message().contains("expected `name=value`, found `hello`"),
        "{e}"
    );
    assert_eq!(located(&e), (Some(2), Some(25)), "{e}");
}

#[test]
fn a_workflow_built_in_code_reads_inline_text_too() {
    let wf = weft_core::WorkflowBuilder::new("inline")
        .task("t", |t| t.action("core.echo message=\"hi\" n=2"))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = wf.compile(CATALOG).unwrap_or_else(|e| panic!("{e}"));
    let ctx = WorkflowContext::new(Value::Null, []);
    assert_eq!(
        task(&plan, "t").input.render(&ctx).ok(),
        Some(json!({"message": "hi", "n": 2}))
    );
    let e = weft_core::WorkflowBuilder::new("inline")
        .task("t", |t| t.action("core.echo message=hi"))
        .build()
        .and_then(|wf| wf.compile(CATALOG))
        .expect_err("a bare word");
    assert_eq!((e.task(), e.field()), (Some("t"), Some("action")));
    assert!(e.message().contains("must be quoted"), "{e}");
}

#[test]
fn an_empty_publish_string_publishes_nothing() {
    let plan = compiled("tasks:\n  t:\n    action: core.noop\n    next:\n      - publish: \"\"\n");
    assert!(task(&plan, "t").next[0].publish.is_empty());
}

#[test]
fn many_pairs_and_many_mistakes_take_linear_time() {
    // One action with 20,000 parameters, then the same name 20,000 times.
    let pairs: String = (0..20_000).map(|i| format!(" p{i}={i}")).collect();
    let plan = compiled(&format!("tasks:\n  t:\n    action: core.echo{pairs}\n"));
    let ctx = WorkflowContext::new(Value::Null, []);
    let input = task(&plan, "t").input.render(&ctx).unwrap_or_default();
    assert_eq!(input.as_object().map(|m| m.len()), Some(20_000));
    assert_eq!(input["p19999"], json!(19_999));

    let same = " p=1".repeat(20_000);
    let e = failed(&format!("tasks:\n  t:\n    action: core.echo{same}\n"));
    assert_eq!(e.all().count() + e.omitted(), 19_999);
    assert!(e.message().contains("parameter `p` is given twice"), "{e}");
    assert_eq!(located(&e), (Some(3), Some(27)), "{e}");

    // 2,000 tasks, each with a bad expression in an inline value: each
    // kept error is located inside its line, the rest are counted.
    let mut text = String::from("tasks:\n");
    for i in 0..2_000 {
        text.push_str(&format!("  t{i}:\n    action: core.echo m={{{{ ( }}}}\n"));
    }
    let e = failed(&text);
    assert_eq!(e.all().count(), Error::MAX_KEPT);
    assert_eq!(e.all().count() + e.omitted(), 2_000);
    for (i, err) in e.all().enumerate() {
        assert_eq!(located(err), (Some(3 + 2 * i), Some(25)), "{err}");
    }
}

#[test]
fn a_mistake_far_into_a_long_value_is_located_at_the_value() {
    let pairs: String = (0..20_000).map(|i| format!(" p{i}=1")).collect();
    let e = failed(&format!(
        "tasks:\n  t:\n    action: core.echo{pairs} x=oops\n"
    ));
    assert!(e.message().contains("`x=oops`"), "{e}");
    assert_eq!(located(&e), (Some(3), Some(13)), "{e}");
}
