//! The `shell_quote` filter as templates use it.

use weft_core::{Template, WorkflowContext};

#[test]
fn the_filter_quotes_values_from_the_context() {
    let ctx = WorkflowContext::new(
        serde_json::json!({"name": "x'; touch /tmp/p #", "hosts": ["a", "b c"], "n": 2, "on": false}),
        [],
    );
    let render = |src: &str| Template::compile(src).unwrap().render_string(&ctx).unwrap();
    assert_eq!(
        render("echo {{ parameters.name | shell_quote }}"),
        r"echo 'x'\''; touch /tmp/p #'"
    );
    assert_eq!(render("{{ parameters.hosts | shell_quote }}"), "'a' 'b c'");
    assert_eq!(render("{{ parameters.n | shell_quote }}"), "'2'");
    assert_eq!(render("{{ parameters.on | shell_quote }}"), "'False'");
    let missing = Template::compile("{{ parameters.nope | shell_quote }}")
        .unwrap()
        .render_string(&ctx);
    assert!(missing.is_err());
}
