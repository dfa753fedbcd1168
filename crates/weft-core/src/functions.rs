//! Expression functions added from outside: the extension point.
//!
//! A program that embeds weft can give its workflows functions of its own,
//! and weft's StackStorm layer gives them StackStorm's (`to_json_string`,
//! `regex_match`, `task()`...) the same way. A function takes JSON
//! arguments — positional and keyword, as an expression passes them:
//! `f(a, b, key=v)` — and returns a JSON value or an error message.
//!
//! Every registered function is also a filter, with the value before the
//! `|` as its first argument: `{{ x | to_json_string }}` is
//! `{{ to_json_string(x) }}`, and `{{ x | f(2, k=3) }}` is
//! `{{ f(x, 2, k=3) }}`.
//!
//! Functions are process-wide, like [`ExpressionLimits`]: expressions are
//! compiled against one shared environment that is made on the first
//! compile or evaluation, and it takes the functions registered by then.
//! So register every function once, at startup, before the first workflow
//! or template is compiled; a later [`register`] is an error that says so.
//! The names an expression calls are checked when a workflow compiles, and
//! registered names count as known.
//!
//! An expression that calls none of them pays nothing for them: calls
//! and filters of registered functions are routed, when compiling,
//! through one dispatching function and filter, so the environment's
//! tables, where every other name is looked up, do not grow.
//!
//! # Examples
//!
//! ```
//! use serde_json::{json, Value};
//! use weft_core::functions::{self, Args, Call, Function, FunctionError};
//! use weft_core::{Template, WorkflowContext};
//!
//! // `percent(part, whole, digits=0)`
//! fn percent(args: &Args<'_>, _call: &Call<'_>) -> Result<Value, FunctionError> {
//!     let [part, whole, digits] = args.bind(["part", "whole", "digits"], 2)?;
//!     let number = |v: Option<&Value>| v.and_then(Value::as_f64);
//!     let (Some(part), Some(whole)) = (number(part), number(whole)) else {
//!         return Err(FunctionError::new("part and whole must be numbers"));
//!     };
//!     let digits = digits.and_then(Value::as_u64).unwrap_or(0) as usize;
//!     Ok(json!(format!("{:.*}%", digits, 100.0 * part / whole)))
//! }
//!
//! // Once, before anything compiles.
//! functions::register("percent", Function::new(percent))?;
//!
//! let ctx = WorkflowContext::new(json!({"done": 3, "all": 8}), []);
//! let t = Template::compile("{{ percent(parameters.done, parameters.all, digits=1) }}")?;
//! assert_eq!(t.eval(&ctx)?, json!("37.5%"));
//! // The same function as a filter.
//! let t = Template::compile("{{ parameters.done | percent(parameters.all) }}")?;
//! assert_eq!(t.eval(&ctx)?, json!("38%"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::context::WorkflowContext;
use crate::limits::{ExpressionLimits, Lexer, Mode, Tok};

type Imp = dyn Fn(&Args<'_>, &Call<'_>) -> Result<Value, FunctionError> + Send + Sync;

/// A function expressions may call, made from a Rust closure or `fn`.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::functions::{Args, Call, Function};
///
/// let double = Function::new(|args: &Args<'_>, _: &Call<'_>| {
///     let [x] = args.bind(["x"], 1)?;
///     match x.and_then(|x| x.as_i64()) {
///         Some(x) => Ok(json!(x * 2)),
///         None => Err("x must be an integer".into()),
///     }
/// });
/// let out = double.call(&Args::new().arg(json!(21)), &Call::new("double"))?;
/// assert_eq!(out, json!(42));
/// # Ok::<(), weft_core::functions::FunctionError>(())
/// ```
#[derive(Clone)]
pub struct Function {
    imp: Arc<Imp>,
    reads_task_statuses: bool,
}

