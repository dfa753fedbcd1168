//! The workflow's own sections: `version`, the declared `input`s, and the
//! `vars` and `output` assignments.

use std::collections::HashSet;

use crate::def::{Assignments, WorkflowDef};
use crate::error::ErrorKind;
use crate::expr::ValueTemplate;
use crate::plan::InputSpec;

use super::Compiler;

impl Compiler<'_> {
    /// `version`, when given, is one weft reads.
    pub(super) fn version(&mut self, def: &WorkflowDef) {
        let Some(v) = &def.version else {
            return;
        };
        if !matches!(v.0.trim(), "1.0" | "1") {
            self.error(
                ErrorKind::Validation,
                "version",
                format!(
                    "unsupported version `{}`: write `version: 1.0`, the version weft reads",
                    v.0
                ),
            );
        }
    }

    /// The declared inputs: each named, once; a default is compiled to
    /// check it (a run evaluates it from the text, see
    /// [`Plan::bind_inputs`](crate::Plan::bind_inputs)).
    pub(super) fn inputs(&mut self, def: &WorkflowDef) -> Vec<InputSpec> {
        let mut seen = HashSet::new();
        let mut inputs = Vec::with_capacity(def.input.len());
        for (i, inp) in def.input.iter().enumerate() {
            let path = format!("input[{i}]");
            if inp.name.trim().is_empty() {
                self.error(ErrorKind::Validation, &path, "an input needs a name");
            } else if !seen.insert(inp.name.as_str()) {
                self.error(
                    ErrorKind::Validation,
                    &path,
                    format!("duplicate input `{}`: declare each input once", inp.name),
                );
            }
            if let Some(d) = &inp.default {
                self.value(d, &path);
            }
            inputs.push(InputSpec {
                name: inp.name.clone(),
                default: inp.default.clone(),
                secret: inp.secret,
            });
        }
        inputs
    }

    /// `name: value` entries (`vars`, `output`), each compiled at
    /// `section[i].name`.
    pub(super) fn assignments(
        &mut self,
        list: &Assignments,
        section: &str,
    ) -> Vec<(String, ValueTemplate)> {
        let mut out = Vec::with_capacity(list.0.len());
        for (i, (k, v)) in list.0.iter().enumerate() {
            if let Some(t) = self.value(v, &format!("{section}[{i}].{k}")) {
                out.push((k.clone(), t));
            }
        }
        out
    }
}
