//! A workflow with thousands of mistakes: compiling reports them in time
//! linear in their number, keeps the first [`Error::MAX_KEPT`] and counts
//! the rest.

use weft_core::{Error, Workflow};

#[test]
fn twenty_thousand_unknown_targets_are_reported_in_linear_time() {
    // 2,000 tasks name ten missing tasks each: every one of the 20,000
    // errors looks for a suggestion among 2,000 names. Before errors were
    // capped and suggestions bounded this took minutes.
    const TASKS: usize = 2_000;
    const EACH: usize = 10;
    let mut text = String::from("tasks:\n");
    for i in 0..TASKS {
        let targets: Vec<String> = (0..EACH).map(|j| format!("missing{i}x{j}")).collect();
        text.push_str(&format!(
            "  t{i}: {{action: core.noop, next: [{{do: [{}]}}]}}\n",
            targets.join(", ")
        ));
    }
    let wf = Workflow::from_yaml_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let e = wf.compile(&["core.noop"]).expect_err("unknown targets");
    let total = TASKS * EACH;
    assert_eq!(e.all().count(), Error::MAX_KEPT);
    assert_eq!(e.omitted(), total - Error::MAX_KEPT);
    assert!(
        e.to_string()
            .ends_with(&format!("(and {} more)", total - 1)),
        "{e}"
    );
    for (n, err) in e.all().enumerate() {
        let (i, j) = (n / EACH, n % EACH);
        assert_eq!(err.task(), Some(format!("t{i}").as_str()));
        assert_eq!(err.field(), Some(format!("next[0].do[{j}]").as_str()));
        assert_eq!(err.line(), Some(i + 2), "{err}");
        assert!(
            err.message()
                .contains(&format!("unknown task `missing{i}x{j}`")),
            "{err}"
        );
    }
}

#[test]
fn unknown_actions_are_capped_too_and_still_suggest() {
    const N: usize = 1_000;
    let mut text = String::from("tasks:\n");
    for i in 0..N {
        text.push_str(&format!("  t{i}: {{action: core.nop{}}}\n", i % 3));
    }
    let e = Workflow::from_yaml_str(&text)
        .unwrap_or_else(|e| panic!("{e}"))
        .compile(&["core.noop"])
        .expect_err("unknown actions");
    assert_eq!(e.all().count(), Error::MAX_KEPT);
    assert_eq!(e.all().count() + e.omitted(), N);
    assert!(e.message().contains("did you mean `core.noop`?"), "{e}");
}

#[test]
fn unknown_names_in_expressions_are_capped_too() {
    // Each task reads an undeclared input and calls an unknown filter.
    const N: usize = 3_000;
    let mut text = String::from("input: [name]\ntasks:\n");
    for i in 0..N {
        text.push_str(&format!(
            "  t{i}: {{action: core.noop, next: [{{publish: [{{v: '{{{{ parameters.nmae | uper }}}}'}}]}}]}}\n"
        ));
    }
    let e = Workflow::from_yaml_str(&text)
        .unwrap_or_else(|e| panic!("{e}"))
        .compile(&["core.noop"])
        .expect_err("unknown names");
    assert_eq!(e.all().count(), Error::MAX_KEPT);
    assert_eq!(e.all().count() + e.omitted(), 2 * N);
    assert!(
        e.message().contains("did you mean `parameters.name`?"),
        "{e}"
    );
    assert!(
        e.others()[0]
            .message()
            .contains("unknown filter `uper`: did you mean `upper`?"),
        "{:?}",
        e.others()[0]
    );
}

#[test]
fn a_recorded_runs_text_compiles_without_the_checks_that_only_a_run_would_meet() {
    // What a durable run recorded before these checks existed: it resumes.
    let text = "input: [name]\ntasks:\n  t:\n    action: core.echo\n    input: {message: \"{{ parameters.nmae | uper }}\", extra: 1}\n";
    let wf = Workflow::from_yaml_str(text).unwrap_or_else(|e| panic!("{e}"));
    let e = wf.compile(&Catalog).expect_err("checked");
    assert_eq!(e.all().count(), 3, "{e:?}");
    let plan = wf
        .compile_recorded(&Catalog)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.tasks().len(), 1);
    // The rest is checked as ever.
    let broken = Workflow::from_yaml_str("tasks:\n  t: {action: core.nope}\n").unwrap();
    assert!(broken.compile_recorded(&Catalog).is_err());
}

/// `core.echo`, declaring its one field.
struct Catalog;

impl weft_core::ActionCatalog for Catalog {
    fn has_action(&self, name: &str) -> bool {
        name == "core.echo"
    }

    fn action_names(&self) -> Vec<String> {
        vec!["core.echo".to_owned()]
    }

    fn input_fields(&self, name: &str) -> Option<Vec<weft_core::InputField>> {
        (name == "core.echo").then(|| vec![weft_core::InputField::required("message")])
    }
}

/// Mistakes found by different checks are reported in the order of the
/// text, not grouped by the check that found them.
#[test]
fn errors_are_reported_in_the_order_of_the_text() {
    let text = "\
input: [hosts]
tasks:
  a:
    action: core.echo
    input: {message: '{{ parameters.hostz }}'}
    next: [{do: nowhere}]
  b:
    action: core.nope
    input: {message: '{{ 1 | lenght }}'}
    next: [{do: elsewhere}]
  c:
    action: core.echo
    input: {message: '{{ ctx(\"nope\") }}'}
output:
  - o: '{{ ctx(\"www\") }}'
";
    let wf = Workflow::from_yaml_str(text).unwrap_or_else(|e| panic!("{e}"));
    let e = wf.compile(&["core.echo"]).expect_err("mistakes");
    let lines: Vec<usize> = e.all().map(|e| e.line().unwrap_or(usize::MAX)).collect();
    assert!(lines.len() >= 4, "{e}");
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "{e}");
}
