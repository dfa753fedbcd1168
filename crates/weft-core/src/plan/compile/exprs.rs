//! Expressions: every `{{ }}` of the workflow compiled once, and the names
//! it spells out checked against what the workflow declares — inputs read
//! through `parameters.x`, names read through `ctx('x')`, and the filters,
//! tests and functions it calls (see [`crate::names`]).

use std::sync::Arc;

use serde_json::Value;

use crate::def::{Publish, WorkflowDef};
use crate::error::{Error, ErrorKind};
use crate::expr::{Template, ValueTemplate};
use crate::names::Found;

use super::{Compiler, Mode};

/// What the expressions of one workflow may name.
#[derive(Default)]
pub(super) struct Declared {
    /// The declared inputs, sorted: what `parameters.x` may name.
    inputs: Vec<String>,
    /// Inputs, variables, published and output names, sorted: what
    /// `ctx('x')` may name.
    ctx: Vec<String>,
    /// The environment's global functions, asked for once.
    functions: Option<Vec<&'static str>>,
}

impl Declared {
    /// The names `parameters.x` may use (the inputs) and those `ctx('x')`
    /// may use (inputs, variables, everything published, outputs), each
    /// sorted and without repeats.
    pub(super) fn of(def: &WorkflowDef) -> Declared {
        let mut inputs: Vec<String> = def.input.iter().map(|i| i.name.clone()).collect();
        inputs.sort_unstable();
        inputs.dedup();
        let mut ctx = inputs.clone();
        ctx.extend(def.vars.0.iter().map(|(k, _)| k.clone()));
        ctx.extend(def.output.0.iter().map(|(k, _)| k.clone()));
        for t in def.tasks.values() {
            for tr in &t.next {
                match &tr.publish {
                    Publish::List(list) => ctx.extend(list.0.iter().map(|(k, _)| k.clone())),
                    // Unreadable pairs are reported where the publish is compiled.
                    Publish::Inline(text) => ctx.extend(
                        crate::inline::parse(text)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|p| p.name),
                    ),
                }
            }
        }
        ctx.sort_unstable();
        ctx.dedup();
        Declared {
            inputs,
            ctx,
            functions: None,
        }
    }

    fn functions(&mut self) -> &[&'static str] {
        self.functions
            .get_or_insert_with(crate::expr::function_names)
    }

    /// True when the name `found` is declared or exists.
    fn knows(&mut self, found: &Found<'_>) -> bool {
        match *found {
            // Both lists are sorted.
            Found::Parameter(n) => self.inputs.binary_search_by(|i| i.as_str().cmp(n)).is_ok(),
            Found::Ctx(n) => {
                self.ctx.binary_search_by(|i| i.as_str().cmp(n)).is_ok()
                    || crate::functions::is_context_name(n)
            }
            Found::Filter(n) => crate::expr::filter_exists(n),
            Found::Test(n) => crate::expr::test_exists(n),
            Found::Function(n) => self.functions().contains(&n),
        }
    }
}

