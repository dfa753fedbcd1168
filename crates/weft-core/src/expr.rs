//! Expressions: every `{{ }}` of a workflow, compiled once.
//!
//! A string is compiled into a [`Template`]:
//!
//! * no `{{` at all: a literal;
//! * exactly one `{{ expr }}`: an expression whose result keeps its JSON type
//!   (`"{{ index }}"` is a number). Plain paths such as `item`, `index`,
//!   `parameters.url` or `task.fetch.body[0]` are recognised here and resolved
//!   directly against the context; everything else is evaluated by minijinja;
//! * text with expressions in it: rendered to a string;
//! * anything with `{% %}` statements: a full minijinja template;
//! * `<% %>` anywhere: YAQL (see the `yaql` module), with the same rules
//!   for one expression and for text. A string with both dialects is an
//!   error, as in Orquesta.
//!
//! The direct path and minijinja must agree; a shared corpus of expressions
//! in the tests checks that they do.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, OnceLock};

use minijinja::value::{Object, Rest, ValueOrKwargs};
use minijinja::{Environment, Expression, State, UndefinedBehavior, Value as MjValue};
use serde_json::{Map, Value};

use crate::context::{TaskStatus, WorkflowContext};
use crate::diag::excerpt;
use crate::diag::path::split_path;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{self, json_size_within, rename_calls, ExpressionLimits, Mode};
use crate::view::{
    arc_to_mj, ctx_lookup, get_key, json_to_mj, mj_to_json, scalar_to_mj, Bounded, Convert,
    JsonView, MapKind, MapView, Root, Step, ROOT_KEY,
};

/// The shared environment: our functions, strict undefined values, no HTML
/// escaping, the fuel budget of [`ExpressionLimits`]. Every expression and
/// template is compiled against it and lives for the whole program.
static ENV: LazyLock<Environment<'static>> = LazyLock::new(new_environment);

/// How deep macros, recursive loops and nested frames may go. minijinja's
/// default (500) needs about 2 MB of stack in a debug build for recursive
/// macros; 100 keeps a wide margin on a 2 MB thread.
const RECURSION_LIMIT: usize = 100;

fn new_environment() -> Environment<'static> {
    let limits = ExpressionLimits::current();
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_fuel(Some(limits.fuel));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_formatter(bounded_formatter);
    // A namespace is the one mutable value of the language: a loop that
    // wraps it in itself (`{% set ns.x = [ns.x] %}`) builds a value deep
    // enough that dropping it overflows the stack.
    env.add_function("namespace", |_: Rest<minijinja::value::ValueOrKwargs>| -> std::result::Result<MjValue, minijinja::Error> {
        Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "namespace() is not available in weft: keep loop results in a list (`| map`, `| select`) or publish them as variables",
        ))
    });
    env.add_function("result", fn_result);
    env.add_function("succeeded", |s: &State| {
        status_fn(s, "succeeded", TaskStatus::is_succeeded)
    });
    env.add_function("failed", |s: &State| {
        status_fn(s, "failed", TaskStatus::is_failure)
    });
    env.add_function("timed_out", |s: &State| {
        status_fn(s, "timed_out", |st| st == TaskStatus::TimedOut)
    });
    env.add_function("completed", |s: &State| {
        status_fn(s, "completed", TaskStatus::is_terminal)
    });
    env.add_function("ctx", fn_ctx);
    env.add_function(ITEM_FN, fn_item);
    env.add_function("task_status", fn_task_status);
    env.add_function("json", fn_json);
    env.add_function("zip", fn_zip);
    env.add_filter("shell_quote", crate::shell::shell_quote);
    // Python's methods on strings, lists and maps (`'a b'.split()`,
    // `d.items()`, `d.get('k', 0)`), Jinja2's `tojson` and the filters
    // minijinja lacks, as in Orquesta's Jinja.
    crate::jinja_compat::install(&mut env);
    add_registered_functions(&mut env);
    env
}

/// The functions registered through [`crate::functions::register`]:
/// calls and filters of them are routed, when compiling, through one
/// global function and one filter that take the name first (see
/// [`crate::functions::route_registered`]), so the environment's own
/// tables do not grow. Registering closes here.
fn add_registered_functions(env: &mut Environment<'static>) {
    let frozen = crate::functions::freeze();
    if frozen.functions.is_empty() {
        return;
    }
    env.add_function(
        crate::functions::CALL,
        |state: &State, name: &str, args: Rest<ValueOrKwargs>| {
            let f = registered(name)?;
            call_registered(state, name, f, None, &args)
        },
    );
    env.add_filter(
        crate::functions::FILTER,
        |state: &State, value: MjValue, name: &str, args: Rest<ValueOrKwargs>| {
            let f = registered(name)?;
            call_registered(state, name, f, Some(value), &args)
        },
    );
}

/// The registered function `name` (always there: only registered names
/// are routed to it).
fn registered(
    name: &str,
) -> std::result::Result<&'static crate::functions::Function, minijinja::Error> {
    crate::functions::freeze().get(name).ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::UnknownFunction,
            format!("no function `{name}` is registered"),
        )
    })
}

/// Calls a registered function from an expression: its arguments become
/// JSON (values from the context are borrowed, not copied), its fuel is the
/// evaluation's, and what it returns is measured against
/// [`ExpressionLimits::max_value_bytes`] and paid for like any value made.
fn call_registered(
    state: &State,
    name: &str,
    function: &crate::functions::Function,
    piped: Option<MjValue>,
    args: &[ValueOrKwargs],
) -> std::result::Result<MjValue, minijinja::Error> {
    use crate::functions::{Args, Call};

    let fail = |message: String| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("{name}(): {message}"),
        )
    };
    let max = ExpressionLimits::current().max_value_bytes;
    // The minijinja values the JSON arguments borrow from.
    let mut positional: Vec<MjValue> = Vec::with_capacity(args.len() + 1);
    let mut keyword: Vec<(String, MjValue)> = Vec::new();
    positional.extend(piped);
    for a in args {
        if a.is_kwargs() {
            let kwargs = minijinja::value::Kwargs::try_from((**a).clone())?;
            for key in kwargs.args() {
                keyword.push((key.to_owned(), kwargs.peek::<MjValue>(key)?));
            }
        } else {
            positional.push((**a).clone());
        }
    }
    let mut budget = max;
    let mut call_args = Args::new();
    for v in &positional {
        call_args = call_args.arg(arg_json(v, &mut budget, name)?);
    }
    for (k, v) in &keyword {
        call_args = call_args.kwarg(k.as_str(), arg_json(v, &mut budget, name)?);
    }
    let fuel_error = std::cell::RefCell::new(None);
    let meter = |units: u64| match state.consume_fuel(units) {
        Ok(()) => true,
        Err(e) => {
            *fuel_error.borrow_mut() = Some(e);
            false
        }
    };
    let ctx = root(state).ok();
    let mut call = Call::new(name).with_meter(&meter);
    if let Some(root) = &ctx {
        call = call.with_context(&root.0);
    }
    let out = match function.call(&call_args, &call) {
        Ok(v) => v,
        Err(e) if e.is_out_of_fuel() => {
            return Err(fuel_error.borrow_mut().take().unwrap_or_else(|| {
                minijinja::Error::new(minijinja::ErrorKind::OutOfFuel, "out of fuel")
            }))
        }
        Err(e) => return Err(fail(e.message().to_owned())),
    };
    let size =
        json_size_within(&out, max).ok_or_else(|| too_large(&format!("{name}()"), max, max))?;
    state.consume_fuel((size / crate::functions::BYTES_PER_FUEL) as u64)?;
    Ok(json_to_mj(out))
}

/// True when the shared environment has a filter of this name.
pub(crate) fn filter_exists(name: &str) -> bool {
    crate::names::FILTERS.contains(&name)
        || crate::functions::frozen_names().any(|n| n == name)
        || probe(
            &format!("none | {name}"),
            minijinja::ErrorKind::UnknownFilter,
        )
}

