//! What a catalog can say about its actions beyond their names: fields a
//! task may not give (immutable) and actions that cannot be used at all.

use weft_core::{ActionCatalog, InputField, Workflow};

struct Catalog;

impl ActionCatalog for Catalog {
    fn has_action(&self, name: &str) -> bool {
        matches!(name, "ops.echo" | "ops.remote")
    }

    fn action_names(&self) -> Vec<String> {
        vec!["ops.echo".into(), "ops.remote".into()]
    }

    fn input_fields(&self, name: &str) -> Option<Vec<InputField>> {
        match name {
            "ops.echo" => Some(vec![
                InputField::required("message"),
                InputField::immutable("cmd"),
            ]),
            _ => None,
        }
    }

    fn unavailable(&self, name: &str) -> Option<String> {
        (name == "ops.remote").then(|| "its runner `remote-shell-cmd` is not supported".to_owned())
    }
}

#[test]
fn a_task_that_gives_an_immutable_field_does_not_compile() {
    let text = "tasks:\n  say:\n    action: ops.echo\n    input:\n      message: hi\n      cmd: rm -rf /\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_err();
    assert_eq!(err.line(), Some(6), "{err}");
    assert!(
        err.message()
            .contains("`ops.echo` sets its input `cmd` itself (it is immutable)"),
        "{err}"
    );
    assert_eq!(err.task(), Some("say"));
    // The field is known: no "did you mean", no "has no input".
    assert!(!err.to_string().contains("has no input"), "{err}");
}

#[test]
fn an_immutable_field_in_inline_parameters_is_located_at_its_name() {
    let text = "tasks:\n  say:\n    action: ops.echo message=\"hi\" cmd=\"ls\"\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(3), Some(35)), "{err}");
    assert!(err.message().contains("immutable"), "{err}");
}

#[test]
fn leaving_out_an_immutable_field_compiles() {
    let text = "tasks:\n  say:\n    action: ops.echo\n    input: {message: hi}\n";
    Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap();
}

#[test]
fn an_unavailable_action_is_refused_at_each_task_that_uses_it() {
    let text =
        "tasks:\n  a:\n    action: ops.remote\n    next: [{do: b}]\n  b:\n    action: ops.remote\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_err();
    let all: Vec<_> = err.all().collect();
    assert_eq!(all.len(), 2, "{err}");
    assert_eq!(all[0].line(), Some(3));
    assert_eq!(all[1].line(), Some(6));
    assert_eq!(
        all[0].message(),
        "action `ops.remote` cannot be used: its runner `remote-shell-cmd` is not supported"
    );
}

#[test]
fn an_expression_as_the_action_compiles_and_is_resolved_when_the_task_starts() {
    for action in [
        "\"{{ ctx().dynamic_action }}\"",
        "\"<% ctx().dynamic_action %>\"",
    ] {
        let text = format!(
            "vars:\n  - dynamic_action: ops.echo\ntasks:\n  say:\n    action: {action}\n    input: {{message: hi}}\n"
        );
        let plan = Workflow::from_yaml_str(&text)
            .unwrap()
            .compile(&Catalog)
            .unwrap_or_else(|e| panic!("{e}"));
        let say = plan.task(0);
        assert!(say.action.is_none() && say.dynamic_action.is_some());
    }
    // The expression's names are checked as any expression's are.
    let text = "tasks:\n  say:\n    action: \"{{ ctx().nothing }}\"\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.message().contains("nothing"), "{err}");
    // A static name keeps its checks.
    let text = "tasks:\n  say:\n    action: ops.echoo\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_err();
    assert!(err.message().contains("ops.echoo"), "{err}");
}

#[test]
fn one_expression_as_the_whole_input_compiles_without_checking_its_keys() {
    // `ops.echo` needs `message`: which keys the expression yields is known
    // only when it is rendered.
    let text = "vars:\n  - args: {message: hi}\ntasks:\n  say:\n    action: ops.echo\n    input: \"{{ ctx().args }}\"\n";
    Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_or_else(|e| panic!("{e}"));
    // Beside inline parameters, it is one input too many.
    let text = "vars:\n  - args: {message: hi}\ntasks:\n  say:\n    action: ops.echo message=\"hi\"\n    input: \"{{ ctx().args }}\"\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&Catalog)
        .unwrap_err();
    assert_eq!(err.line(), Some(6), "{err}");
    assert!(err.message().contains("keep one"), "{err}");
    // Any other text is the usual shape error.
    let text = "tasks:\n  say:\n    action: ops.echo\n    input: hello\n";
    let err = Workflow::from_yaml_str(text).unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(
        err.message().contains(
            "expected a map, or one expression that yields the map, found the text \"hello\""
        ) && err.message().contains("write `input` as a map"),
        "{err}"
    );
}
