//! Hostile workflow text: loading and compiling must reject it quickly, in
//! time linear in its size, with an error that says which limit and where.
//! Every input is generated here; the sizes are those that took minutes
//! (or aborted the process) before the limits existed.

use weft_core::{json_from_str, Error, ErrorKind, Workflow};

fn yaml_err(text: &str) -> Error {
    match Workflow::from_yaml_str(text) {
        Ok(_) => panic!("loaded, but should not: {}", &text[..text.len().min(200)]),
        Err(e) => e,
    }
}

fn json_err(text: &str) -> Error {
    match Workflow::from_json_str(text) {
        Ok(_) => panic!("loaded, but should not: {}", &text[..text.len().min(200)]),
        Err(e) => e,
    }
}

fn assert_too_deep(e: &Error, line: usize) {
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.message().contains("more than 100 levels"), "{e}");
    assert_eq!(e.line(), Some(line), "{e}");
    assert!(e.column().is_some(), "{e}");
}

const DEEP: usize = 100_000;

#[test]
fn deep_flow_lists_are_rejected_at_the_level_past_the_limit() {
    let text = format!("tasks: {}{}\n", "[".repeat(DEEP), "]".repeat(DEEP));
    let e = yaml_err(&text);
    assert_too_deep(&e, 1);
    // `tasks:` is level 1, so the list that opens level 101 is the 100th `[`.
    assert_eq!(e.column(), Some(8 + 99), "{e}");
}

#[test]
fn deep_block_lists_are_rejected() {
    let text = format!("tasks:\n  {}x\n", "- ".repeat(DEEP));
    assert_too_deep(&yaml_err(&text), 2);
}

#[test]
fn deep_flow_maps_are_rejected() {
    let text = format!("tasks: {}1{}\n", "{a: ".repeat(DEEP), "}".repeat(DEEP));
    assert_too_deep(&yaml_err(&text), 1);
}

#[test]
fn deep_block_maps_are_rejected_with_their_task() {
    let mut text = String::from("tasks:\n  t:\n    input:\n");
    for i in 0..150 {
        text.push_str(&" ".repeat(6 + 2 * i));
        text.push_str("a:\n");
    }
    let e = yaml_err(&text);
    // `input:` holds level 4, on line 4; level 101 opens on line 101.
    assert_too_deep(&e, 101);
    assert_eq!(e.task(), Some("t"), "{e}");
}

#[test]
fn deep_json_is_rejected_like_yaml() {
    let text = format!(
        "{{\"tasks\": {{\"t\": {{\"input\": {{\"x\": {}{}}}}}}}}}",
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    );
    let e = json_err(&text);
    assert_too_deep(&e, 1);
    assert_eq!(e.task(), Some("t"), "{e}");
    assert!(e.field().is_some_and(|f| f.starts_with("input.x")), "{e}");
}

/// `input: [{x: <value nested so that the whole text is `depth` deep>}]`
fn input_nested(depth: usize, json: bool) -> String {
    // The top map, the `input` list and the `{x: ...}` map are 3 levels.
    let inner = depth - 3;
    let value = format!("{}1{}", "[".repeat(inner), "]".repeat(inner));
    if json {
        format!("{{\"input\": [{{\"x\": {value}}}], \"tasks\": {{\"t\": {{}}}}}}")
    } else {
        format!("input: [{{x: {value}}}]\ntasks: {{t: {{}}}}\n")
    }
}

#[test]
fn nesting_up_to_the_limit_loads_in_both_formats() {
    for json in [false, true] {
        let text = input_nested(Workflow::MAX_DEPTH, json);
        let wf = match json {
            true => Workflow::from_json_str(&text),
            false => Workflow::from_yaml_str(&text),
        };
        let wf = wf.unwrap_or_else(|e| panic!("json={json}: {e}"));
        let mut v = wf.def().input[0].default.as_ref().expect("a default");
        let mut levels = 0;
        while let Some(inner) = v.as_array().and_then(|a| a.first()) {
            v = inner;
            levels += 1;
        }
        assert_eq!(levels, Workflow::MAX_DEPTH - 3, "json={json}");

        let text = input_nested(Workflow::MAX_DEPTH + 1, json);
        let e = match json {
            true => json_err(&text),
            false => yaml_err(&text),
        };
        assert_too_deep(&e, 1);
    }
}