/// True when the shared environment has a test of this name.
pub(crate) fn test_exists(name: &str) -> bool {
    crate::names::TESTS.contains(&name)
        || probe(
            &format!("none is {name}"),
            minijinja::ErrorKind::UnknownTest,
        )
}

/// The global functions of the shared environment (`item` is both a
/// variable and a function, and is not among them).
pub(crate) fn function_names() -> Vec<&'static str> {
    let env: &'static Environment<'static> = &ENV;
    env.globals()
        .map(|(name, _)| name)
        .filter(|n| *n != ITEM_FN && *n != crate::functions::CALL)
        .chain(crate::functions::frozen_names())
        .collect()
}

/// Whether evaluating `expr` (a filter or test applied to `none`) fails
/// only because the name is unknown. Every filter and test of the
/// environment is pure, so trying one costs nothing but time.
fn probe(expr: &str, unknown: minijinja::ErrorKind) -> bool {
    let outcome = ENV
        .compile_expression(expr)
        .and_then(|e| e.eval(MjValue::from(())));
    !matches!(outcome, Err(e) if e.kind() == unknown)
}

fn root(state: &State) -> std::result::Result<Arc<Root>, minijinja::Error> {
    state
        .lookup(ROOT_KEY)
        .and_then(|v| v.as_object().and_then(|o| o.downcast::<Root>()))
        .ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "weft functions need a workflow context",
            )
        })
}

fn no_task(name: &str) -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!("{name}() is only available where a task has completed (`next`, `publish`, `retry.when`)"),
    )
}

fn fn_result(state: &State) -> std::result::Result<MjValue, minijinja::Error> {
    let root = root(state)?;
    let cur = root
        .0
        .current_task
        .as_ref()
        .ok_or_else(|| no_task("result"))?;
    Ok(arc_to_mj(&cur.result))
}

fn status_fn(
    state: &State,
    name: &str,
    test: fn(TaskStatus) -> bool,
) -> std::result::Result<bool, minijinja::Error> {
    let root = root(state)?;
    let cur = root.0.current_task.as_ref().ok_or_else(|| no_task(name))?;
    Ok(test(cur.status))
}

fn fn_ctx(state: &State, name: Option<&str>) -> std::result::Result<MjValue, minijinja::Error> {
    let root = root(state)?;
    match name {
        None => Ok(MapView::value(&root.0, MapKind::Ctx)),
        Some(name) => ctx_lookup(&root.0, name).ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("ctx(\"{name}\"): no input or variable `{name}`"),
            )
        }),
    }
}

/// `item` is both a variable and Orquesta's `item()` / `item(name)`
/// function; calls are renamed to this global when compiling.
const ITEM_FN: &str = "__weft_item";

fn fn_item(state: &State, name: Option<&str>) -> std::result::Result<MjValue, minijinja::Error> {
    let root = root(state)?;
    let item = root.0.current_item.as_ref().ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "item() is only available in a task with `with` items",
        )
    })?;
    match name {
        None => Ok(arc_to_mj(item)),
        Some(name) => match item.get(name) {
            Some(v) => Ok(json_to_mj(v.clone())),
            None => Err(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("item(\"{name}\"): the current item has no field `{name}`"),
            )),
        },
    }
}

fn fn_task_status(state: &State, name: &str) -> std::result::Result<MjValue, minijinja::Error> {
    let root = root(state)?;
    Ok(match root.0.task_status(name) {
        Some(s) => MjValue::from(s.as_str()),
        None => MjValue::from(()),
    })
}

/// Bytes of input that one fuel pays for in `json()`: parsing costs about
/// what serializing does (minijinja charges 16 units of 64 per byte).
const JSON_BYTES_PER_FUEL: u64 = 4;

fn fn_json(state: &State, text: &str) -> std::result::Result<MjValue, minijinja::Error> {
    let max = ExpressionLimits::current().max_value_bytes;
    if text.len() > max {
        return Err(too_large("json()", text.len(), max));
    }
    state.consume_fuel(text.len() as u64 / JSON_BYTES_PER_FUEL + 1)?;
    serde_json::from_str::<Value>(text)
        .map(json_to_mj)
        .map_err(|e| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("json(): not valid JSON: {e}"),
            )
        })
}

/// Orquesta's `zip(a, b, ..., pad=None)`: Python's `zip_longest`, the
/// shorter lists padded with `pad`; a `none` argument is an empty list,
/// and one argument is given back as it is.
fn fn_zip(
    state: &State,
    args: Rest<ValueOrKwargs>,
) -> std::result::Result<MjValue, minijinja::Error> {
    let mut lists = Vec::with_capacity(args.len());
    let mut pad = MjValue::from(());
    for a in args.iter() {
        if a.is_kwargs() {
            let kwargs = minijinja::value::Kwargs::try_from((**a).clone())?;
            if let Some(p) = kwargs.get::<Option<MjValue>>("pad")? {
                pad = p;
            }
            kwargs.assert_all_used()?;
        } else {
            lists.push((**a).clone());
        }
    }
    if lists.len() == 1 && !lists[0].is_none() {
        return Ok(lists.swap_remove(0));
    }
    let mut iters = Vec::with_capacity(lists.len());
    for l in &lists {
        iters.push(if l.is_none() {
            None
        } else {
            Some(l.try_iter()?)
        });
    }
    // Each row costs its slots and the outer list's, charged before it is
    // made (a slot costs half a fuel in minijinja's accounting).
    let row_fuel = (iters.len() as u64 + 1).div_ceil(2);
    let mut out = Vec::new();
    loop {
        state.consume_fuel(row_fuel)?;
        let mut row = Vec::with_capacity(iters.len());
        let mut any = false;
        for it in &mut iters {
            match it.as_mut().and_then(Iterator::next) {
                Some(v) => {
                    any = true;
                    row.push(v);
                }
                None => row.push(pad.clone()),
            }
        }
        if !any {
            break;
        }
        out.push(MjValue::from(row));
    }
    Ok(MjValue::from(out))
}

fn too_large(what: &str, bytes: usize, max: usize) -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!("{what} would produce {bytes} bytes or more, over the limit of {max} (ExpressionLimits::max_value_bytes): work on smaller parts"),
    )
}

/// Prints a value into a template's output. Strings and numbers as
/// minijinja does; containers through [`Bounded`], so one `{{ }}` prints at
/// most [`ExpressionLimits::max_value_bytes`].
fn bounded_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &MjValue,
) -> std::result::Result<(), minijinja::Error> {
    if value.as_object().is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    let max = ExpressionLimits::current().max_value_bytes;
    let mut b = Bounded::new(max);
    if write!(b, "{value}").is_err() && b.over {
        return Err(too_large("printing a value", max, max));
    }
    out.write_str(&b.out).map_err(minijinja::Error::from)
}

/// Where a template sits in the workflow, for error messages.
fn place_error(place: &Option<Arc<str>>, kind: ErrorKind, message: String) -> Error {
    let mut e = Error::new(kind, message);
    if let Some(p) = place {
        let (task, field) = split_path(p);
        if let Some(t) = task {
            e = e.with_task(t);
        }
        if let Some(f) = field {
            e = e.with_field(f);
        }
    }
    e
}

/// A compiled string: literal, single expression or text template.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::{Template, WorkflowContext};
///
/// let ctx = WorkflowContext::new(json!({"n": 3}), []);
/// let t = Template::compile("{{ parameters.n * 2 }}")?;
/// assert_eq!(t.eval(&ctx)?, json!(6));
/// # Ok::<(), weft_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Template {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    place: Option<Arc<str>>,
    kind: Kind,
}

enum Kind {
    Literal(Value),
    Fast(FastPath, Compiled),
    Expr(Compiled),
    Concat(Vec<Piece>),
    Full(Box<LazyTemplate>),
    Yaql(Box<crate::yaql::YaqlTemplate>),
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Literal(v) => write!(f, "Literal({v})"),
            Kind::Fast(p, _) => write!(f, "Fast({p:?})"),
            Kind::Expr(_) => f.write_str("Expr"),
            Kind::Concat(p) => write!(f, "Concat({})", p.len()),
            Kind::Full(_) => f.write_str("Full"),
            Kind::Yaql(t) => write!(f, "Yaql({t:?})"),
        }
    }
}

