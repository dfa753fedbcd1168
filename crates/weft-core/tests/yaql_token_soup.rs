//! Random YAQL, made of yaql's own tokens, never panics: every string
//! compiles or is a compile error, and what compiles evaluates or is an
//! evaluation error, within the limits. (The `yaql_eval` fuzz target does
//! this at length; this runs a few thousand cases in every test run.)

use std::sync::Arc;

use serde_json::json;
use weft_core::{CurrentTask, TaskStatus, Template, WorkflowContext};

const TOKENS: &[&str] = &[
    "$",
    "$1",
    "$2",
    "$x",
    "1",
    "0",
    "2.5",
    "-",
    "+",
    "*",
    "/",
    " mod ",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    " and ",
    " or ",
    "not ",
    " in ",
    ".",
    "?.",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=>",
    "->",
    "'a'",
    "\"b\"",
    "`c`",
    "null",
    "true",
    "false",
    "ctx()",
    "ctx(",
    "ctx(n)",
    "result()",
    "item()",
    "succeeded()",
    "let(",
    "x",
    "select(",
    "where(",
    "orderBy(",
    "groupBy(",
    "aggregate(",
    "len()",
    "first(",
    "range(",
    "dict(",
    "list(",
    "toSet()",
    "split(",
    "join(",
    "str(",
    "int(",
    "switch(",
    "coalesce(",
    "zip(",
    "json(",
    "keys()",
    "flatten()",
    "distinct()",
    "sum()",
    "max(",
    "repeat(",
    "cycle()",
    "take(",
    " ",
    "<%",
    "%>",
    "{{",
    "}}",
];

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_token_soup_never_panics() {
    let ctx = WorkflowContext::new(json!({"n": [1, 2, {"a": "b"}], "s": "x,y"}), []);
    let mut ctx = ctx.with_current_task(CurrentTask {
        name: Arc::from("t"),
        status: TaskStatus::Succeeded,
        result: Arc::new(json!({"out": [3, 4]})),
    });
    ctx.set_current_item(json!({"k": 1}), 0);
    let mut rng = Rng(0x5EED_1234_ABCD);
    let (mut compiled, mut evaluated) = (0, 0);
    for _ in 0..5_000 {
        let len = 1 + rng.next() % 24;
        let body: String = (0..len)
            .map(|_| TOKENS[(rng.next() % TOKENS.len() as u64) as usize])
            .collect();
        let text = if rng.next().is_multiple_of(5) {
            body
        } else {
            format!("<% {body} %>")
        };
        let Ok(t) = Template::compile(&text) else {
            continue;
        };
        compiled += 1;
        if t.eval(&ctx).is_ok() {
            evaluated += 1;
        }
        let _ = t.eval_bool(&ctx);
        let _ = t.render_string(&ctx);
    }
    // The soup is not all rejected at once: some of it runs.
    assert!(compiled > 200, "{compiled} compiled");
    assert!(evaluated > 50, "{evaluated} evaluated");
}
