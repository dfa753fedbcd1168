//! StackStorm's expression functions, registered through weft's
//! extension point ([`weft_core::functions`]) by [`install_functions`].
//!
//! StackStorm's Orquesta runner gives every workflow these functions, as
//! functions and as Jinja filters; each one here gives StackStorm's
//! answer, in type and in text (its Python sources are the reference):
//!
//! | theme | functions |
//! |---|---|
//! | data ([`data`]) | `to_json_string`, `json_dump`, `to_yaml_string`, `yaml_dump`, `to_complex`, `from_json_string`, `json_parse`, `from_yaml_string`, `yaml_parse`, `json_escape`, `jsonpath_query`, `use_none` |
//! | regular expressions ([`regex`]) | `regex_match`, `regex_search`, `regex_replace`, `regex_substring` |
//! | versions ([`version`]) | `version_compare`, `version_more_than`, `version_less_than`, `version_equal`, `version_match`, `version_bump_major`, `version_bump_minor`, `version_bump_patch`, `version_strip_patch` |
//! | time ([`time`]) | `to_human_time_from_seconds` |
//! | paths ([`path`]) | `basename`, `dirname` |
//! | the run ([`runtime`]) | `task(name, route)`, `st2kv(key, decrypt, default)` (the datastore [`crate::load_datastore`] loaded) |

mod data;
mod jsonpath;
mod path;
mod pyjson;
mod pyre;
mod pyyaml;
mod regex;
mod runtime;
mod time;
mod version;

use std::sync::OnceLock;

use serde_json::Value;
use weft_core::functions::{self, Args, Call, Function, FunctionError, RegisterError};

pub(crate) use data::NONE_MAGIC;

type Imp = fn(&Args<'_>, &Call<'_>) -> Result<Value, FunctionError>;

/// Every function, by the name StackStorm registers it under.
const FUNCTIONS: &[(&str, Imp)] = &[
    ("basename", path::basename),
    ("dirname", path::dirname),
    ("from_json_string", data::from_json_string),
    ("from_yaml_string", data::from_yaml_string),
    ("json_dump", data::to_json_string),
    ("json_escape", data::json_escape),
    ("json_parse", data::from_json_string),
    ("jsonpath_query", data::jsonpath_query),
    ("regex_match", regex::regex_match),
    ("regex_replace", regex::regex_replace),
    ("regex_search", regex::regex_search),
    ("regex_substring", regex::regex_substring),
    ("to_complex", data::to_complex),
    (
        "to_human_time_from_seconds",
        time::to_human_time_from_seconds,
    ),
    ("to_json_string", data::to_json_string),
    ("to_yaml_string", data::to_yaml_string),
    ("use_none", data::use_none),
    ("version_bump_major", version::bump_major),
    ("version_bump_minor", version::bump_minor),
    ("version_bump_patch", version::bump_patch),
    ("version_compare", version::compare),
    ("version_equal", version::equal),
    ("version_less_than", version::less_than),
    ("version_match", version::matches),
    ("version_more_than", version::more_than),
    ("version_strip_patch", version::strip_patch),
    ("yaml_dump", data::to_yaml_string),
    ("yaml_parse", data::from_yaml_string),
    ("st2kv", runtime::st2kv),
];

/// The names of StackStorm's expression functions that weft provides, as
/// [`install_functions`] registers them (sorted).
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
    names.push("task");
    names.sort_unstable();
    names
}