enum Piece {
    Text(String),
    Expr(Option<FastPath>, Compiled),
}

/// An expression, shared by every template of one compile that holds the
/// same expression text (see [`ExprCache`]).
type Compiled = Arc<LazyExpr>;

/// An expression checked when compiling and turned into minijinja
/// instructions on its first evaluation. minijinja reserves room for 256
/// instructions per expression (about 8 KB, never given back), so a
/// workflow pays that only for the expressions it evaluates, and plain
/// paths (which the fast path resolves) mostly never.
struct LazyExpr {
    /// The text minijinja compiles (`item(` calls renamed).
    text: Box<str>,
    compiled: OnceLock<Expression<'static, 'static>>,
}

impl LazyExpr {
    fn get(&self) -> std::result::Result<&Expression<'static, 'static>, minijinja::Error> {
        if let Some(e) = self.compiled.get() {
            return Ok(e);
        }
        let e = ENV.compile_expression_owned(self.text.to_string())?;
        Ok(self.compiled.get_or_init(|| e))
    }
}

mod owned {
    //! A minijinja template that owns its source text.
    #![allow(unreachable_pub, missing_docs)]

    type Borrowed<'a> = minijinja::Template<'a, 'a>;

    self_cell::self_cell!(
        pub(super) struct OwnedTemplate {
            owner: Box<str>,
            #[covariant]
            dependent: Borrowed,
        }
    );
}

/// A template with statements, checked when compiling and compiled against
/// the shared environment on first use (as [`LazyExpr`]).
struct LazyTemplate {
    text: Box<str>,
    compiled: OnceLock<owned::OwnedTemplate>,
}

impl LazyTemplate {
    fn get(&self) -> std::result::Result<&minijinja::Template<'_, '_>, minijinja::Error> {
        if let Some(t) = self.compiled.get() {
            return Ok(t.borrow_dependent());
        }
        let t = owned::OwnedTemplate::try_new(self.text.clone(), |text| {
            let env: &Environment<'_> = &ENV;
            env.template_from_str(text)
        })?;
        Ok(self.compiled.get_or_init(|| t).borrow_dependent())
    }
}

/// What one `Workflow::compile` has compiled so far on this thread.
struct CacheState {
    exprs: std::collections::HashMap<String, Compiled>,
    /// YAQL expressions, by text.
    yaql: std::collections::HashMap<String, Arc<crate::yaql::Program>>,
    /// Distinct expressions and statement templates, for
    /// [`ExpressionLimits::max_expressions`].
    count: usize,
    /// Whether some expression calls a registered function that reads
    /// task statuses.
    reads_task_statuses: bool,
}

thread_local! {
    /// The state of the `Workflow::compile` running on this thread; `None`
    /// outside one.
    static EXPR_CACHE: std::cell::RefCell<Option<CacheState>> =
        const { std::cell::RefCell::new(None) };
}

/// While alive, expressions compiled on this thread are shared by text: a
/// builder's thousand `{{ succeeded() }}` conditions are parsed once. Each
/// template keeps its own place for its error messages. Dropped at the end
/// of a compile, so nothing outlives it. It also counts the compile's
/// distinct expressions against [`ExpressionLimits::max_expressions`].
pub(crate) struct ExprCache {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl ExprCache {
    pub(crate) fn enter() -> ExprCache {
        EXPR_CACHE.with(|c| {
            *c.borrow_mut() = Some(CacheState {
                exprs: std::collections::HashMap::new(),
                yaql: std::collections::HashMap::new(),
                count: 0,
                reads_task_statuses: false,
            })
        });
        ExprCache {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl ExprCache {
    /// Whether an expression compiled so far calls a registered function
    /// that reads task statuses ([`crate::functions::Function::reads_task_statuses`]).
    pub(crate) fn reads_task_statuses(&self) -> bool {
        EXPR_CACHE.with(|c| c.borrow().as_ref().is_some_and(|s| s.reads_task_statuses))
    }
}

impl Drop for ExprCache {
    fn drop(&mut self) {
        EXPR_CACHE.with(|c| *c.borrow_mut() = None);
    }
}

/// Counts one more distinct expression in the running compile, if any.
fn count_expression(place: &Option<Arc<str>>) -> Result<()> {
    let max = ExpressionLimits::current().max_expressions;
    let over = EXPR_CACHE.with(|c| match c.borrow_mut().as_mut() {
        Some(state) => {
            state.count += 1;
            state.count > max
        }
        None => false,
    });
    if over {
        return Err(place_error(
            place,
            ErrorKind::Validation,
            format!("the workflow holds more than {max} distinct expressions (ExpressionLimits::max_expressions): split it into several workflows, or share expressions through variables"),
        ));
    }
    Ok(())
}

/// A split of a string into text and `{{ }}` parts, or `None` when the
/// string needs the full template engine (statements, comments, whitespace
/// control, or something unbalanced).
enum Split<'a> {
    Literal,
    Single(&'a str),
    Mixed(Vec<(bool, &'a str)>),
    Full,
}

fn split(s: &str) -> Split<'_> {
    if !s.contains("{{") && !s.contains("{%") && !s.contains("{#") {
        return Split::Literal;
    }
    if s.contains("{%") || s.contains("{#") {
        return Split::Full;
    }
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' {
            let start = i + 2;
            let mut j = start;
            let mut quote: Option<u8> = None;
            let mut end = None;
            while j < bytes.len() {
                let c = bytes[j];
                match quote {
                    Some(q) if c == b'\\' => {
                        let _ = q;
                        j += 1;
                    }
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'\'' || c == b'"' => quote = Some(c),
                    None if c == b'}' && j + 1 < bytes.len() && bytes[j + 1] == b'}' => {
                        end = Some(j);
                        break;
                    }
                    None => {}
                }
                j += 1;
            }
            let Some(end) = end else { return Split::Full };
            let inner = &s[start..end];
            if inner.starts_with(['-', '+']) || inner.ends_with(['-', '+']) {
                return Split::Full;
            }
            if i > text_start {
                parts.push((false, &s[text_start..i]));
            }
            parts.push((true, inner));
            i = end + 2;
            text_start = i;
        } else {
            i += 1;
        }
    }
    if text_start < s.len() {
        parts.push((false, &s[text_start..]));
    }
    match parts.as_slice() {
        [(true, e)] => Split::Single(e),
        _ => Split::Mixed(parts),
    }
}

fn compile_expr(expr: &str, whole: &str, place: &Option<Arc<str>>) -> Result<Compiled> {
    if expr.trim().is_empty() {
        return Err(place_error(
            place,
            ErrorKind::TemplateSyntax,
            format!("empty expression in `{whole}`: write `{{{{ name }}}}`"),
        ));
    }
    let cached = EXPR_CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|state| state.exprs.get(expr).cloned())
    });
    if let Some(compiled) = cached {
        return Ok(compiled);
    }
    check_depth(expr, Mode::Expression, place)?;
    count_expression(place)?;
    let text = rename_calls(expr, Mode::Expression, "item", ITEM_FN);
    let text = registered_calls(text, Mode::Expression);
    // Parsed now, so syntax errors are found when compiling; the
    // instructions are made again on first use (see `LazyExpr`).
    ENV.compile_expression(&text).map_err(|e| {
        place_error(
            place,
            ErrorKind::TemplateSyntax,
            format!("in `{}`: {}", excerpt(whole), mj_detail(&e)),
        )
    })?;
    let compiled = Arc::new(LazyExpr {
        text: text.into(),
        compiled: OnceLock::new(),
    });
    EXPR_CACHE.with(|c| {
        if let Some(state) = c.borrow_mut().as_mut() {
            state.exprs.insert(expr.to_owned(), compiled.clone());
        }
    });
    Ok(compiled)
}