impl Compiler<'_> {
    /// The template `source`, written at `path`, compiled.
    pub(super) fn template(&mut self, source: &str, path: &str) -> Option<Template> {
        self.status_used |= source.contains("task_status");
        match Template::compile_at(source, Some(Arc::from(path))) {
            Ok(t) => {
                if !t.is_literal() {
                    self.check_names(source, path, None);
                }
                Some(t)
            }
            Err(e) => {
                let e = self.located(e, path);
                self.push(e);
                None
            }
        }
    }

    /// A `when`: text without an expression would always be true (even
    /// `"false"` or `"failed()"`), so it must hold one.
    pub(super) fn condition(&mut self, source: &str, path: &str) -> Option<Template> {
        let t = self.template(source, path)?;
        if t.is_literal() {
            self.error(
                ErrorKind::Validation,
                path,
                format!(
                    "`when` must be an expression such as \"{{{{ succeeded() }}}}\", not `{source}`: plain text is always true"
                ),
            );
            return None;
        }
        Some(t)
    }

    /// A value (a map, a list, a string...) with templates in its strings,
    /// written at `path`, compiled.
    pub(super) fn value(&mut self, value: &Value, path: &str) -> Option<ValueTemplate> {
        self.status_used |= mentions(value, "task_status");
        match ValueTemplate::compile(value, path) {
            Ok(t) => {
                if !t.is_static() {
                    self.check_value_names(value, path);
                }
                Some(t)
            }
            Err(e) => {
                let e = self.located(e, path);
                self.push(e);
                None
            }
        }
    }

    /// Gives `e` the position of the field it names (template errors name
    /// the exact key inside an input map), or else of `path`.
    pub(super) fn located(&self, mut e: Error, path: &str) -> Error {
        let named = match (e.task(), e.field()) {
            (Some(t), Some(f)) => Some(format!("{}.{f}", crate::diag::path::task_path(t))),
            (Some(t), None) => Some(crate::diag::path::task_path(t)),
            (None, Some(f)) => Some(f.to_owned()),
            (None, None) => None,
        };
        let location = named
            .map(|p| match e.text_offset() {
                // The exact column of a mistake inside the field's text.
                Some((text, offset)) => self.wf.location_in_scalar(&p, text, offset),
                None => self.wf.location_of(&p),
            })
            .filter(|l| l.line.is_some())
            .unwrap_or_else(|| self.wf.location_of(path));
        e.set_location_if_missing(location);
        e
    }

    /// Checks the strings of `value` (at `path`) with
    /// [`Compiler::check_names`].
    fn check_value_names(&mut self, value: &Value, path: &str) {
        match value {
            Value::String(s) => self.check_names(s, path, None),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.check_value_names(v, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.check_value_names(v, &format!("{path}.{k}"));
                }
            }
            _ => {}
        }
    }

    /// Checks the names the template `source` (written at `path`) uses:
    /// inputs read through `parameters`, names read through `ctx()`, and the
    /// filters, tests and functions it calls. `inline` is the scalar and
    /// offset of an inline parameter's value, which errors then point at.
    pub(super) fn check_names(&mut self, source: &str, path: &str, inline: Option<(&str, usize)>) {
        if self.mode != Mode::New {
            return;
        }
        for (found, offset) in crate::names::scan(source) {
            if self.names.knows(&found) {
                continue;
            }
            // Past the errors kept, a mistake is only counted.
            if self.full() {
                self.omit();
                continue;
            }
            let message = self.unknown_name(found);
            let (scalar, at) = inline.unwrap_or((source, offset));
            self.error_in_scalar(ErrorKind::Validation, path, scalar, at, message);
        }
    }

    /// What to say of a name that [`Declared::knows`] does not know.
    fn unknown_name(&mut self, found: Found<'_>) -> String {
        let names = &mut self.names;
        let suggester = &mut self.suggester;
        match found {
            Found::Parameter(n) => {
                let hint =
                    match suggester.suggest_unique(n, names.inputs.iter().map(String::as_str)) {
                        Some(s) => format!("did you mean `parameters.{s}`?"),
                        None if names.inputs.is_empty() => {
                            format!("it declares none: add `{n}` to `input`")
                        }
                        None => format!(
                            "declare it under `input` (the inputs are: {})",
                            names.inputs.join(", ")
                        ),
                    };
                format!("`parameters.{n}`: the workflow has no input `{n}`: {hint}")
            }
            Found::Ctx(n) => {
                let hint = match suggester.suggest_unique(n, names.ctx.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "declare it under `input` or `vars`, or publish it".to_owned(),
                };
                format!(
                    "`ctx('{n}')`: no input, variable or published value is named `{n}`: {hint}"
                )
            }
            Found::Filter(n) => {
                let hint = match suggester.suggest_unique(n, crate::functions::filter_names()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "see the filters in docs/workflow-language.md".to_owned(),
                };
                format!("unknown filter `{n}`: {hint}")
            }
            Found::Test(n) => {
                let hint = match suggester.suggest_unique(n, crate::names::TESTS.iter().copied()) {
                    Some(s) => format!("did you mean `is {s}`?"),
                    None => "see the tests in docs/workflow-language.md".to_owned(),
                };
                format!("unknown test `{n}`: {hint}")
            }
            Found::Function(n) => {
                let functions = names.functions();
                let hint = match suggester.suggest_unique(n, functions.iter().copied()) {
                    Some(s) => format!("did you mean `{s}()`?"),
                    None => format!("the functions are: {}", {
                        let mut f = functions.to_vec();
                        f.push("item");
                        f.sort_unstable();
                        f.join(", ")
                    }),
                };
                format!("unknown function `{n}()`: {hint}")
            }
        }
    }
}

/// True when some string inside `value` contains `needle`.
pub(super) fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

/// Every string inside `value`.
pub(super) fn strings_in<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}
