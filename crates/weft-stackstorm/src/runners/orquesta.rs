//! `orquesta`: the entry point is a workflow, run as a weft sub-workflow.
//!
//! The action's metadata stands in front of the workflow, as under
//! StackStorm: a task gives the action's parameters (checked when
//! compiling), they are cast, defaulted and checked like any pack action's,
//! and those the workflow declares in its `input` become its inputs. A
//! parameter left without a value is not passed, so the workflow's own
//! default applies (StackStorm passes `null`, which overrides it). The
//! task's result is StackStorm's: `{output: <the workflow's output>}`.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use weft_core::{InputField, Plan};
use weft_runtime::{ActionError, ActionInput, WorkflowAdapter};

use super::{input_fields, resolve, secret_values, PackShared};
use crate::pack::ActionMeta;

pub(crate) struct OrquestaAdapter {
    pub(crate) meta: Arc<ActionMeta>,
    pub(crate) pack: Arc<PackShared>,
    /// The names the workflow declares in its `input`.
    pub(crate) inputs: Vec<String>,
}

impl OrquestaAdapter {
    pub(crate) fn new(
        meta: Arc<ActionMeta>,
        pack: Arc<PackShared>,
        plan: &Plan,
    ) -> OrquestaAdapter {
        OrquestaAdapter {
            meta,
            pack,
            inputs: plan.inputs().iter().map(|i| i.name.clone()).collect(),
        }
    }
}

impl WorkflowAdapter for OrquestaAdapter {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        Some(input_fields(&self.meta))
    }

    fn prepare(&self, input: &ActionInput) -> Result<Value, ActionError> {
        let values = resolve(&self.meta, &self.pack, &input.input, Some(input))
            .map_err(|e| ActionError::new(format!("`{}`: {}", self.meta.reference, e.message)))?;
        let given_null = |name: &str| input.input.get(name).is_some_and(Value::is_null);
        let mut out = Map::new();
        for name in &self.inputs {
            match values.get(name) {
                Some(Value::Null) | None if !given_null(name) => {}
                Some(v) => {
                    out.insert(name.clone(), v.clone());
                }
                None => {
                    out.insert(name.clone(), Value::Null);
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn result(&self, output: Value) -> Value {
        json!({ "output": output })
    }

    fn secret_values(&self, input: &Value) -> Vec<Value> {
        secret_values(&self.meta, &self.pack, input)
    }
}