/// Compiles one YAQL expression (`text`, at byte `at` of `whole`), or
/// finds it compiled already in the running compile.
fn compile_yaql(
    text: &str,
    whole: &str,
    at: usize,
    place: &Option<Arc<str>>,
) -> Result<Arc<crate::yaql::Program>> {
    // YAQL calls registered functions as Jinja does: the registry is fixed
    // from here on, and a call of one that reads task statuses makes the
    // run record them.
    crate::functions::freeze();
    if crate::functions::reads_task_statuses(text, Mode::Expression) {
        EXPR_CACHE.with(|c| {
            if let Some(state) = c.borrow_mut().as_mut() {
                state.reads_task_statuses = true;
            }
        });
    }
    let cached = EXPR_CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|state| state.yaql.get(text).cloned())
    });
    if let Some(p) = cached {
        return Ok(p);
    }
    count_expression(place)?;
    let max_depth = ExpressionLimits::current().max_depth;
    let program = crate::yaql::Program::compile(text, max_depth).map_err(|(message, offset)| {
        place_error(
            place,
            ErrorKind::TemplateSyntax,
            format!("in `{}`: {message}", excerpt(whole)),
        )
        .with_text_offset(whole, at + offset)
    })?;
    let program = Arc::new(program);
    EXPR_CACHE.with(|c| {
        if let Some(state) = c.borrow_mut().as_mut() {
            state.yaql.insert(text.to_owned(), program.clone());
        }
    });
    Ok(program)
}

/// An argument of a registered function as JSON: a view's value borrowed
/// where it sits, anything else converted (spending `budget`).
fn arg_json<'v>(
    v: &'v MjValue,
    budget: &mut usize,
    name: &str,
) -> std::result::Result<std::borrow::Cow<'v, Value>, minijinja::Error> {
    if let Some(view) = v.downcast_object_ref::<JsonView>() {
        return Ok(std::borrow::Cow::Borrowed(view.node()));
    }
    let max = ExpressionLimits::current().max_value_bytes;
    match mj_to_json(v, budget) {
        Ok(j) => Ok(std::borrow::Cow::Owned(j)),
        Err(Convert::TooLarge) => Err(too_large(&format!("the arguments of {name}()"), max, max)),
        Err(Convert::Failed(m)) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("{name}(): an argument has no JSON value: {m}"),
        )),
    }
}

/// `text` with calls and filters of registered functions routed through
/// their dispatchers (see [`crate::functions::route_registered`]); notes
/// in the running compile whether it calls a function that reads task
/// statuses.
fn registered_calls(text: std::borrow::Cow<'_, str>, mode: Mode) -> std::borrow::Cow<'_, str> {
    // The environment fixes the registered functions.
    LazyLock::force(&ENV);
    if crate::functions::reads_task_statuses(&text, mode) {
        EXPR_CACHE.with(|c| {
            if let Some(state) = c.borrow_mut().as_mut() {
                state.reads_task_statuses = true;
            }
        });
    }
    match crate::functions::route_registered(&text, mode) {
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s),
        std::borrow::Cow::Borrowed(_) => text,
    }
}

/// Refuses text whose syntax tree could be deep enough to overflow the
/// stack while minijinja parses, compiles or drops it.
fn check_depth(text: &str, mode: Mode, place: &Option<Arc<str>>) -> Result<()> {
    let max = ExpressionLimits::current().max_depth;
    let depth = limits::depth(text, mode);
    if depth > max {
        return Err(place_error(
            place,
            ErrorKind::TemplateSyntax,
            format!(
                "`{}` nests {depth} levels deep (operators, filters, brackets, blocks), more than the limit of {max}: split it into smaller expressions, e.g. publish parts as variables",
                excerpt(text)
            ),
        ));
    }
    Ok(())
}