impl Function {
    /// A function that runs `f`.
    pub fn new<F>(f: F) -> Function
    where
        F: Fn(&Args<'_>, &Call<'_>) -> Result<Value, FunctionError> + Send + Sync + 'static,
    {
        Function {
            imp: Arc::new(f),
            reads_task_statuses: false,
        }
    }

    /// Declares that the function reads tasks' statuses through
    /// [`WorkflowContext::task_status`]. A runtime records statuses only
    /// for plans that read them; a workflow that calls this function is
    /// such a plan.
    #[must_use]
    pub fn reads_task_statuses(mut self) -> Function {
        self.reads_task_statuses = true;
        self
    }

    /// Calls the function.
    ///
    /// # Errors
    ///
    /// Whatever the function returns as its error.
    pub fn call(&self, args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
        (self.imp)(args, call)
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("reads_task_statuses", &self.reads_task_statuses)
            .finish_non_exhaustive()
    }
}

/// The arguments of one call: positional values in order, then keyword
/// values by name. Values taken from the workflow context are borrowed
/// where they sit, not copied.
#[derive(Clone, Debug, Default)]
pub struct Args<'a> {
    positional: Vec<Cow<'a, Value>>,
    keyword: Vec<(Cow<'a, str>, Cow<'a, Value>)>,
}

impl<'a> Args<'a> {
    /// No arguments.
    pub fn new() -> Args<'a> {
        Args::default()
    }

    /// These arguments and one more positional value.
    #[must_use]
    pub fn arg(mut self, value: impl Into<ArgValue<'a>>) -> Args<'a> {
        self.positional.push(value.into().0);
        self
    }

    /// These arguments and one more keyword value.
    #[must_use]
    pub fn kwarg(
        mut self,
        name: impl Into<Cow<'a, str>>,
        value: impl Into<ArgValue<'a>>,
    ) -> Args<'a> {
        self.keyword.push((name.into(), value.into().0));
        self
    }

    /// The positional values, in order.
    pub fn positional(&self) -> impl ExactSizeIterator<Item = &Value> + '_ {
        self.positional.iter().map(|v| &**v)
    }

    /// The positional value at `index`.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.positional.get(index).map(|v| &**v)
    }

    /// The keyword value `name`.
    pub fn keyword(&self, name: &str) -> Option<&Value> {
        self.keyword
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| &**v)
    }

    /// The keyword values, in the order given.
    pub fn keywords(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.keyword.iter().map(|(k, v)| (&**k, &**v))
    }

    /// How many values were given, positional and keyword.
    pub fn len(&self) -> usize {
        self.positional.len() + self.keyword.len()
    }

    /// True when no value was given.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Binds the arguments to parameters as Python binds them: the
    /// positional values fill `params` in order, keyword values fill the
    /// parameter they name; the first `required` parameters must get a
    /// value. Gives one slot per parameter, `None` where none was given.
    ///
    /// # Errors
    ///
    /// More positional values than parameters, a keyword no parameter has,
    /// a parameter given twice, or a required one missing; the message
    /// names it.
    pub fn bind<const N: usize>(
        &self,
        params: [&str; N],
        required: usize,
    ) -> Result<[Option<&Value>; N], FunctionError> {
        if self.positional.len() > N {
            let takes = match (required, N) {
                (r, n) if r == n => format!("{n}"),
                (r, n) => format!("from {r} to {n}"),
            };
            return Err(FunctionError::new(format!(
                "takes {takes} positional argument{} but {} were given",
                if N == 1 { "" } else { "s" },
                self.positional.len()
            )));
        }
        let mut slots: [Option<&Value>; N] = [None; N];
        for (slot, v) in slots.iter_mut().zip(&self.positional) {
            *slot = Some(&**v);
        }
        for (name, v) in &self.keyword {
            let Some(i) = params.iter().position(|p| p == name) else {
                return Err(FunctionError::new(format!(
                    "got an unexpected keyword argument '{name}' (it takes {})",
                    params.join(", ")
                )));
            };
            if slots[i].is_some() {
                return Err(FunctionError::new(format!(
                    "got multiple values for argument '{name}'"
                )));
            }
            slots[i] = Some(&**v);
        }
        if let Some(i) = slots.iter().take(required).position(Option::is_none) {
            return Err(FunctionError::new(format!(
                "missing required argument '{}'",
                params[i]
            )));
        }
        Ok(slots)
    }
}

