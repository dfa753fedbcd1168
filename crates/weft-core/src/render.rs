//! Rendering in one call: the methods of [`WorkflowContext`] that compile
//! an expression on the spot and evaluate it in the context.
//!
//! They live apart from the context's own definition because expressions
//! read the context: the context does not need the expression engine, only
//! these conveniences do. A [`Plan`](crate::Plan) compiles its templates
//! once instead.

use serde_json::Value;

use crate::context::WorkflowContext;
use crate::def::Assignments;
use crate::error::{Error, Result};
use crate::expr::{Template, ValueTemplate};

impl WorkflowContext {
    /// Renders a template string (compiled on the spot; a [`Plan`](crate::Plan)
    /// compiles its templates once instead).
    ///
    /// # Errors
    ///
    /// A syntax error, or an evaluation error naming the undefined name.
    pub fn render_template(&self, template: &str) -> Result<String> {
        Template::compile(template)?.render_string(self)
    }

    /// Renders every string in `value`. A string that is exactly one
    /// `{{ expr }}` keeps the expression's JSON type.
    ///
    /// # Errors
    ///
    /// As for [`WorkflowContext::render_template`].
    pub fn render_json(&self, value: &Value) -> Result<Value> {
        ValueTemplate::compile(value, "value")?.render(self)
    }

    /// Evaluates a condition with Jinja truthiness.
    ///
    /// # Errors
    ///
    /// As for [`WorkflowContext::render_template`].
    pub fn evaluate_condition(&self, condition: &str) -> Result<bool> {
        Template::compile(condition)?.eval_bool(self)
    }

    /// Evaluates `name: value` pairs in order and sets each as a workflow
    /// variable; later entries see earlier ones.
    ///
    /// # Errors
    ///
    /// The first failing entry, named in the message. Entries before it stay
    /// published.
    pub fn publish_variables(&mut self, publish: &Assignments) -> Result<()> {
        for (name, value) in publish.iter() {
            let v = self.render_json(value).map_err(|e| {
                Error::new(e.kind(), format!("publishing `{name}`: {}", e.message()))
            })?;
            self.set_var(name, v);
        }
        Ok(())
    }

    /// Evaluates precompiled `name: template` pairs in order, as
    /// [`WorkflowContext::publish_variables`] does.
    ///
    /// # Errors
    ///
    /// As for [`WorkflowContext::publish_variables`].
    pub fn publish_compiled(&mut self, publish: &[(String, ValueTemplate)]) -> Result<()> {
        for (name, value) in publish {
            let v = value.render(self)?;
            self.set_var(name.clone(), v);
        }
        Ok(())
    }
}