fn mj_detail(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

impl Template {
    /// Compiles a string.
    ///
    /// # Errors
    ///
    /// A template syntax error, with the offending text.
    pub fn compile(source: &str) -> Result<Template> {
        Self::compile_at(source, None)
    }

    /// Compiles a string that sits at `place` (a path such as
    /// `tasks.deploy.input.region`), which errors then name.
    ///
    /// # Errors
    ///
    /// A template syntax error naming the task and field.
    pub fn compile_at(source: &str, place: Option<Arc<str>>) -> Result<Template> {
        Self::compile_with(source, place, true)
    }

    /// Compiles a string without recognising plain paths: every expression
    /// goes through minijinja. For benchmarks and equivalence tests only.
    ///
    /// # Errors
    ///
    /// As for [`Template::compile`].
    #[doc(hidden)]
    pub fn compile_without_fast_path(source: &str) -> Result<Template> {
        Self::compile_with(source, None, false)
    }

    fn compile_with(source: &str, place: Option<Arc<str>>, fast: bool) -> Result<Template> {
        let max = ExpressionLimits::current().max_template_bytes;
        if source.len() > max {
            return Err(place_error(
                &place,
                ErrorKind::TemplateSyntax,
                format!(
                    "`{}` is {} bytes long, more than the limit of {max}: split it into smaller values (see docs/limits.md)",
                    excerpt(source),
                    source.len()
                ),
            ));
        }
        let fast_path = |expr: &str| if fast { FastPath::parse(expr) } else { None };
        if crate::yaql::has_yaql(source) {
            if crate::yaql::mixes_dialects(source) {
                return Err(place_error(
                    &place,
                    ErrorKind::TemplateSyntax,
                    format!(
                        "`{}` mixes YAQL `<% %>` and Jinja `{{{{ }}}}` expressions, which Orquesta does not support in one string: write it in one of them",
                        excerpt(source)
                    ),
                ));
            }
            let t = crate::yaql::YaqlTemplate::compile(source, |text, at| {
                compile_yaql(text, source, at, &place)
            })?;
            let t = if fast { t } else { t.without_fast_path() };
            return Ok(Template {
                inner: Arc::new(Inner {
                    source: source.to_owned(),
                    place,
                    kind: Kind::Yaql(Box::new(t)),
                }),
            });
        }
        let kind = match split(source) {
            Split::Literal => Kind::Literal(Value::String(source.to_owned())),
            Split::Single(expr) => {
                let compiled = compile_expr(expr, source, &place)?;
                match fast_path(expr) {
                    Some(p) => Kind::Fast(p, compiled),
                    None => Kind::Expr(compiled),
                }
            }
            Split::Mixed(parts) => {
                let mut pieces = Vec::with_capacity(parts.len());
                for (is_expr, text) in parts {
                    if is_expr {
                        let compiled = compile_expr(text, source, &place)?;
                        pieces.push(Piece::Expr(fast_path(text), compiled));
                    } else {
                        pieces.push(Piece::Text(text.to_owned()));
                    }
                }
                Kind::Concat(pieces)
            }
            Split::Full => {
                check_depth(source, Mode::Template, &place)?;
                count_expression(&place)?;
                let text = rename_calls(source, Mode::Template, "item", ITEM_FN);
                let text = registered_calls(text, Mode::Template);
                let env: &Environment<'_> = &ENV;
                env.template_from_str(&text).map_err(|e| {
                    place_error(
                        &place,
                        ErrorKind::TemplateSyntax,
                        format!("in `{}`: {}", excerpt(source), mj_detail(&e)),
                    )
                })?;
                Kind::Full(Box::new(LazyTemplate {
                    text: text.into(),
                    compiled: OnceLock::new(),
                }))
            }
        };
        Ok(Template {
            inner: Arc::new(Inner {
                source: source.to_owned(),
                place,
                kind,
            }),
        })
    }

    /// A template that is the constant `value`.
    pub fn literal(value: Value) -> Template {
        Template {
            inner: Arc::new(Inner {
                source: value.to_string(),
                place: None,
                kind: Kind::Literal(value),
            }),
        }
    }

    /// The text it was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// True when the template has no expression in it.
    pub fn is_literal(&self) -> bool {
        matches!(self.inner.kind, Kind::Literal(_))
    }

    /// True when the template is a plain path resolved without minijinja
    /// (or without YAQL's evaluator).
    pub fn is_fast_path(&self) -> bool {
        match &self.inner.kind {
            Kind::Fast(..) => true,
            Kind::Yaql(t) => t.fast().is_some(),
            _ => false,
        }
    }

    /// For a template that is only a status function — `{{ succeeded() }}`,
    /// `{{ failed() }}`, `{{ timed_out() }}` or `{{ completed() }}` — its
    /// truth for a task that ended with `status`, without a context.
    /// `None` for any other template.
    ///
    /// A runtime uses it to decide the most common transitions without
    /// building the context a full evaluation needs.
    pub fn status_test(&self, status: TaskStatus) -> Option<bool> {
        match &self.inner.kind {
            Kind::Fast(path, _) => path.status_test(status),
            Kind::Yaql(t) => t.fast()?.status_test(status),
            _ => None,
        }
    }

    /// Evaluates to a JSON value. A single `{{ expr }}` keeps its type; text
    /// with expressions becomes a string.
    ///
    /// # Errors
    ///
    /// An undefined name (named in the message) or any other evaluation error.
    pub fn eval(&self, ctx: &WorkflowContext) -> Result<Value> {
        match &self.inner.kind {
            Kind::Literal(v) => Ok(v.clone()),
            Kind::Fast(path, expr) => match path.resolve(ctx) {
                Some(v) => Ok(v),
                None => self.eval_expr(expr, ctx),
            },
            Kind::Expr(expr) => self.eval_expr(expr, ctx),
            Kind::Concat(_) | Kind::Full(_) => self.render_string(ctx).map(Value::String),
            Kind::Yaql(t) => t.eval(ctx).map_err(|f| self.yaql_error(f)),
        }
    }

    /// Evaluates with Jinja truthiness: `false`, `none`, `0`, `""`, `[]`
    /// and `{}` are false.
    ///
    /// # Errors
    ///
    /// As for [`Template::eval`].
    pub fn eval_bool(&self, ctx: &WorkflowContext) -> Result<bool> {
        match &self.inner.kind {
            Kind::Literal(v) => Ok(truthy(v)),
            Kind::Fast(path, expr) => match path.resolve(ctx) {
                Some(v) => Ok(truthy(&v)),
                None => self.eval_mj(expr, ctx).map(|v| v.is_true()),
            },
            Kind::Expr(expr) => self.eval_mj(expr, ctx).map(|v| v.is_true()),
            Kind::Concat(_) | Kind::Full(_) => {
                let s = self.render_string(ctx)?;
                Ok(!s.is_empty() && s != "false" && s != "False")
            }
            Kind::Yaql(t) => t.eval_bool(ctx).map_err(|f| self.yaql_error(f)),
        }
    }

    /// Renders to a string, as Jinja prints values.
    ///
    /// # Errors
    ///
    /// As for [`Template::eval`].
    pub fn render_string(&self, ctx: &WorkflowContext) -> Result<String> {
        match &self.inner.kind {
            Kind::Literal(Value::String(s)) => Ok(s.clone()),
            Kind::Literal(v) => Ok(v.to_string()),
            Kind::Fast(path, expr) => {
                let mut out = String::new();
                match path.with_value(ctx, |v| push_display(&mut out, v)) {
                    Some(()) => {}
                    None => {
                        let v = self.eval_mj(expr, ctx)?;
                        self.print(&mut out, &v)?;
                    }
                }
                Ok(out)
            }
            Kind::Expr(expr) => {
                let v = self.eval_mj(expr, ctx)?;
                let mut out = String::new();
                self.print(&mut out, &v)?;
                Ok(out)
            }
            Kind::Concat(pieces) => {
                let mut out = String::new();
                for p in pieces {
                    match p {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Expr(fast, expr) => {
                            let done = fast
                                .as_ref()
                                .and_then(|f| f.with_value(ctx, |v| push_display(&mut out, v)));
                            if done.is_none() {
                                let v = self.eval_mj(expr, ctx)?;
                                self.print(&mut out, &v)?;
                            }
                        }
                    }
                }
                Ok(out)
            }
            Kind::Full(t) => {
                let t = t.get().map_err(|e| self.eval_error(&e))?;
                let max = ExpressionLimits::current().max_value_bytes;
                let mut out = Bounded::new(max);
                match t.render_captured_to(root_value(ctx), &mut out) {
                    Ok(_) => Ok(out.out),
                    Err(_) if out.over => Err(self.too_large_error(max)),
                    Err(e) => Err(self.eval_error(&e)),
                }
            }
            Kind::Yaql(t) => t.render(ctx).map_err(|f| self.yaql_error(f)),
        }
    }

    /// A YAQL evaluation error, worded as the Jinja side words the same
    /// kind of failure.
    fn yaql_error(&self, f: crate::yaql::Failure) -> Error {
        use crate::yaql::YErrKind;
        let limits = ExpressionLimits::current();
        let message = match f.kind {
            YErrKind::Fuel => format!(
                "`{}` ran out of fuel: it took more than {} steps (loops, filters, data made): make it do less, or raise ExpressionLimits::fuel",
                excerpt(&self.inner.source),
                limits.fuel
            ),
            YErrKind::TooLarge => return self.too_large_error(limits.max_value_bytes),
            YErrKind::Eval | YErrKind::Limit => {
                let whole = match (&f.expr, self.inner.source.len() > 60) {
                    (Some(e), true) => format!("<% {} %>", excerpt(e)),
                    _ => excerpt(&self.inner.source).into_owned(),
                };
                format!("in `{whole}`: {}", f.message)
            }
        };
        place_error(&self.inner.place, ErrorKind::Evaluation, message)
    }

    fn too_large_error(&self, max: usize) -> Error {
        place_error(
            &self.inner.place,
            ErrorKind::Evaluation,
            format!(
                "`{}` produced more than {max} bytes (ExpressionLimits::max_value_bytes): work on smaller parts of the data",
                excerpt(&self.inner.source)
            ),
        )
    }

    /// Prints a value minijinja produced, at most `max_value_bytes` of it.
    fn print(&self, out: &mut String, v: &MjValue) -> Result<()> {
        if let Some(s) = v.as_str() {
            // Strings were measured and paid for as they were made.
            out.push_str(s);
            return Ok(());
        }
        let max = ExpressionLimits::current().max_value_bytes;
        let mut b = Bounded::new(max.saturating_sub(out.len()));
        if write!(b, "{v}").is_err() && b.over {
            return Err(self.too_large_error(max));
        }
        out.push_str(&b.out);
        Ok(())
    }

    fn eval_expr(&self, expr: &LazyExpr, ctx: &WorkflowContext) -> Result<Value> {
        let v = self.eval_mj(expr, ctx)?;
        // A view is a value already in the context: handed back as it is,
        // whatever its size. Anything else was produced here and is
        // measured while it is converted.
        let max = ExpressionLimits::current().max_value_bytes;
        let mut budget = if v.downcast_object_ref::<JsonView>().is_some() {
            usize::MAX
        } else {
            max
        };
        mj_to_json(&v, &mut budget).map_err(|m| match m {
            Convert::TooLarge => self.too_large_error(max),
            Convert::Failed(m) => place_error(
                &self.inner.place,
                ErrorKind::Evaluation,
                format!("`{}`: {m}", self.inner.source),
            ),
        })
    }

    fn eval_mj(&self, expr: &LazyExpr, ctx: &WorkflowContext) -> Result<MjValue> {
        let v = expr
            .get()
            .and_then(|e| e.eval(root_value(ctx)))
            .map_err(|e| self.eval_error(&e))?;
        if v.is_undefined() {
            return Err(place_error(
                &self.inner.place,
                ErrorKind::Evaluation,
                format!(
                    "`{}` is undefined: check the name, or test it with `is defined` or `| default(...)`",
                    self.expression_text()
                ),
            ));
        }
        Ok(v)
    }

    /// The expression alone when the template is one `{{ expr }}` (what an
    /// undefined-value error names), or else the whole text.
    fn expression_text(&self) -> &str {
        let source = self.inner.source.trim();
        match (&self.inner.kind, source.strip_prefix("{{")) {
            (Kind::Fast(..) | Kind::Expr(_), Some(rest)) => rest
                .strip_suffix("}}")
                .map(|e| e.trim_matches(|c: char| c.is_whitespace() || c == '-' || c == '+'))
                .unwrap_or(source),
            _ => &self.inner.source,
        }
    }

    fn eval_error(&self, e: &minijinja::Error) -> Error {
        let message = match e.kind() {
            minijinja::ErrorKind::OutOfFuel => format!(
                "`{}` ran out of fuel: it took more than {} steps (loops, filters, data made): make it do less, or raise ExpressionLimits::fuel",
                excerpt(&self.inner.source),
                ExpressionLimits::current().fuel
            ),
            minijinja::ErrorKind::UndefinedError => {
                // minijinja points at the failing step (`.nope` of
                // `task.nope`): widen it back to the start of the path.
                let name = e
                    .range()
                    .and_then(|r| {
                        let s = e.template_source()?;
                        let before = s.get(..r.start)?;
                        let start = before
                            .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
                            .len();
                        s.get(start..r.end)
                    })
                    .map(str::trim)
                    .filter(|s| !s.is_empty());
                match (name, e.detail()) {
                    (_, Some(d)) if d.contains("ctx(") || d.contains("item(") => d.to_owned(),
                    (Some(n), _) => format!(
                        "`{n}` is undefined in `{}`: check the name, or test it with `is defined` or `| default(...)`",
                        self.inner.source
                    ),
                    (None, _) => format!("undefined value in `{}`", self.inner.source),
                }
            }
            _ => format!("in `{}`: {}", excerpt(&self.inner.source), mj_detail(e)),
        };
        place_error(&self.inner.place, ErrorKind::Evaluation, message)
    }
}

fn root_value(ctx: &WorkflowContext) -> MjValue {
    MjValue::from_object(Root(ctx.clone()))
}

/// Jinja truthiness of a JSON value.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Writes `v` as minijinja prints it (`True`, `None`, floats without an
/// exponent, lists in Python style), so the fast path and minijinja render
/// the same text; strings, the common case, are copied without a detour.
fn push_display(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(_) | Value::Object(_) => {
            let _ = write!(out, "{}", json_to_mj(v.clone()));
        }
        scalar => {
            let _ = write!(out, "{}", scalar_to_mj(scalar));
        }
    }
}

