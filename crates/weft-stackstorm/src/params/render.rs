//! Defaults that are Jinja templates, rendered as StackStorm renders them:
//! against `config_context`, `action_context` and the other parameters, in
//! the order their dependencies ask.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use super::cast::{cast, problem};
use super::{Context, ParamError, Parameter};
use crate::pyrepr;

/// The work one render may do (minijinja's fuel).
const FUEL: u64 = 100_000;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // StackStorm's environment trims blocks and strips their leading
    // blanks.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Values print as Python prints them: `True`, `None`, `['a', 1]`.
    env.set_formatter(|out, _state, value| {
        let v = serde_json::to_value(value).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })?;
        out.write_str(&pyrepr::str_of(&v))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed"))
    });
    // StackStorm's filters for parameters: `to_json_string`, `use_none`,
    // `regex_replace`, ... as in workflows.
    crate::functions::add_parameter_filters(&mut env);
    // weft keeps datastore values in plain text: there is nothing to
    // decrypt (see `st2kv`).
    env.add_filter("decrypt_kv", |v: minijinja::Value| v);
    env
});

/// The names a default's template may use besides the parameters.
const CONTEXT_NAMES: &[&str] = &["config_context", "action_context", "st2kv"];

/// Renders the templated defaults of `templates` in dependency order,
/// adding their values to `values`.
pub(super) fn render_defaults(
    params: &[Parameter],
    templates: &[&Parameter],
    values: &mut Map<String, Value>,
    ctx: &Context<'_>,
) -> Result<(), ParamError> {
    if templates.is_empty() {
        return Ok(());
    }
    // The names each template reads; a template that does not parse is
    // a plain value, as under StackStorm.
    let mut needs: HashMap<&str, Vec<String>> = HashMap::new();
    let mut plain: Vec<&Parameter> = Vec::new();
    for p in templates {
        let Some(default) = &p.default else { continue };
        match names_used(default) {
            Some(names) => {
                for n in &names {
                    if !CONTEXT_NAMES.contains(&n.as_str()) && !params.iter().any(|q| &q.name == n)
                    {
                        return Err(problem(
                            p,
                            format!("has a default that uses `{n}`, which is no parameter of the action, nor config_context or action_context"),
                        ));
                    }
                }
                needs.insert(&p.name, names);
            }
            None => plain.push(p),
        }
    }
    for p in plain {
        if let Some(d) = &p.default {
            values.insert(p.name.clone(), cast(p, d.clone())?);
        }
    }
    // Depth-first, in declaration order; a name met again on the path is a
    // cycle.
    let mut done: HashSet<String> = values
        .keys()
        .filter(|k| !needs.contains_key(k.as_str()))
        .cloned()
        .collect();
    let order: Vec<&str> = templates.iter().map(|p| p.name.as_str()).collect();
    for name in order {
        let mut path = Vec::new();
        visit(name, params, &needs, &mut done, &mut path, values, ctx)?;
    }
    Ok(())
}

fn visit(
    name: &str,
    params: &[Parameter],
    needs: &HashMap<&str, Vec<String>>,
    done: &mut HashSet<String>,
    path: &mut Vec<String>,
    values: &mut Map<String, Value>,
    ctx: &Context<'_>,
) -> Result<(), ParamError> {
    if done.contains(name) {
        return Ok(());
    }
    let Some(p) = params.iter().find(|p| p.name == name) else {
        return Ok(());
    };
    if path.iter().any(|n| n == name) {
        path.push(name.to_owned());
        return Err(problem(
            p,
            format!(
                "has a default that depends on itself: {} (a cycle of defaults)",
                path.join(" -> ")
            ),
        ));
    }
    path.push(name.to_owned());
    if let Some(deps) = needs.get(name) {
        for d in deps {
            if !CONTEXT_NAMES.contains(&d.as_str()) {
                visit(d, params, needs, done, path, values, ctx)?;
            }
        }
        if let Some(default) = &p.default {
            let rendered = render(default, values, ctx)
                .map_err(|e| problem(p, format!("has a default that does not render: {e}")))?;
            values.insert(name.to_owned(), cast(p, rendered)?);
        }
    }
    path.pop();
    done.insert(name.to_owned());
    Ok(())
}

/// The top-level names a template (or the templates in a list or map)
/// reads; `None` when a string with `{{` does not parse as a template.
fn names_used(v: &Value) -> Option<Vec<String>> {
    let mut names = Vec::new();
    collect_names(v, &mut names)?;
    // minijinja's own globals (`range`, `dict`, ...) are no dependencies.
    names.retain(|n| !ENV.globals().any(|(g, _)| g == n));
    names.sort();
    names.dedup();
    Some(names)
}

fn collect_names(v: &Value, out: &mut Vec<String>) -> Option<()> {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let t = ENV.template_from_str(s).ok()?;
            out.extend(t.undeclared_variables(false));
        }
        Value::Array(items) => {
            for i in items {
                collect_names(i, out)?;
            }
        }
        Value::Object(map) => {
            for i in map.values() {
                collect_names(i, out)?;
            }
        }
        _ => {}
    }
    Some(())
}

/// Renders a default: a string that is one `{{ expression }}` keeps the
/// expression's value (cast afterwards as StackStorm casts the text it
/// would print); any other string is rendered as text; a list or map has
/// each of its strings rendered so.
fn render(v: &Value, values: &Map<String, Value>, ctx: &Context<'_>) -> Result<Value, String> {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let mut scope = values.clone();
            scope.insert("config_context".into(), ctx.config.clone());
            scope.insert("action_context".into(), ctx.action.clone());
            if s.contains("st2kv") {
                let user = ctx
                    .action
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("stanley");
                scope.insert("st2kv".into(), crate::datastore::template_view(user));
            }
            let scope = minijinja::Value::from(minijinja::value::Serde(&scope));
            if let Some(expr) = whole_expression(s) {
                if let Ok(e) = ENV.compile_expression(expr) {
                    let out = e.eval(scope).map_err(|e| jinja_error(&e))?;
                    return serde_json::to_value(&out).map_err(|e| e.to_string());
                }
            }
            let t = ENV.template_from_str(s).map_err(|e| jinja_error(&e))?;
            t.render(scope)
                .map(Value::String)
                .map_err(|e| jinja_error(&e))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| render(i, values, ctx))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(k, i)| render(i, values, ctx).map(|r| (k.clone(), r)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// The expression of a string that is exactly one `{{ ... }}`.
fn whole_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

fn jinja_error(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