/// Nine anchors, each a list of nine aliases to the one before: 9^9
/// values once expanded.
fn billion_laughs(indent: &str) -> String {
    let mut text = String::from("vars:\n");
    text.push_str(&format!(
        "{indent}- l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    ));
    for i in 1..9 {
        let prev = format!("*l{}", i - 1);
        let items = [prev.as_str(); 9].join(", ");
        text.push_str(&format!("{indent}- l{i}: &l{i} [{items}]\n"));
    }
    text.push_str("tasks: {t: {}}\n");
    text
}

#[test]
fn billion_laughs_is_rejected_at_the_alias_that_crosses_the_limit() {
    let e = yaml_err(&billion_laughs("  "));
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.message().contains("aliases expand too far"), "{e}");
    // The anchors `l0` to `l3` are followed 918 times in all; the third
    // alias of `l4` (line 6) brings that past 50 times the ~60 values
    // written before it.
    assert!(e.message().contains("followed more than 50 times"), "{e}");
    assert!(e.message().contains("`*l3`"), "{e}");
    assert_eq!(e.line(), Some(6), "{e}");
    assert!(e.column().is_some_and(|c| c > 10), "{e}");
    assert_eq!(e.field(), Some("vars[4].l4[2]"), "{e}");
}

#[test]
fn one_large_anchor_copied_many_times_is_rejected() {
    let items = vec!["abcdefgh"; 5_000].join(", ");
    let copies = vec!["*big"; 5_000].join(", ");
    let text =
        format!("vars:\n  - big: &big [{items}]\n  - copies: [{copies}]\ntasks: {{t: {{}}}}\n");
    let e = yaml_err(&text);
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(
        e.message().contains("aliases copy more than 1048576 bytes"),
        "{e}"
    );
    assert_eq!(e.line(), Some(3), "{e}");
}

#[test]
fn aliases_that_stay_small_still_load() {
    let text = "vars:\n  - base: &retry {count: 3, delay: 1}\n  - again: *retry\ntasks:\n  a: {retry: *retry}\n  b: {retry: *retry}\n";
    let wf = Workflow::from_yaml_str(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wf.def().tasks.len(), 2);
    assert_eq!(
        wf.def().vars.0[1].1,
        serde_json::json!({"count": 3, "delay": 1})
    );
}

#[test]
fn an_alias_inside_its_own_anchor_is_rejected() {
    let e = yaml_err("vars:\n  - a: &a [1, *a]\ntasks: {t: {}}\n");
    assert!(e.message().contains("cannot contain itself"), "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn an_alias_that_brings_in_deep_data_counts_its_levels() {
    // 95 levels in the anchor are fine where it is written (level 4 and
    // below), and too deep where the alias puts them (level 8 and below).
    let deep = format!("{}1{}", "[".repeat(95), "]".repeat(95));
    let text = format!(
        "vars:\n  - a: &deep {deep}\ntasks:\n  t:\n    input:\n      x: {{y: {{z: *deep}}}}\n"
    );
    let e = yaml_err(&text);
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.message().contains("`*deep`"), "{e}");
    assert_eq!(e.line(), Some(6), "{e}");
}

#[test]
fn numbers_that_do_not_fit_are_errors_in_yaml_and_json_alike() {
    let digits = "9".repeat(400);
    for number in [
        digits.as_str(),
        "1e999999",
        "-1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890",
    ] {
        let yaml = format!("input:\n  - n: {number}\ntasks: {{t: {{}}}}\n");
        let json = format!("{{\"input\": [{{\"n\": {number}}}], \"tasks\": {{\"t\": {{}}}}}}");
        for (format, e) in [("yaml", yaml_err(&yaml)), ("json", json_err(&json))] {
            assert!(
                e.message().contains("is out of range"),
                "{format} {number}: {e}"
            );
            assert!(
                e.message().contains("put it in quotes"),
                "{format} {number}: {e}"
            );
            assert!(e.line().is_some() && e.column().is_some(), "{format}: {e}");
            assert!(e.message().len() < 400, "the number is shortened: {e}");
        }
        let quoted = format!("input:\n  - n: \"{number}\"\ntasks: {{t: {{}}}}\n");
        let wf = Workflow::from_yaml_str(&quoted).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            wf.def().input[0].default,
            Some(serde_json::Value::String(number.to_owned())),
            "quoted, it stays text"
        );
    }
    let e = yaml_err("input:\n  - n: 1\n  - m: .inf\ntasks: {t: {}}\n");
    assert!(e.message().contains("`.inf` is not a number"), "{e}");
    assert_eq!((e.line(), e.column()), (Some(3), Some(8)), "{e}");
}

