//! Bytes as a template: compile, then evaluate it every way against a
//! context with parameters, variables, task results and an item. Any
//! panic, hang or runaway allocation is a finding.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use weft_core::{Template, WorkflowContext};

fn context() -> &'static WorkflowContext {
    static CTX: OnceLock<WorkflowContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let mut ctx = WorkflowContext::new(
            json!({"app": "web", "n": 3, "hosts": ["eu", "us"], "flags": {"dry": true}}),
            [
                ("deployed".to_owned(), json!(["eu"])),
                ("count".to_owned(), json!(2)),
            ],
        );
        ctx.set_task_result(
            "fetch",
            json!({"items": [{"name": "a", "size": 1}, {"name": "b", "size": 2}], "body": "ok"}),
        );
        ctx.set_task_result("empty", json!(null));
        ctx.set_current_item(json!({"x": 1, "y": "two"}), 1);
        ctx
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = Template::compile(text) else {
        return;
    };
    let ctx = context();
    let _ = template.eval(ctx);
    let _ = template.eval_bool(ctx);
    let _ = template.render_string(ctx);
});
