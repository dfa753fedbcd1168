//! Orquesta's inline parameters: a task's input written after its action's
//! name (`action: core.echo message="hi"`) and a `publish` written as one
//! string (`publish: a=1 b="x"`). Every mistake points at its character in
//! the text (see [`crate::inline`] for how a pair is read).

use std::collections::HashSet;

use crate::error::ErrorKind;
use crate::expr::ValueTemplate;
use crate::inline::Pair;

use super::exprs::{mentions, strings_in};
use super::Compiler;

impl Compiler<'_> {
    /// Reads the inline parameters of `scalar` from byte `from` on.
    fn inline_pairs(&mut self, scalar: &str, from: usize, path: &str) -> Option<Vec<Pair>> {
        match crate::inline::parse(&scalar[from..]) {
            Ok(mut pairs) => {
                for p in &mut pairs {
                    p.at += from;
                    p.value_at += from;
                }
                Some(pairs)
            }
            Err(problem) => {
                let message = problem.message;
                self.error_in_scalar(ErrorKind::Schema, path, scalar, from + problem.at, message);
                None
            }
        }
    }

    /// Compiles the value of an inline parameter; errors point at it.
    fn inline_value(&mut self, pair: &Pair, scalar: &str, path: &str) -> Option<ValueTemplate> {
        let value = &pair.value;
        self.status_used |= mentions(value, "task_status");
        match ValueTemplate::compile(value, path) {
            Ok(t) => {
                if !t.is_static() {
                    let mut texts = Vec::new();
                    strings_in(value, &mut texts);
                    for text in texts {
                        self.check_names(text, path, Some((scalar, pair.value_at)));
                    }
                }
                Some(t)
            }
            // Finding the place reads the text up to it: only for kept errors.
            Err(_) if self.full() => {
                self.omit();
                None
            }
            Err(e) => {
                let location = self.wf.location_in_scalar(path, scalar, pair.value_at);
                let e = crate::diag::path::at_path(e, path).with_location(location);
                self.push(e);
                None
            }
        }
    }

    /// The input written as inline parameters after the action's name
    /// (from byte `from` of `action`).
    pub(super) fn inline_input(
        &mut self,
        action: &str,
        from: usize,
        path: &str,
    ) -> Option<ValueTemplate> {
        let pairs = self.inline_pairs(action, from, path)?;
        let mut fields: Vec<(String, ValueTemplate)> = Vec::with_capacity(pairs.len());
        let mut seen = HashSet::with_capacity(pairs.len());
        let mut ok = true;
        for pair in &pairs {
            if !seen.insert(pair.name.as_str()) {
                self.error_in_scalar(
                    ErrorKind::Validation,
                    path,
                    action,
                    pair.at,
                    format!("parameter `{}` is given twice: keep one", pair.name),
                );
                ok = false;
                continue;
            }
            match self.inline_value(pair, action, path) {
                Some(t) => fields.push((pair.name.clone(), t)),
                None => ok = false,
            }
        }
        ok.then(|| ValueTemplate::from_fields(fields))
    }

    /// A `publish` written as one string of inline pairs.
    pub(super) fn inline_publish(
        &mut self,
        text: &str,
        path: &str,
    ) -> Vec<(String, ValueTemplate)> {
        let Some(pairs) = self.inline_pairs(text, 0, path) else {
            return Vec::new();
        };
        pairs
            .iter()
            .filter_map(|pair| {
                self.inline_value(pair, text, path)
                    .map(|t| (pair.name.clone(), t))
            })
            .collect()
    }
}