/// A plain path: a namespace followed by `.name`, `[n]` or `['name']` steps,
/// or one of the status functions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FastPath {
    root: FastRoot,
    steps: Vec<Step>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FastRoot {
    /// Orquesta's `ctx()`: a variable, or else an input.
    Ctx,
    Parameters,
    Workflow,
    Task,
    System,
    Item,
    Index,
    Result,
    Succeeded,
    Failed,
    TimedOut,
    Completed,
}

impl FastPath {
    pub(crate) fn parse(expr: &str) -> Option<FastPath> {
        let s = expr.trim();
        let bytes = s.as_bytes();
        let ident_end = |from: usize| -> usize {
            let mut j = from;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            j
        };
        if bytes.is_empty() || !(bytes[0].is_ascii_alphabetic() || bytes[0] == b'_') {
            return None;
        }
        let mut i = ident_end(0);
        let head = &s[..i];
        let call = s[i..].starts_with("()");
        let root = match (head, call) {
            ("parameters", false) => FastRoot::Parameters,
            ("workflow" | "vars", false) => FastRoot::Workflow,
            ("task" | "tasks", false) => FastRoot::Task,
            ("system", false) => FastRoot::System,
            ("item", false) => FastRoot::Item,
            ("index", false) => FastRoot::Index,
            ("result", true) => FastRoot::Result,
            ("succeeded", true) => FastRoot::Succeeded,
            ("failed", true) => FastRoot::Failed,
            ("timed_out", true) => FastRoot::TimedOut,
            ("completed", true) => FastRoot::Completed,
            _ => return None,
        };
        if call {
            i += 2;
        }
        let mut steps = Vec::new();
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    let start = i + 1;
                    if start >= bytes.len()
                        || !(bytes[start].is_ascii_alphabetic() || bytes[start] == b'_')
                    {
                        return None;
                    }
                    let end = ident_end(start);
                    steps.push(Step::Key(Arc::from(&s[start..end])));
                    i = end;
                }
                b'[' => {
                    let close = s[i..].find(']')? + i;
                    let inner = &s[i + 1..close];
                    if let Some(q) = inner
                        .strip_prefix('\'')
                        .and_then(|x| x.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                    {
                        if q.contains(['\'', '"', '\\']) {
                            return None;
                        }
                        steps.push(Step::Key(Arc::from(q)));
                    } else if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                        steps.push(Step::Index(inner.parse().ok()?));
                    } else {
                        return None;
                    }
                    i = close + 1;
                }
                _ => return None,
            }
        }
        let status_fn = matches!(
            root,
            FastRoot::Succeeded | FastRoot::Failed | FastRoot::TimedOut | FastRoot::Completed
        );
        if (status_fn || root == FastRoot::Index) && !steps.is_empty() {
            return None;
        }
        // A bare map namespace (`workflow`, `task`) is left to minijinja.
        if matches!(root, FastRoot::Workflow | FastRoot::Task | FastRoot::System)
            && steps.is_empty()
        {
            return None;
        }
        Some(FastPath { root, steps })
    }

    /// The plain path of a YAQL expression: `root` is the function it
    /// starts with (`ctx` with the variable's name as the first step,
    /// `result`, `item`, or a status function without steps).
    pub(crate) fn yaql(root: &str, steps: Vec<Step>) -> Option<FastPath> {
        let root = match root {
            "ctx" if matches!(steps.first(), Some(Step::Key(_))) => FastRoot::Ctx,
            "result" => FastRoot::Result,
            "item" => FastRoot::Item,
            "succeeded" => FastRoot::Succeeded,
            "failed" => FastRoot::Failed,
            "completed" => FastRoot::Completed,
            "timed_out" => FastRoot::TimedOut,
            _ => return None,
        };
        let status = matches!(
            root,
            FastRoot::Succeeded | FastRoot::Failed | FastRoot::TimedOut | FastRoot::Completed
        );
        if status && !steps.is_empty() {
            return None;
        }
        Some(FastPath { root, steps })
    }

    /// See [`Template::status_test`].
    pub(crate) fn status_test(&self, status: TaskStatus) -> Option<bool> {
        let test: fn(TaskStatus) -> bool = match self.root {
            FastRoot::Succeeded => TaskStatus::is_succeeded,
            FastRoot::Failed => TaskStatus::is_failure,
            FastRoot::TimedOut => |s| s == TaskStatus::TimedOut,
            FastRoot::Completed => TaskStatus::is_terminal,
            _ => return None,
        };
        Some(test(status))
    }

    /// Resolves against the context; `None` when some step is missing, so
    /// the caller falls back to minijinja for the exact error or semantics.
    pub(crate) fn resolve(&self, ctx: &WorkflowContext) -> Option<Value> {
        match self.root {
            FastRoot::Index => ctx.current_index.map(Value::from),
            _ => self.with_value(ctx, Value::clone),
        }
    }

    /// Calls `f` with the value the path leads to, borrowed where it sits;
    /// `None` (and `f` not called) when some step is missing.
    pub(crate) fn with_value<R>(
        &self,
        ctx: &WorkflowContext,
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        match self.root {
            FastRoot::Ctx => {
                let (Step::Key(first), rest) = self.steps.split_first()? else {
                    return None;
                };
                match ctx.vars.get(first) {
                    Some(value) => walk(value, rest).map(f),
                    None => walk(&ctx.shared.parameters, &self.steps).map(f),
                }
            }
            FastRoot::Parameters => walk(&ctx.shared.parameters, &self.steps).map(f),
            FastRoot::Workflow => {
                let (Step::Key(first), rest) = self.steps.split_first()? else {
                    return None;
                };
                walk(ctx.vars.get(first)?, rest).map(f)
            }
            FastRoot::Task => {
                let (Step::Key(first), rest) = self.steps.split_first()? else {
                    return None;
                };
                let result = ctx.shared.task_results.get(first)?;
                walk(&result, rest).map(f)
            }
            FastRoot::System => map_lookup(ctx.shared.system(), &self.steps, f),
            FastRoot::Item => walk(ctx.current_item.as_ref()?, &self.steps).map(f),
            FastRoot::Index => Some(f(&Value::from(ctx.current_index?))),
            FastRoot::Result => walk(&ctx.current_task.as_ref()?.result, &self.steps).map(f),
            FastRoot::Succeeded | FastRoot::Failed | FastRoot::TimedOut | FastRoot::Completed => {
                let status = ctx.current_task.as_ref()?.status;
                Some(f(&Value::Bool(self.status_test(status)?)))
            }
        }
    }
}