/// One argument's value for [`Args::arg`] and [`Args::kwarg`]: owned, or
/// borrowed from where it sits.
#[derive(Clone, Debug)]
pub struct ArgValue<'a>(Cow<'a, Value>);

impl From<Value> for ArgValue<'_> {
    fn from(v: Value) -> Self {
        ArgValue(Cow::Owned(v))
    }
}

impl<'a> From<&'a Value> for ArgValue<'a> {
    fn from(v: &'a Value) -> Self {
        ArgValue(Cow::Borrowed(v))
    }
}

impl<'a> From<Cow<'a, Value>> for ArgValue<'a> {
    fn from(v: Cow<'a, Value>) -> Self {
        ArgValue(v)
    }
}

/// What a function knows of the call besides its arguments: its name,
/// the workflow context it is evaluated in, and the evaluation's fuel.
pub struct Call<'a> {
    name: &'a str,
    context: Option<&'a WorkflowContext>,
    meter: Option<&'a dyn Fn(u64) -> bool>,
}

impl<'a> Call<'a> {
    /// A call of `name` outside any evaluation: no context, no fuel
    /// budget. For tests, and for calling a function directly.
    pub fn new(name: &'a str) -> Call<'a> {
        Call {
            name,
            context: None,
            meter: None,
        }
    }

    /// The same call, in `context`.
    #[must_use]
    pub fn with_context(mut self, context: &'a WorkflowContext) -> Call<'a> {
        self.context = Some(context);
        self
    }

    /// A call that spends the fuel of an evaluation: `meter(units)` takes
    /// that many units and says whether there were enough.
    pub(crate) fn with_meter(mut self, meter: &'a dyn Fn(u64) -> bool) -> Call<'a> {
        self.meter = Some(meter);
        self
    }

    /// The name the function was called by.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The workflow context of the evaluation: task results and statuses,
    /// variables, inputs, the current item and task. `None` for a call
    /// made outside a workflow's context.
    pub fn context(&self) -> Option<&'a WorkflowContext> {
        self.context
    }

    /// Spends `units` of the evaluation's fuel (see
    /// [`ExpressionLimits::fuel`]): a function whose work grows with its
    /// input pays for it, so that a loop of calls stops at the budget.
    ///
    /// # Errors
    ///
    /// The budget is spent; return the error as it is.
    pub fn consume_fuel(&self, units: u64) -> Result<(), FunctionError> {
        match self.meter {
            Some(meter) if !meter(units) => Err(FunctionError {
                message: "out of fuel".into(),
                out_of_fuel: true,
            }),
            _ => Ok(()),
        }
    }

    /// Spends the fuel that making `bytes` bytes of data costs (one unit
    /// per 64 bytes, as for every value an expression makes).
    ///
    /// # Errors
    ///
    /// As for [`Call::consume_fuel`].
    pub fn charge_bytes(&self, bytes: usize) -> Result<(), FunctionError> {
        self.consume_fuel((bytes / BYTES_PER_FUEL) as u64)
    }

    /// The most bytes one value may have ([`ExpressionLimits::max_value_bytes`]):
    /// a function that builds text can stop at this size.
    pub fn max_value_bytes(&self) -> usize {
        ExpressionLimits::current().max_value_bytes
    }
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("name", &self.name)
            .field("context", &self.context.is_some())
            .finish_non_exhaustive()
    }
}

/// Bytes of data one unit of fuel pays for.
pub(crate) const BYTES_PER_FUEL: usize = 64;

/// Why a function call failed: a message for the person who wrote the
/// expression (weft adds the function's name in front).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    message: String,
    out_of_fuel: bool,
}

