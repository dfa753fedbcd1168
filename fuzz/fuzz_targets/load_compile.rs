//! Bytes as a workflow: load as YAML and as JSON, compile against a small
//! catalog, bind no inputs, and format every error. Any panic, hang or
//! runaway allocation is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_core::{json_from_str, Error, Workflow};

const CATALOG: [&str; 2] = ["core.noop", "core.echo"];

fn show(e: &Error) {
    for one in e.all() {
        let _ = one.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for loaded in [Workflow::from_yaml_str(text), Workflow::from_json_str(text)] {
        match loaded {
            Ok(wf) => {
                let _ = wf.location_of("tasks.a.next[0].do[0]");
                match wf.compile(&CATALOG) {
                    Ok(plan) => {
                        if let Err(e) = plan.bind_inputs(serde_json::Value::Null) {
                            show(&e);
                        }
                    }
                    Err(e) => show(&e),
                }
            }
            Err(e) => show(&e),
        }
    }
    if let Err(e) = json_from_str(text) {
        show(&e);
    }
});