fn map_lookup<R>(
    map: &crate::context::ValueMap,
    steps: &[Step],
    f: impl FnOnce(&Value) -> R,
) -> Option<R> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    // Walk under the shard's read guard: nothing but what `f` takes is
    // copied, and the `Arc` around the result is not touched.
    let entry = map.get(&**first)?;
    walk(entry.value(), rest).map(f)
}

fn walk<'a>(mut v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        v = match (step, v) {
            (Step::Key(k), Value::Object(m)) => get_key(m, k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A JSON value whose strings may hold expressions, at any depth: the shape
/// of a task's `input`.
#[derive(Clone, Debug)]
pub enum ValueTemplate {
    /// A value without expressions.
    Static(Value),
    /// A string with expressions.
    Template(Template),
    /// A map with at least one expression inside.
    Object(ObjectTemplate),
    /// A list with at least one expression inside.
    Array(Vec<ValueTemplate>),
}

impl ValueTemplate {
    /// Compiles every string in `value`; `place` names where it sits.
    ///
    /// # Errors
    ///
    /// The first template syntax error, naming the field.
    pub fn compile(value: &Value, place: &str) -> Result<ValueTemplate> {
        Ok(match value {
            Value::String(s) => {
                let t = Template::compile_at(s, Some(Arc::from(place)))?;
                if t.is_literal() {
                    ValueTemplate::Static(value.clone())
                } else {
                    ValueTemplate::Template(t)
                }
            }
            Value::Array(items) => {
                let parts = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ValueTemplate::compile(v, &format!("{place}[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                if parts.iter().all(|p| matches!(p, ValueTemplate::Static(_))) {
                    ValueTemplate::Static(value.clone())
                } else {
                    ValueTemplate::Array(parts)
                }
            }
            Value::Object(map) => {
                let parts = map
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            ValueTemplate::compile(v, &format!("{place}.{k}"))?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                if parts
                    .iter()
                    .all(|(_, p)| matches!(p, ValueTemplate::Static(_)))
                {
                    ValueTemplate::Static(value.clone())
                } else {
                    ValueTemplate::Object(ObjectTemplate::new(parts))
                }
            }
            other => ValueTemplate::Static(other.clone()),
        })
    }

    /// A map of fields compiled one by one, in order.
    pub(crate) fn from_fields(fields: Vec<(String, ValueTemplate)>) -> ValueTemplate {
        let mut map = Map::with_capacity(fields.len());
        for (k, part) in &fields {
            match part {
                ValueTemplate::Static(v) => {
                    map.insert(k.clone(), v.clone());
                }
                _ => return ValueTemplate::Object(ObjectTemplate::new(fields)),
            }
        }
        ValueTemplate::Static(Value::Object(map))
    }

    /// Renders to JSON; single expressions keep their type.
    ///
    /// # Errors
    ///
    /// The first evaluation error, naming the field.
    pub fn render(&self, ctx: &WorkflowContext) -> Result<Value> {
        match self {
            ValueTemplate::Static(v) => Ok(v.clone()),
            ValueTemplate::Template(t) => t.eval(ctx),
            ValueTemplate::Object(o) => o.render(ctx).map(Value::Object),
            ValueTemplate::Array(parts) => parts
                .iter()
                .map(|p| p.render(ctx))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
        }
    }

    /// True when there is no expression anywhere inside.
    pub fn is_static(&self) -> bool {
        matches!(self, ValueTemplate::Static(_))
    }
}

/// A map with expressions inside, compiled.
///
/// Rendering clones a prepared map that holds every key (and every static
/// field) in place, then fills in the rendered fields in order. A clone
/// copies the map's index table as it is, so no key is hashed again: on a
/// small `input` that is a good part of the cost of rendering it.
#[derive(Clone, Debug)]
pub struct ObjectTemplate {
    /// Every key in order; static fields hold their value, the others `null`.
    shape: Map<String, Value>,
    /// One entry per field of `shape`, in the same order: `None` for a
    /// static field.
    fields: Vec<Option<ValueTemplate>>,
}

impl ObjectTemplate {
    fn new(parts: Vec<(String, ValueTemplate)>) -> ObjectTemplate {
        let mut shape = Map::with_capacity(parts.len());
        let mut fields = Vec::with_capacity(parts.len());
        for (k, p) in parts {
            match p {
                ValueTemplate::Static(v) => {
                    shape.insert(k, v);
                    fields.push(None);
                }
                p => {
                    shape.insert(k, Value::Null);
                    fields.push(Some(p));
                }
            }
        }
        ObjectTemplate { shape, fields }
    }

    fn render(&self, ctx: &WorkflowContext) -> Result<Map<String, Value>> {
        let mut out = self.shape.clone();
        // `shape` and `fields` were built from the same keys in the same
        // order, and a map iterates in its own order either way.
        for (slot, field) in out.values_mut().zip(&self.fields) {
            if let Some(t) = field {
                *slot = t.render(ctx)?;
            }
        }
        Ok(out)
    }
}

// Root must stay an Object for the functions above to find it.
const _: fn() = || {
    fn is_object<T: Object>() {}
    is_object::<Root>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::CurrentTask;
    use serde_json::json;

    /// Expressions that both paths must agree on. Most are plain paths the
    /// fast path takes; the rest check that it declines what it should.
    const CORPUS: &[&str] = &[
        // parameters: keys, indices, brackets, depth
        "{{ parameters.name }}",
        "{{ parameters.count }}",
        "{{ parameters.neg }}",
        "{{ parameters.ratio }}",
        "{{ parameters.big }}",
        "{{ parameters.tiny }}",
        "{{ parameters.whole }}",
        "{{ parameters.huge }}",
        "{{ parameters.flag }}",
        "{{ parameters.nothing }}",
        "{{ parameters.hosts }}",
        "{{ parameters.hosts[0] }}",
        "{{ parameters.hosts[2] }}",
        "{{ parameters.hosts[3] }}",
        "{{ parameters.hosts[03] }}",
        "{{ parameters.hosts[99999999999999999999999] }}",
        "{{ parameters.hosts[-1] }}",
        "{{ parameters.hosts.first }}",
        "{{ parameters.empty }}",
        "{{ parameters.emptymap }}",
        "{{ parameters.nested.a.b[1].c }}",
        "{{ parameters.nested['a'][\"b\"][0]['c'] }}",
        "{{ parameters.nested.a.b[0].missing }}",
        "{{ parameters.nested.a.b.c }}",
        "{{ parameters.nested.a.missing.deeper }}",
        "{{ parameters['odd keys']['a-b'] }}",
        "{{ parameters['odd keys'][\"with space\"] }}",
        "{{ parameters['odd keys']['é'] }}",
        "{{ parameters['odd keys'].true }}",
        "{{ parameters['odd keys'][0] }}",
        "{{ parameters['odd keys']['0'] }}",
        "{{ parameters['it''s'] }}",
        "{{ parameters.quote }}",
        "{{ parameters.name[0] }}",
        "{{ parameters.missing }}",
        "{{ parameters.count.x }}",
        "{{parameters.name}}",
        "{{ parameters . name }}",
        "{{ parameters }}",
        // workflow variables, both spellings
        "{{ workflow.greeting }}",
        "{{ vars.list[1] }}",
        "{{ vars.list[5] }}",
        "{{ workflow.missing }}",
        "{{ workflow }}",
        "{{ vars['greeting'] }}",
        // task results, both spellings, and system values
        "{{ task.fetch }}",
        "{{ task.fetch.status }}",
        "{{ tasks.fetch.body.items[1].name }}",
        "{{ task.fetch.body.items[7].name }}",
        "{{ task.fetch.body.items[0]['name'] }}",
        "{{ task.nope.status }}",
        "{{ task['fetch'].status }}",
        "{{ system.run_id }}",
        "{{ system.missing }}",
        // item and index
        "{{ item }}",
        "{{ item.host }}",
        "{{ item['port'] }}",
        "{{ item.tags[0] }}",
        "{{ item.tags[1] }}",
        "{{ item.missing }}",
        "{{ index }}",
        "{{ index.x }}",
        "{{ item('host') }}",
        "{{ item() }}",
        // the completing task
        "{{ result() }}",
        "{{ result().error }}",
        "{{ result().lines[1] }}",
        "{{ result().lines[2] }}",
        "{{ result()['code'] }}",
        "{{ succeeded() }}",
        "{{ failed() }}",
        "{{ timed_out() }}",
        "{{ completed() }}",
        "{{ succeeded () }}",
        "{{ task_status('fetch') }}",
        // mixed text and several expressions
        "host-{{ index }}",
        "{{ item.host }}:{{ item.port }}",
        "it's {{ parameters.quote }} and \"{{ parameters.name }}\"",
        "{{ parameters.ratio }} of {{ parameters.big }} and {{ parameters.tiny }}",
        "{{ parameters.hosts }} / {{ item }} / {{ parameters.nothing }} / {{ parameters.flag }}",
        "{{ parameters.name }} {{ parameters.missing }}",
        "count={{ parameters.count }}",
        // not plain paths: always minijinja
        "{{ parameters.count + 1 }}",
        "{{ parameters.name | upper }}",
        "{{ 'a.b' }}",
        "{{ parameters.missing is defined }}",
        "{{ parameters.hosts | length }}",
        // `item()` next to quotes in template text and in statements
        "{% if true %}'{{ item() }}'{% endif %}",
        "{% if true %}\"{{ item('host') }}{% endif %}",
        "it's {{ item('port') }}",
        "{# it's #}{{ item('host') }}",
        "{% set q = \"'\" %}{{ q }}{{ item('host') }}{{ q }}",
    ];

    fn full_context() -> WorkflowContext {
        let ctx = WorkflowContext::new(
            json!({
                "name": "weft",
                "count": 3,
                "neg": -4,
                "ratio": 0.25,
                "big": 1e300,
                "tiny": 1e-7,
                "whole": 3.0,
                "huge": u64::MAX,
                "flag": false,
                "nothing": null,
                "hosts": ["a", "b", "c"],
                "empty": [],
                "emptymap": {},
                "nested": {"a": {"b": [{"c": "deep"}, {"c": "deeper"}]}},
                "odd keys": {"a-b": 1, "with space": 2, "é": 3, "true": 4, "0": "zero"},
                "it's": "quoted key",
                "quote": "it's \"quoted\"",
            }),
            [
                ("greeting".to_owned(), json!("hello")),
                ("list".to_owned(), json!([1, 2, 3])),
            ],
        );
        ctx.set_task_result(
            "fetch",
            json!({"status": 200, "body": {"items": [{"name": "n0"}, {"name": "n1"}]}}),
        );
        ctx.set_task_status("fetch", TaskStatus::Succeeded);
        ctx.set_system("run_id", json!("r-1"));
        let mut ctx = ctx.with_current_task(CurrentTask {
            name: Arc::from("fetch"),
            status: TaskStatus::Failed,
            result: Arc::new(json!({"error": "boom", "code": 7, "lines": ["l0", "l1"]})),
        });
        ctx.set_current_item(json!({"host": "h1", "port": 22, "tags": ["x"]}), 3);
        ctx
    }

    /// The same state without an item or a completing task, so `item`,
    /// `index`, `result()` and the status functions are errors.
    fn bare_context() -> WorkflowContext {
        let full = full_context();
        let mut bare = WorkflowContext::import(full.export());
        bare.clear_current_item();
        bare
    }

    fn same<T: PartialEq + std::fmt::Debug>(
        what: &str,
        source: &str,
        fast: Result<T>,
        slow: Result<T>,
    ) -> std::result::Result<(), String> {
        match (fast, slow) {
            (Ok(a), Ok(b)) if a == b => Ok(()),
            (Err(_), Err(_)) => Ok(()),
            (a, b) => Err(format!(
                "{what} of `{source}`: fast path {a:?}, minijinja {b:?}"
            )),
        }
    }

    #[test]
    fn fast_path_agrees_with_minijinja() {
        let contexts = [("full", full_context()), ("bare", bare_context())];
        let mut failures = Vec::new();
        let mut fast_paths = 0;
        for source in CORPUS {
            let fast = Template::compile(source).unwrap();
            let slow = Template::compile_without_fast_path(source).unwrap();
            assert!(!slow.is_fast_path());
            if fast.is_fast_path() {
                fast_paths += 1;
            }
            for (name, ctx) in &contexts {
                let checks = [
                    same("eval", source, fast.eval(ctx), slow.eval(ctx)),
                    same(
                        "render_string",
                        source,
                        fast.render_string(ctx),
                        slow.render_string(ctx),
                    ),
                    same(
                        "eval_bool",
                        source,
                        fast.eval_bool(ctx),
                        slow.eval_bool(ctx),
                    ),
                ];
                for check in checks {
                    if let Err(e) = check {
                        failures.push(format!("[{name}] {e}"));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(CORPUS.len() >= 40);
        // The corpus must exercise the fast path, not only the fallback.
        assert!(fast_paths >= 50, "only {fast_paths} fast-path expressions");
    }

    #[test]
    fn item_calls_are_renamed_only_in_code() {
        let mut ctx = WorkflowContext::new(json!({}), []);
        ctx.set_current_item(json!({"host": "h1"}), 0);
        for (source, expected) in [
            ("{% if true %}'{{ item('host') }}'{% endif %}", "'h1'"),
            ("{% if true %}\"{{ item().host }}\"{% endif %}", "\"h1\""),
            ("it's {{ item('host') }}", "it's h1"),
            ("{# it's #}{{ item('host') }}", "h1"),
            ("{% raw %}'{{ item() }}{% endraw %}", "'{{ item() }}"),
            ("{{ 'item(1)' }} {{ item('host') }}", "item(1) h1"),
            ("{% if true %}item(){% endif %}", "item()"),
        ] {
            let t = Template::compile(source).unwrap();
            assert_eq!(t.render_string(&ctx).unwrap(), expected, "{source}");
        }
    }

    #[test]
    fn fast_path_recognises_plain_paths_only() {
        for source in [
            "{{ item }}",
            "{{ index }}",
            "{{ parameters.url }}",
            "{{ task.t0.items[3].name }}",
            "{{ tasks.t0['a b'][0] }}",
            "{{ vars.x }}",
            "{{ result().body }}",
            "{{ succeeded() }}",
        ] {
            assert!(
                Template::compile(source).unwrap().is_fast_path(),
                "{source}"
            );
        }
        for source in [
            "{{ item() }}",
            "{{ item('x') }}",
            "{{ index.x }}",
            "{{ workflow }}",
            "{{ parameters.hosts[-1] }}",
            "{{ parameters . name }}",
            "{{ parameters.a | upper }}",
            "{{ succeeded().x }}",
            "{{ loop.index }}",
            "text {{ item }}",
        ] {
            assert!(
                !Template::compile(source).unwrap().is_fast_path(),
                "{source}"
            );
        }
    }
}