/// Registers StackStorm's expression functions (see the module docs) for
/// every workflow this process compiles, in both dialects and both their
/// forms: `{{ to_json_string(x) }}`, `{{ x | to_json_string }}` and
/// `<% to_json_string(ctx().x) %>`; and declares the context name `st2`
/// (`ctx().st2`, set on runs by [`PackExt::st2_context`](crate::PackExt::st2_context)).
///
/// Call it once at startup, before the first workflow or template is
/// compiled (the `weft` command does); calling it again does nothing and
/// gives the first call's answer.
///
/// # Errors
///
/// Expressions were compiled already (functions are fixed from the first
/// compile on), or one of the names is taken by a function registered
/// before.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::{Template, WorkflowContext};
///
/// weft_stackstorm::install_functions()?;
/// let ctx = WorkflowContext::new(json!({"v": "0.10.1"}), []);
/// let t = Template::compile("{{ parameters.v | version_bump_minor }}")?;
/// assert_eq!(t.eval(&ctx)?, json!("0.11.0"));
/// let t = Template::compile(r#"{{ to_json_string({"a": 1, "b": [2]}) }}"#)?;
/// assert_eq!(t.eval(&ctx)?, json!(r#"{"a": 1,"b": [2]}"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install_functions() -> Result<(), RegisterError> {
    static INSTALLED: OnceLock<Result<(), RegisterError>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            for (name, imp) in FUNCTIONS {
                functions::register(name, Function::new(*imp))?;
            }
            functions::register("task", Function::new(runtime::task).reads_task_statuses())?;
            // `ctx().st2`, which `PackExt::st2_context` sets on each run.
            functions::declare_context_name("st2")
        })
        .clone()
}

/// The filters StackStorm's Jinja environment for action parameters has
/// (`st2common.util.jinja.get_filters`): the same functions, as filters only
/// (not `decrypt_kv`: weft's datastore keeps values in plain text).
const PARAMETER_FILTERS: &[&str] = &[
    "from_json_string",
    "from_yaml_string",
    "json_escape",
    "jsonpath_query",
    "to_complex",
    "to_json_string",
    "to_yaml_string",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "use_none",
    "basename",
    "dirname",
];

/// Adds StackStorm's parameter filters to `env` (the environment that
/// renders action parameters' defaults, apart from workflows').
pub(crate) fn add_parameter_filters(env: &mut minijinja::Environment<'static>) {
    for name in PARAMETER_FILTERS {
        let Some((_, imp)) = FUNCTIONS.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let imp = *imp;
        env.add_filter(
            *name,
            move |value: minijinja::Value,
                  rest: minijinja::value::Rest<minijinja::value::ValueOrKwargs>|
                  -> Result<minijinja::Value, minijinja::Error> {
                let fail = |m: String| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("{name}: {m}"),
                    )
                };
                let json =
                    |v: &minijinja::Value| serde_json::to_value(v).map_err(|e| fail(e.to_string()));
                let mut args = Args::new().arg(json(&value)?);
                for a in rest.iter() {
                    if a.is_kwargs() {
                        let kwargs = minijinja::value::Kwargs::try_from((**a).clone())?;
                        for k in kwargs.args() {
                            args = args
                                .kwarg(k.to_owned(), json(&kwargs.peek::<minijinja::Value>(k)?)?);
                        }
                    } else {
                        args = args.arg(json(a)?);
                    }
                }
                let out = imp(&args, &Call::new(name)).map_err(|e| fail(e.message().to_owned()))?;
                Ok(minijinja::Value::from(minijinja::value::Serde(out)))
            },
        );
    }
}

/// Python's `str(value)`, which StackStorm's functions apply to what is not
/// a string.
fn python_str(value: &Value) -> String {
    crate::pyrepr::str_of(value)
}

/// Python's name for the type of `value`, for messages.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The argument `what` as a string, or the error Python gives.
fn want_str<'v>(value: Option<&'v Value>, what: &str) -> Result<&'v str, FunctionError> {
    match value {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(FunctionError::new(format!(
            "{what} must be a string, not {}",
            python_type(other)
        ))),
        None => Err(FunctionError::new(format!("{what} is missing"))),
    }
}

/// A Python truth value for a flag argument (`ignorecase=true`).
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Fails with `message` unless `bytes` fit in the value cap; otherwise
/// pays for them.
fn charge(call: &Call<'_>, bytes: usize) -> Result<(), FunctionError> {
    let max = call.max_value_bytes();
    if bytes > max {
        return Err(FunctionError::new(format!(
            "the result would be {bytes} bytes or more, over the limit of {max} (ExpressionLimits::max_value_bytes): work on smaller parts"
        )));
    }
    call.charge_bytes(bytes)
}

use weft_core::engine::json_size_within;