#[test]
fn numbers_tagged_int_or_float_follow_the_same_rules() {
    for tagged in [
        "!!int 99999999999999999999999",
        "!!float 1e999",
        "!!float .inf",
        "!!float \"1e999\"",
    ] {
        let e = yaml_err(&format!("input:\n  - n: {tagged}\ntasks: {{t: {{}}}}\n"));
        assert!(
            e.message().contains("out of range") || e.message().contains("not a number"),
            "{tagged}: {e}"
        );
        assert_eq!(e.line(), Some(2), "{e}");
    }
    let wf = Workflow::from_yaml_str("input:\n  - n: !!str 1e999\ntasks: {t: {}}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wf.def().input[0].default, Some(serde_json::json!("1e999")));
}

#[test]
fn numbers_at_the_edges_of_their_range_keep_their_value() {
    for (text, want) in [
        (
            "18446744073709551615",
            serde_json::json!(18446744073709551615u64),
        ),
        (
            "-9223372036854775808",
            serde_json::json!(-9223372036854775808i64),
        ),
        ("1.7976931348623157e308", serde_json::json!(f64::MAX)),
        ("1e-400", serde_json::json!(0.0)),
    ] {
        let yaml = format!("input:\n  - n: {text}\ntasks: {{t: {{}}}}\n");
        let json = format!("{{\"input\": [{{\"n\": {text}}}], \"tasks\": {{\"t\": {{}}}}}}");
        for wf in [
            Workflow::from_yaml_str(&yaml),
            Workflow::from_json_str(&json),
        ] {
            let wf = wf.unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(wf.def().input[0].default.as_ref(), Some(&want), "{text}");
        }
        assert_eq!(json_from_str(text).ok(), Some(want), "{text}");
    }
}

#[test]
fn duplicate_keys_in_json_are_errors_naming_the_key() {
    let e = json_err("{\"tasks\": {\"t\": {\"input\": {\"x\": 1,\n \"x\": 2}}}}");
    assert!(e.message().contains("duplicate key `x`"), "{e}");
    assert!(e.message().contains("first at line 1"), "{e}");
    assert_eq!((e.line(), e.column()), (Some(2), Some(2)), "{e}");
    assert_eq!(e.task(), Some("t"), "{e}");
    // An escaped spelling of the same key is the same key.
    let e = json_from_str("{\"a\": 1, \"\\u0061\": 2}").expect_err("a duplicate");
    assert!(e.message().contains("duplicate key `a`"), "{e}");
}

#[test]
fn json_values_follow_the_same_rules() {
    let deep = format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP));
    let e = json_from_str(&deep).expect_err("too deep");
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert_eq!((e.line(), e.column()), (Some(1), Some(101)), "{e}");
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(json_from_str(&ok).is_ok());

    let e = json_from_str("{\"n\": [1, 2, 1e999]}").expect_err("out of range");
    assert!(e.message().contains("`1e999` is out of range"), "{e}");
    assert_eq!(e.field(), Some("n[2]"), "{e}");

    let e = json_from_str("{\"a\": [1,\n 2,]}").expect_err("a syntax error");
    assert_eq!(e.kind(), ErrorKind::Syntax, "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(json_from_str("").is_err());
    assert!(json_from_str("\"unterminated").is_err());
    assert_eq!(
        json_from_str(" {\"s\": \"a\\\"b\", \"t\": [true, false, null, -0.5e+2]} ").ok(),
        Some(serde_json::json!({"s": "a\"b", "t": [true, false, null, -50.0]}))
    );
}

