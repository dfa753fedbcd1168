//! The shared environment's Python side: what makes weft's Jinja answer as
//! Orquesta's (which is Python's Jinja2) does, where minijinja alone
//! would not.
//!
//! * Python's methods on strings, lists and maps (`d.items()`,
//!   `d.get('k', 0)`, `'a b'.split(' ')`, `s.upper()`, `'{}'.format(x)`,
//!   ...), from minijinja-contrib's `pycompat`, plus `list.index`, which it
//!   lacks. They work over the context's lazy views, which are maps and
//!   lists to minijinja, without copying them.
//! * `tojson` as Jinja2 writes it: keys sorted, everything outside ASCII
//!   escaped (`\u00e9`), HTML's `<`, `>`, `&` and `'` escaped.
//! * Jinja2's filters minijinja lacks that minijinja-contrib has:
//!   `wordcount`, `truncate`, `filesizeformat`, `striptags`.

use minijinja::value::{Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value as MjValue};
use serde_json::Value;

use crate::limits::ExpressionLimits;
use crate::view::{json_to_mj, mj_to_json, Convert};

/// Installs the methods and filters on the shared environment.
pub(crate) fn install(env: &mut Environment<'static>) {
    env.set_unknown_method_callback(python_method);
    env.add_filter("tojson", tojson);
    env.add_filter("wordcount", minijinja_contrib::filters::wordcount);
    env.add_filter("truncate", truncate);
    env.add_filter("filesizeformat", minijinja_contrib::filters::filesizeformat);
    env.add_filter("striptags", minijinja_contrib::filters::striptags);
}

/// A method minijinja's values do not have: Python's, if it has one.
fn python_method(
    state: &mut State,
    value: &MjValue,
    method: &str,
    args: &[MjValue],
) -> Result<MjValue, Error> {
    if value.kind() == ValueKind::Seq && method == "index" {
        return list_index(state, value, args);
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Python's `list.index(x)`: the first position of `x`, an error if it is
/// not there.
fn list_index(state: &State, list: &MjValue, args: &[MjValue]) -> Result<MjValue, Error> {
    let (wanted,): (&MjValue,) = minijinja::value::from_args(args)?;
    for (i, item) in list.try_iter()?.enumerate() {
        state.consume_fuel(1)?;
        if item == *wanted {
            return Ok(MjValue::from(i));
        }
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("{wanted} is not in list"),
    ))
}

/// Bytes of serialized text one fuel pays for (minijinja's rate).
const SERIALIZED_BYTES_PER_FUEL: usize = 4;

/// Jinja2's `truncate(length=255, killwords=False, end='...', leeway=None)`,
/// its arguments positional or named (minijinja-contrib's takes names
/// only).
fn truncate(
    state: &mut State,
    value: MjValue,
    args: Rest<ValueOrKwargs>,
) -> Result<MjValue, Error> {
    const NAMES: [&str; 4] = ["length", "killwords", "end", "leeway"];
    let mut named: Vec<(String, MjValue)> = Vec::new();
    let mut positional = 0;
    for a in args.iter() {
        if a.is_kwargs() {
            let kwargs = Kwargs::try_from((**a).clone())?;
            for k in kwargs.args() {
                named.push((k.to_owned(), kwargs.peek::<MjValue>(k)?));
            }
        } else {
            let Some(name) = NAMES.get(positional) else {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    "truncate takes at most 4 arguments: length, killwords, end, leeway",
                ));
            };
            named.push(((*name).to_owned(), (**a).clone()));
            positional += 1;
        }
    }
    minijinja_contrib::filters::truncate(state, &value, named.into_iter().collect())
}

/// Jinja2's `tojson(indent=None)`: `json.dumps` with sorted keys and
/// `ensure_ascii`, then made safe for HTML.
fn tojson(
    state: &State,
    value: MjValue,
    indent: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<MjValue, Error> {
    let max = ExpressionLimits::current().max_value_bytes;
    let mut budget = max;
    let mut json = mj_to_json(&value, &mut budget).map_err(|e| match e {
        Convert::TooLarge => Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "tojson: the value is larger than {max} bytes (ExpressionLimits::max_value_bytes)"
            ),
        ),
        Convert::Failed(m) => Error::new(ErrorKind::InvalidOperation, format!("tojson: {m}")),
    })?;
    // Serializing costs what minijinja's own `tojson` charges: a quarter
    // of a fuel per byte of text, paid before the text is made.
    state.consume_fuel(((max - budget) / SERIALIZED_BYTES_PER_FUEL) as u64)?;
    sort_keys(&mut json);
    let text = minijinja::filters::tojson(&json_to_mj(json), indent, kwargs)?;
    let text = text.as_str().unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    Ok(MjValue::from_safe_string(out))
}

/// Every map in `v`, its keys sorted.
fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}
