//! Inputs that fuzzing (`fuzz/`) found to crash or hang loading,
//! compiling or evaluating, kept inline so that they stay fixed. Each must
//! give an error with a line (or its value), never a panic or a hang.

use serde_json::json;
use weft_core::{Template, Workflow, WorkflowContext};

const CATALOG: [&str; 2] = ["core.noop", "core.echo"];

fn must_fail_cleanly(text: &str) {
    for loaded in [Workflow::from_yaml_str(text), Workflow::from_json_str(text)] {
        let e = match loaded {
            Ok(wf) => match wf.compile(&CATALOG) {
                Ok(_) => continue,
                Err(e) => e,
            },
            Err(e) => e,
        };
        assert!(e.line().is_some(), "no line in: {e}");
        let _ = e.to_string();
    }
}

/// A YAML syntax error on a line that runs on for more than 256 bytes of
/// multi-byte text: the text given to libyaml for its message was cut in
/// the middle of a character (found by `load_compile`, 471 bytes, below).
#[test]
fn a_syntax_error_before_long_multibyte_text_is_cut_on_a_char_boundary() {
    const FOUND: &[u8] = b"\
      {\x0a  \"versi48888888# \x1f\x00\x00\x00\x00\x00\x00\x00An item name\xd7\x92\
      usdi8888888881888848888888# An item name\xd7\x92usdid not\xe6\x99\x9688arame\
      d not\xe6\x99\x9688arametonersi48888888# An item name\xd7\x92usdi88888888818\
      steps88848888888# An item name\xd7\x92usdid not\xe6\x99\x9688ara555555555555\
      55555555555555555555555555med not\xe6\x99\x9688arameton\"\x01\x02\x00\x10.\\\
      \\\\\\\\\\\\\"\\,0\x0a  \"tasks[\"description\": \"e,*\x0a      \"in\"\x01\x02\
      \x00\x10.\\\\\\\\\\\\\\\"\\,0\x0a  \"tasks[\"description\": \"e,*\x0a      \"\
      input\": {\"cmdm and load a batch of records\"\x0a, sage\": \"{{:\x1b\"{{ pa\
      rameters.source }}\"\x0a  }\x0a}\x0a";
    let text = std::str::from_utf8(FOUND).expect("the fuzzer gives UTF-8");
    must_fail_cleanly(text);
    // The same cause, small: the line after `}` is 600 bytes of `é`, and
    // 256 bytes past the `}` falls inside one.
    let text = format!("x: [a, b}}{}\n", "\u{e9}".repeat(300));
    let e = Workflow::from_yaml_str(&text).expect_err("a syntax error");
    assert_eq!(e.line(), Some(1), "{e}");
    must_fail_cleanly(&text);
}

/// An empty list (or string) repeated 4e14 times looped 4e14 times to
/// make nothing (found by `yaql_eval`: `[]* 43333336333333` and CRs).
#[test]
fn repeating_nothing_many_times_is_quick() {
    let ctx = WorkflowContext::new(json!({}), []);
    for (source, expected) in [
        ("<% []* 433333363333333\r\r\r %>", json!([])),
        ("<% '' * 433333363333333 %>", json!("")),
        ("<% 433333363333333 * [] %>", json!([])),
    ] {
        let t = Template::compile(source).expect("compiles");
        assert_eq!(t.eval(&ctx).expect(source), expected, "{source}");
    }
}