fn scratch_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("weft-load-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("a scratch file");
    path
}

#[test]
fn files_larger_than_the_limit_are_rejected_naming_file_and_limit() {
    let path = scratch_file("big.yaml", &vec![b'#'; 2048]);
    let e = Workflow::from_file_with_limit(&path, 1024).expect_err("too large");
    let _ = std::fs::remove_file(&path);
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.message().contains("larger than 1024 bytes"), "{e}");
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );

    let path = scratch_file("fits.yaml", b"tasks: {t: {}}\n");
    let wf = Workflow::from_file_with_limit(&path, 15);
    let _ = std::fs::remove_file(&path);
    assert!(wf.is_ok(), "a file of exactly the limit loads");
}

#[cfg(unix)]
#[test]
fn an_endless_file_is_read_only_up_to_the_limit() {
    let e = Workflow::from_file_with_limit("/dev/zero", 4096).expect_err("too large");
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.to_string().starts_with("/dev/zero: "), "{e}");
}

#[test]
fn yaml_the_scanner_cannot_read_is_still_reported_where_it_fails() {
    // A syntax error on line 2, then nesting deep enough to take libyaml
    // minutes if it were given all of it.
    let text = format!(
        "tasks:\n  t: {{input: {{x: [a, b}}}}\n  u: {}\n",
        "[".repeat(DEEP)
    );
    let e = yaml_err(&text);
    assert_eq!(e.kind(), ErrorKind::Syntax, "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn a_syntax_error_after_many_aliases_does_not_expand_them() {
    // serde reads values up to a syntax error, so without limits these
    // aliases would copy 18 million values before the error was found.
    let items = vec!["x"; 60_000].join(", ");
    let copies = vec!["*big"; 300].join(", ");
    let text =
        format!("vars:\n  - big: &big [{items}]\n  - copies: [{copies}}}\ntasks: {{t: {{}}}}\n");
    let e = yaml_err(&text);
    assert!(
        matches!(e.kind(), ErrorKind::Limit | ErrorKind::Syntax),
        "{e}"
    );
    assert_eq!(e.line(), Some(3), "{e}");
}

#[test]
fn a_second_document_is_rejected_before_it_is_parsed() {
    // Deep nesting in a second document took libyaml minutes to read
    // before serde said that there was a second document.
    let text = format!(
        "tasks: {{t: {{}}}}\n---\n{}{}\n",
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    );
    let e = yaml_err(&text);
    assert!(e.message().contains("a second YAML document"), "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
    let e = yaml_err("tasks: {t: {}}\n...\n# done\n--- \nmore: 1\n");
    assert!(e.message().contains("a second YAML document"), "{e}");
    assert_eq!(e.line(), Some(4), "{e}");
    let text = format!("tasks: {{t: {{}}}}\n...\n{}\n", "[".repeat(DEEP));
    let e = yaml_err(&text);
    assert!(e.message().contains("a second YAML document"), "{e}");
    assert!(Workflow::from_yaml_str("---\ntasks: {t: {}}\n...\n# end\n").is_ok());
}