impl FunctionError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> FunctionError {
        FunctionError {
            message: message.into(),
            out_of_fuel: false,
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the evaluation's fuel ran out during the call.
    pub fn is_out_of_fuel(&self) -> bool {
        self.out_of_fuel
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FunctionError {}

impl From<String> for FunctionError {
    fn from(message: String) -> Self {
        FunctionError::new(message)
    }
}

impl From<&str> for FunctionError {
    fn from(message: &str) -> Self {
        FunctionError::new(message)
    }
}

/// Why [`register`] refused a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterError {
    kind: RegisterErrorKind,
    message: String,
}

/// What kind of mistake a [`RegisterError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterErrorKind {
    /// The name is no identifier an expression can call.
    InvalidName,
    /// The name is one of weft's own functions or filters, or a word of the
    /// template language.
    Reserved,
    /// A function of that name is registered already.
    Duplicate,
    /// Expressions were already compiled: the shared environment is made
    /// and takes no more functions.
    TooLate,
}

impl RegisterError {
    fn new(kind: RegisterErrorKind, message: String) -> RegisterError {
        RegisterError { kind, message }
    }

    /// What kind of mistake it is.
    pub fn kind(&self) -> RegisterErrorKind {
        self.kind
    }
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RegisterError {}

/// Names no function may take: weft's own functions, minijinja's global
/// functions, and words of the template language.
const RESERVED: &[&str] = &[
    "result",
    "succeeded",
    "failed",
    "timed_out",
    "completed",
    "ctx",
    "item",
    "task_status",
    "json",
    "zip",
    "range",
    "dict",
    "debug",
    "namespace",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "for",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// The global function through which every call of a registered function
/// goes: `f(a, k=v)` is compiled as `zzweft_call('f', a, k=v)`. Its name
/// sorts after every other, so that looking up any other name in the
/// environment's table never compares it.
pub(crate) const CALL: &str = "zzweft_call";

/// The filter through which every registered function used as a filter
/// goes: `x | f(a)` is compiled as `x | zzweft_filter('f', a)`.
pub(crate) const FILTER: &str = "zzweft_filter";

struct Registry {
    functions: BTreeMap<String, Function>,
    context_names: Vec<String>,
    frozen: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    functions: BTreeMap::new(),
    context_names: Vec::new(),
    frozen: false,
});

/// The functions the shared environment was made with.
pub(crate) struct Frozen {
    /// By name, sorted.
    pub(crate) functions: Vec<(Arc<str>, Function)>,
    /// Names of the context every run has, sorted.
    pub(crate) context_names: Vec<String>,
}

static FROZEN: OnceLock<Frozen> = OnceLock::new();

/// Registers `function` under `name`, for every expression compiled from
/// now on, as a function and as a filter.
///
/// # Errors
///
/// The name is not an identifier (`[A-Za-z_][A-Za-z0-9_]*`), is taken by
/// one of weft's functions or filters, or was registered before; or
/// expressions were already compiled (register before the first compile).
pub fn register(name: &str, function: Function) -> Result<(), RegisterError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__weft")
        && !name.starts_with("zzweft");
    if !valid {
        return Err(RegisterError::new(
            RegisterErrorKind::InvalidName,
            format!("`{name}` cannot be a function name: use letters, digits and `_`, not starting with a digit (nor `__weft` or `zzweft`, which weft uses)"),
        ));
    }
    if RESERVED.contains(&name) || crate::names::FILTERS.contains(&name) {
        return Err(RegisterError::new(
            RegisterErrorKind::Reserved,
            format!("`{name}` is already a function, filter or word of weft's expressions: choose another name"),
        ));
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if registry.functions.contains_key(name) {
        return Err(RegisterError::new(
            RegisterErrorKind::Duplicate,
            format!("a function `{name}` is registered already"),
        ));
    }
    if registry.frozen {
        return Err(RegisterError::new(
            RegisterErrorKind::TooLate,
            format!("cannot register `{name}`: expressions were already compiled, and functions are fixed from the first compile on: register every function at startup, before the first workflow or template is compiled"),
        ));
    }
    registry.functions.insert(name.to_owned(), function);
    Ok(())
}

/// Declares `name` a value of every run's context, which the program that
/// runs the workflows sets when a run starts (weft's StackStorm layer
/// declares `st2`, and its runtime sets it with
/// `ExecutorBuilder::run_context`): `ctx().name` and `ctx('name')` then
/// count as declared when a workflow compiles, in both dialects.
///
/// Like functions, names are fixed from the first compile on.
///
/// # Errors
///
/// The name is not an identifier, or expressions were already compiled.
/// Declaring a name twice is no error.
pub fn declare_context_name(name: &str) -> Result<(), RegisterError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__");
    if !valid {
        return Err(RegisterError::new(
            RegisterErrorKind::InvalidName,
            format!("`{name}` cannot be a context name: use letters, digits and `_`, not starting with a digit or `__`"),
        ));
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if registry.context_names.iter().any(|n| n == name) {
        return Ok(());
    }
    if registry.frozen {
        return Err(RegisterError::new(
            RegisterErrorKind::TooLate,
            format!("cannot declare the context name `{name}`: expressions were already compiled: declare it at startup, before the first workflow or template is compiled"),
        ));
    }
    registry.context_names.push(name.to_owned());
    Ok(())
}

/// True when `name` was declared with [`declare_context_name`] (once
/// expressions are compiled; before, whether it is declared so far).
pub fn is_context_name(name: &str) -> bool {
    match FROZEN.get() {
        Some(f) => f
            .context_names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok(),
        None => REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .context_names
            .iter()
            .any(|n| n == name),
    }
}

/// True when a function `name` is registered.
pub fn is_registered(name: &str) -> bool {
    match FROZEN.get() {
        Some(f) => f.get(name).is_some(),
        None => REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .functions
            .contains_key(name),
    }
}

/// The registered function `name`, to call it directly (another dialect
/// of expressions, a test).
pub fn get(name: &str) -> Option<Function> {
    match FROZEN.get() {
        Some(f) => f.get(name).cloned(),
        None => REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .functions
            .get(name)
            .cloned(),
    }
}

/// The names of the registered functions, sorted.
pub fn names() -> Vec<String> {
    match FROZEN.get() {
        Some(f) => f.functions.iter().map(|(n, _)| n.to_string()).collect(),
        None => REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .functions
            .keys()
            .cloned()
            .collect(),
    }
}

impl Frozen {
    pub(crate) fn get(&self, name: &str) -> Option<&Function> {
        self.functions
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &self.functions[i].1)
    }
}

/// Closes the registry: the functions registered now are those of every
/// expression. Called when the shared environment is made.
pub(crate) fn freeze() -> &'static Frozen {
    FROZEN.get_or_init(|| {
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        registry.frozen = true;
        Frozen {
            functions: registry
                .functions
                .iter()
                .map(|(n, f)| (Arc::from(n.as_str()), f.clone()))
                .collect(),
            context_names: {
                let mut names = registry.context_names.clone();
                names.sort_unstable();
                names
            },
        }
    })
}

