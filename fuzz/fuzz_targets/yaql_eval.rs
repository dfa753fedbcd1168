//! Bytes as YAQL: the first byte picks whether they are the text inside
//! `<% %>` (so that every input exercises the YAQL parser) or a whole
//! workflow string; the template is compiled, then evaluated every way
//! against a context with inputs, variables, a completed task and an
//! item. Any panic, hang or runaway allocation is a finding.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use weft_core::{CurrentTask, TaskStatus, Template, WorkflowContext};

fn context() -> &'static WorkflowContext {
    static CTX: OnceLock<WorkflowContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let ctx = WorkflowContext::new(
            json!({"app": "web", "n": 3, "hosts": ["eu", "us"], "flags": {"dry": true}}),
            [
                ("deployed".to_owned(), json!(["eu"])),
                ("people".to_owned(), json!([{"name": "a", "age": 3}, {"name": "b", "age": 1}])),
                ("text".to_owned(), json!("a, b,c")),
            ],
        );
        ctx.set_task_status("fetch", TaskStatus::Succeeded);
        let mut ctx = ctx.with_current_task(CurrentTask {
            name: Arc::from("fetch"),
            status: TaskStatus::Succeeded,
            result: Arc::new(json!({"stdout": "ok", "items": [1, 2, 3]})),
        });
        ctx.set_current_item(json!({"x": 1, "y": "two"}), 1);
        ctx
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let source = if mode % 4 == 0 {
        text.to_owned()
    } else {
        format!("<% {text} %>")
    };
    let Ok(template) = Template::compile(&source) else {
        return;
    };
    let ctx = context();
    let _ = template.eval(ctx);
    let _ = template.eval_bool(ctx);
    let _ = template.render_string(ctx);
});