/// The names of the functions the shared environment was made with (none
/// before it is made).
pub(crate) fn frozen_names() -> impl Iterator<Item = &'static str> {
    FROZEN
        .get()
        .into_iter()
        .flat_map(|f| f.functions.iter().map(|(n, _)| &**n))
}

/// Every filter's name, for suggestions: minijinja's, weft's own (the list
/// in [`crate::names`]), and the registered functions'.
pub(crate) fn filter_names() -> impl Iterator<Item = &'static str> {
    crate::names::FILTERS.iter().copied().chain(frozen_names())
}

/// `source` with every call of a registered function routed through
/// [`CALL`] and every use as a filter through [`FILTER`], the name passed
/// first: the environment's own tables of functions and filters stay as
/// they are, so an expression that calls none of them looks names up as
/// fast as without them. A name the template defines itself (a macro, a
/// `set`) is left alone, as is a method (`x.f()`).
pub(crate) fn route_registered<'s>(source: &'s str, mode: Mode) -> Cow<'s, str> {
    match FROZEN.get().filter(|f| !f.functions.is_empty()) {
        Some(frozen) => route(frozen, source, mode),
        None => Cow::Borrowed(source),
    }
}

fn route<'s>(frozen: &Frozen, source: &'s str, mode: Mode) -> Cow<'s, str> {
    let toks: Vec<(Tok<'_>, usize, usize)> = Lexer::new(source, mode).collect();
    let sig: Vec<usize> = (0..toks.len())
        .filter(|&i| !matches!(toks[i].0, Tok::Space))
        .collect();
    let text = |k: usize| &source[toks[sig[k]].1..toks[sig[k]].2];
    let is =
        |k: usize, tok: Tok<'_>, t: &str| k < sig.len() && toks[sig[k]].0 == tok && text(k) == t;
    let mut defined: Vec<&str> = Vec::new();
    for k in 1..sig.len() {
        if let (Tok::Ident("macro" | "set" | "for" | "import" | "as"), Tok::Ident(n)) =
            (toks[sig[k - 1]].0, toks[sig[k]].0)
        {
            defined.push(n);
        }
    }
    // (byte offset, byte length replaced, text put there)
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for k in 0..sig.len() {
        let Tok::Ident(name) = toks[sig[k]].0 else {
            continue;
        };
        if frozen.get(name).is_none() || defined.contains(&name) {
            continue;
        }
        let prev = k.checked_sub(1).map(|j| toks[sig[j]].0);
        if prev == Some(Tok::Dot) {
            continue;
        }
        let (start, end) = (toks[sig[k]].1, toks[sig[k]].2);
        let filter = (k >= 1 && is(k - 1, Tok::Op, "|"))
            || (k >= 2
                && matches!(prev, Some(Tok::Ident("filter")))
                && matches!(toks[sig[k - 2]].0, Tok::TagStart { block: true }));
        let opens = is(k + 1, Tok::Open, "(");
        let empty = opens && is(k + 2, Tok::Close, ")");
        if filter {
            if opens {
                let open_end = toks[sig[k + 1]].2;
                let sep = if empty { "" } else { ", " };
                edits.push((start, end - start, FILTER.to_owned()));
                edits.push((open_end, 0, format!("'{name}'{sep}")));
            } else {
                edits.push((start, end - start, format!("{FILTER}('{name}')")));
            }
        } else if opens {
            let open_end = toks[sig[k + 1]].2;
            let sep = if empty { "" } else { ", " };
            edits.push((start, end - start, CALL.to_owned()));
            edits.push((open_end, 0, format!("'{name}'{sep}")));
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + edits.len() * 16);
    let mut at = 0;
    for (offset, len, text) in edits {
        out.push_str(&source[at..offset]);
        out.push_str(&text);
        at = offset + len;
    }
    out.push_str(&source[at..]);
    Cow::Owned(out)
}

/// True when `source` calls (or filters through) a registered function
/// that reads task statuses.
pub(crate) fn reads_task_statuses(source: &str, mode: Mode) -> bool {
    let Some(frozen) = FROZEN.get() else {
        return false;
    };
    frozen
        .functions
        .iter()
        .filter(|(name, f)| f.reads_task_statuses && source.contains(&**name))
        .any(|(name, _)| names_call(source, mode, name))
}

/// True when `source` spells `name(` (not after a `.`) or `| name`.
fn names_call(source: &str, mode: Mode, name: &str) -> bool {
    let toks: Vec<(Tok<'_>, usize, usize)> = Lexer::new(source, mode)
        .filter(|(t, _, _)| !matches!(t, Tok::Space))
        .collect();
    toks.iter().enumerate().any(|(i, &(tok, _, _))| {
        if tok != Tok::Ident(name) {
            return false;
        }
        let prev = i.checked_sub(1).map(|j| toks[j]);
        let next = toks.get(i + 1);
        let filter = prev.is_some_and(|(t, s, e)| t == Tok::Op && &source[s..e] == "|");
        let call = !matches!(prev, Some((Tok::Dot, _, _)))
            && next.is_some_and(|&(t, s, e)| t == Tok::Open && &source[s..e] == "(");
        filter || call
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bind_follows_python() {
        let a = Args::new()
            .arg(json!(1))
            .kwarg("indent", json!(2))
            .kwarg("sort_keys", json!(true));
        let [v, i, s, sep] = a
            .bind(["value", "indent", "sort_keys", "separators"], 1)
            .unwrap();
        assert_eq!(
            (v, i, s, sep),
            (Some(&json!(1)), Some(&json!(2)), Some(&json!(true)), None)
        );
        let e = a.bind(["value", "indent"], 1).unwrap_err();
        assert_eq!(
            e.message(),
            "got an unexpected keyword argument 'sort_keys' (it takes value, indent)"
        );
        let two = Args::new().arg(json!(1)).arg(json!(2)).kwarg("b", json!(3));
        assert_eq!(
            two.bind(["a", "b"], 1).unwrap_err().message(),
            "got multiple values for argument 'b'"
        );
        assert_eq!(
            two.bind(["a"], 1).unwrap_err().message(),
            "takes 1 positional argument but 2 were given"
        );
        assert_eq!(
            Args::new().bind(["a", "b"], 1).unwrap_err().message(),
            "missing required argument 'a'"
        );
        assert_eq!(
            Args::new()
                .arg(json!(1))
                .arg(json!(1))
                .arg(json!(1))
                .bind(["a", "b"], 1)
                .unwrap_err()
                .message(),
            "takes from 1 to 2 positional arguments but 3 were given"
        );
    }

    #[test]
    fn calls_and_filters_are_routed_through_one_function_each() {
        let frozen = Frozen {
            functions: ["f", "task"]
                .iter()
                .map(|n| {
                    (
                        Arc::from(*n),
                        Function::new(|_: &Args<'_>, _: &Call<'_>| Ok(Value::Null)),
                    )
                })
                .collect(),
            context_names: Vec::new(),
        };
        let e = |s| route(&frozen, s, Mode::Expression).into_owned();
        assert_eq!(e("f(1, k=2)"), "zzweft_call('f', 1, k=2)");
        assert_eq!(e("f()"), "zzweft_call('f')");
        assert_eq!(e("x | f"), "x | zzweft_filter('f')");
        assert_eq!(e("x | f(2) | upper"), "x | zzweft_filter('f', 2) | upper");
        assert_eq!(
            e("task('a').x + task.a"),
            "zzweft_call('task', 'a').x + task.a"
        );
        assert_eq!(e("x.f() ~ 'f(1)' ~ g(1)"), "x.f() ~ 'f(1)' ~ g(1)");
        let t = |s| route(&frozen, s, Mode::Template).into_owned();
        assert_eq!(
            t("{% filter f %}x{% endfilter %}{{ f ( 1 ) }}"),
            "{% filter zzweft_filter('f') %}x{% endfilter %}{{ zzweft_call ('f',  1 ) }}"
        );
        assert_eq!(
            t("{% macro f() %}{% endmacro %}{{ f() }}"),
            "{% macro f() %}{% endmacro %}{{ f() }}"
        );
    }

    #[test]
    fn calls_are_told_apart_from_paths() {
        let m = Mode::Expression;
        assert!(names_call("task('a').result", m, "task"));
        assert!(names_call("x | task", m, "task"));
        assert!(!names_call("task.a.result", m, "task"));
        assert!(!names_call("x.task('a')", m, "task"));
        assert!(!names_call("'task(1)'", m, "task"));
        assert!(names_call("{{ task () }}", Mode::Template, "task"));
    }
}
