//! Numbers: `int`, `float`, `abs`, `round`, `pow`, `max`, `min`…
//!
//! Integers are 64-bit in weft (Python's are unbounded): a result that
//! does not fit is an error, never a wrapped or rounded value.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

use super::queries::{max2, min2};
use crate::yaql::builtin::{p, Args, Builtin, Form};
use crate::yaql::state::State;
use crate::yaql::value::describe;
use crate::yaql::value::{float_repr, is_space, Val};
use crate::yaql::YErr;
use crate::yaql::R;

use Form::Function;

pub(super) const BUILTINS: &[Builtin] = &[
    Builtin::new("abs", Function, &[p("op")], 1, abs),
    Builtin::new("int", Function, &[p("value")], 1, int),
    Builtin::new("float", Function, &[p("value")], 1, float),
    Builtin::new("round", Function, &[p("number"), p("ndigits")], 1, round),
    Builtin::new("pow", Function, &[p("a"), p("b"), p("c")], 2, pow),
    Builtin::new("sign", Function, &[p("num")], 1, sign),
    Builtin::new("max", Function, &[p("a"), p("b")], 2, max),
    Builtin::new("min", Function, &[p("a"), p("b")], 2, min),
    Builtin::new("isInteger", Function, &[p("value")], 1, is_integer),
    Builtin::new("isNumber", Function, &[p("value")], 1, is_number),
    Builtin::new("random", Function, &[p("from"), p("to")], 0, random),
    Builtin::new("bitwiseAnd", Function, &[p("left"), p("right")], 2, bit_and),
    Builtin::new("bitwiseOr", Function, &[p("left"), p("right")], 2, bit_or),
    Builtin::new("bitwiseXor", Function, &[p("left"), p("right")], 2, bit_xor),
    Builtin::new("bitwiseNot", Function, &[p("arg")], 1, bit_not),
    Builtin::new(
        "shiftBitsLeft",
        Function,
        &[p("value"), p("bitsNumber")],
        2,
        shift_left,
    ),
    Builtin::new(
        "shiftBitsRight",
        Function,
        &[p("value"), p("bitsNumber")],
        2,
        shift_right,
    ),
];

fn overflow() -> Box<YErr> {
    YErr::eval("integer overflow: the result does not fit in 64 bits (weft's integers are 64-bit)")
}

/// A number argument (not a boolean).
fn number<'a>(a: &mut Args<'a>, i: usize) -> R<Val<'a>> {
    let v = a.val(i)?;
    match v {
        Val::Int(_) | Val::Float(_) => Ok(v),
        _ if v.big_int().is_some() => Err(YErr::eval(format!(
            "`{}`: an integer beyond 64 bits cannot take part in arithmetic in weft",
            a.name
        ))),
        other => Err(YErr::eval(format!(
            "`{}` takes a number, not {}",
            a.name,
            describe(&other)
        ))),
    }
}

/// An integer argument (booleans count, as Python's `int`).
fn integer(a: &mut Args<'_>, i: usize) -> R<i64> {
    let v = a.val(i)?;
    v.as_int().ok_or_else(|| {
        YErr::eval(format!(
            "`{}` takes an integer, not {}",
            a.name,
            describe(&v)
        ))
    })
}

fn abs<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(match number(&mut a, 0)? {
        Val::Int(i) => Val::Int(i.checked_abs().ok_or_else(overflow)?),
        Val::Float(f) => Val::Float(f.abs()),
        other => other,
    })
}

/// Python's `int(text)`: optional sign, digits with single underscores
/// between them, surrounding whitespace.
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim_matches(is_space);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let clean = underscores(digits)?;
    if clean.is_empty() || !clean.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i128 = clean.parse().ok()?;
    i64::try_from(if neg { -n } else { n }).ok()
}

/// `s` without the underscores Python allows between digits; `None` if
/// one is elsewhere.
fn underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok = i > 0
                && i + 1 < b.len()
                && b[i - 1].is_ascii_alphanumeric()
                && b[i + 1].is_ascii_alphanumeric();
            if !ok {
                return None;
            }
        }
    }
    Some(s.replace('_', ""))
}

/// Python's `float(text)`.
fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_space);
    let clean = underscores(t)?;
    let body = clean.trim_start_matches(['+', '-']);
    let lower = body.to_ascii_lowercase();
    if !matches!(lower.as_str(), "inf" | "infinity" | "nan")
        && !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    clean.parse().ok()
}

fn int<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.val(0)?;
    Ok(Val::Int(match &v {
        Val::Null => 0,
        Val::Bool(b) => i64::from(*b),
        Val::Int(i) => *i,
        Val::Float(f) => {
            if !f.is_finite() {
                return Err(YErr::eval(format!(
                    "`int`: {} has no integer value",
                    float_repr(*f)
                )));
            }
            let t = f.trunc();
            if !(i64::MIN as f64..i64::MAX as f64).contains(&t) {
                return Err(overflow());
            }
            t as i64
        }
        Val::Str(s) => parse_int(s.as_str()).ok_or_else(|| {
            YErr::eval(format!(
                "`int`: {} is not an integer",
                crate::yaql::value::str_repr(s.as_str())
            ))
        })?,
        other => {
            return Err(YErr::eval(format!(
                "`int` takes a number, a string or null, not {}",
                describe(other)
            )))
        }
    }))
}

fn float<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.val(0)?;
    Ok(Val::Float(match &v {
        Val::Null => 0.0,
        Val::Bool(b) => f64::from(u8::from(*b)),
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        Val::Str(s) => parse_float(s.as_str()).ok_or_else(|| {
            YErr::eval(format!(
                "`float`: {} is not a number",
                crate::yaql::value::str_repr(s.as_str())
            ))
        })?,
        other => match other.big_int() {
            Some(u) => u as f64,
            None => {
                return Err(YErr::eval(format!(
                    "`float` takes a number, a string or null, not {}",
                    describe(other)
                )))
            }
        },
    }))
}

/// Rounds an integer to a multiple of `10^k`, ties to even.
fn round_int(i: i128, k: u32) -> Option<i128> {
    let unit = 10i128.checked_pow(k)?;
    let q = i.div_euclid(unit);
    let r = i.rem_euclid(unit);
    // `r` against half of `unit`, without doubling `r` (which could
    // overflow).
    let q = match r.cmp(&(unit - r)) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 != 0 => q + 1,
        _ => q,
    };
    q.checked_mul(unit)
}

/// Python's `round(x, n)` of a float: the decimal closest to the exact
/// binary value, ties to even.
fn round_float(x: f64, n: i64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    if n >= 0 {
        if n > 330 {
            return x;
        }
        // Rust prints exact decimal expansions, rounding ties to even.
        let text = format!("{:.*}", n as usize, x);
        return text.parse().unwrap_or(x);
    }
    let k = n.unsigned_abs();
    if k > 308 {
        return 0.0_f64.copysign(x);
    }
    let t = x.trunc();
    if t.abs() >= 1e38 {
        // Beyond i128: compute in floats (only huge magnitudes get here).
        let unit = 10f64.powi(k as i32);
        return (x / unit).round() * unit;
    }
    let whole = t as i128;
    let frac = x - t;
    let Ok(k32) = u32::try_from(k) else {
        return 0.0;
    };
    let Some(unit) = 10i128.checked_pow(k32) else {
        return 0.0_f64.copysign(x);
    };
    let r = whole.rem_euclid(unit);
    let base = whole - r;
    // `r` against half of `unit` (without doubling `r`, which could
    // overflow); a tie on the integer part is broken by the fraction, if
    // any (rem_euclid made the remainder of a negative value positive, so
    // a negative fraction lowers it).
    let up = match r.cmp(&(unit - r)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal if frac != 0.0 => frac > 0.0,
        std::cmp::Ordering::Equal => (base / unit) % 2 != 0,
    };
    let rounded = if up { base + unit } else { base };
    // Python keeps the sign of a zero.
    (rounded as f64).copysign(x)
}

fn round<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let x = number(&mut a, 0)?;
    let n = match a.opt(1) {
        None => 0,
        Some(v) => v.as_int().ok_or_else(|| {
            YErr::eval(format!(
                "`round`: ndigits must be an integer, not {}",
                describe(&v)
            ))
        })?,
    };
    Ok(match x {
        Val::Int(i) if n >= 0 => Val::Int(i),
        Val::Int(i) => {
            // Beyond 10^19, every 64-bit integer rounds to 0.
            let k = u32::try_from(n.unsigned_abs()).unwrap_or(u32::MAX);
            let r = if k > 19 {
                Some(0)
            } else {
                round_int(i128::from(i), k)
            };
            Val::Int(r.and_then(|r| i64::try_from(r).ok()).ok_or_else(overflow)?)
        }
        Val::Float(f) => Val::Float(round_float(f, n)),
        other => other,
    })
}

fn pow<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let base = number(&mut a, 0)?;
    let exp = number(&mut a, 1)?;
    let modulo = match a.opt(2) {
        None | Some(Val::Null) => None,
        Some(Val::Int(m)) => Some(m),
        Some(other) => {
            return Err(YErr::eval(format!(
                "`pow`: the modulo must be an integer, not {}",
                describe(&other)
            )))
        }
    };
    match (base, exp, modulo) {
        (Val::Int(b), Val::Int(e), Some(m)) => {
            if m == 0 {
                return Err(YErr::eval("`pow`: the modulo must not be zero"));
            }
            Ok(Val::Int(mod_pow(b, e, m)?))
        }
        (_, _, Some(_)) => Err(YErr::eval("`pow` with a modulo takes integers only")),
        (Val::Int(b), Val::Int(e), None) if e >= 0 => {
            let e = u32::try_from(e).map_err(|_| overflow())?;
            Ok(Val::Int(b.checked_pow(e).ok_or_else(overflow)?))
        }
        (b, e, None) => {
            let (x, y) = (as_f64(&b), as_f64(&e));
            if x == 0.0 && y < 0.0 {
                return Err(YErr::eval("`pow`: zero to a negative power"));
            }
            if x < 0.0 && y.fract() != 0.0 {
                return Err(YErr::eval(
                    "`pow`: a negative number to a fractional power is a complex number",
                ));
            }
            let r = x.powf(y);
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(YErr::eval("`pow`: the result is out of range"));
            }
            Ok(Val::Float(r))
        }
    }
}

fn as_f64(v: &Val<'_>) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// `b^e mod m` with Python's signs; a negative `e` uses the inverse.
fn mod_pow(b: i64, e: i64, m: i64) -> R<i64> {
    let m128 = i128::from(m);
    let norm = |x: i128| x.rem_euclid(m128.abs());
    let mut base = norm(i128::from(b));
    let mut e = i128::from(e);
    if e < 0 {
        base = inverse(base, m128.abs())
            .ok_or_else(|| YErr::eval("`pow`: the base is not invertible for that modulo"))?;
        e = -e;
    }
    let mut result: i128 = 1 % m128.abs();
    while e > 0 {
        if e & 1 == 1 {
            result = norm(result * base);
        }
        base = norm(base * base);
        e >>= 1;
    }
    // Python's result has the modulo's sign.
    if m < 0 && result != 0 {
        result += m128;
    }
    i64::try_from(result).map_err(|_| overflow())
}

fn inverse(a: i128, m: i128) -> Option<i128> {
    let (mut old_r, mut r) = (a, m);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    (old_r == 1).then(|| old_s.rem_euclid(m))
}

fn sign<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Int(match number(&mut a, 0)? {
        Val::Int(i) => i.signum(),
        Val::Float(f) if f > 0.0 => 1,
        Val::Float(f) if f < 0.0 => -1,
        _ => 0,
    }))
}

fn max<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let x = a.val(0)?;
    let y = a.val(1)?;
    max2(x, y)
}

fn min<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let x = a.val(0)?;
    let y = a.val(1)?;
    min2(x, y)
}

fn is_integer<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.val(0)?;
    Ok(Val::Bool(matches!(v, Val::Int(_)) || v.big_int().is_some()))
}

fn is_number<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.is_number()))
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5EED);
        h.finish() | 1
    });
}

/// The next number of a xorshift generator seeded per thread.
fn next_random() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

/// `random()` in `[0, 1)`, or `random(from, to)` in `[from, to]`. Not
/// reproducible: a resumed run evaluates it again, to another number.
fn random<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    if a.given() == 0 {
        return Ok(Val::Float(
            (next_random() >> 11) as f64 / (1u64 << 53) as f64,
        ));
    }
    let from = integer(&mut a, 0)?;
    let to = integer(&mut a, 1)?;
    if from > to {
        return Err(YErr::eval(format!(
            "`random({from}, {to})`: the range is empty"
        )));
    }
    let span = (i128::from(to) - i128::from(from) + 1) as u128;
    let r = u128::from(next_random()) % span;
    Ok(Val::Int((i128::from(from) + r as i128) as i64))
}

fn bit_and<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Int(integer(&mut a, 0)? & integer(&mut a, 1)?))
}

fn bit_or<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Int(integer(&mut a, 0)? | integer(&mut a, 1)?))
}

fn bit_xor<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Int(integer(&mut a, 0)? ^ integer(&mut a, 1)?))
}

fn bit_not<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Int(!integer(&mut a, 0)?))
}

fn shift_count(a: &mut Args<'_>) -> R<i64> {
    let n = integer(a, 1)?;
    if n < 0 {
        return Err(YErr::eval(format!("`{}`: a negative shift count", a.name)));
    }
    Ok(n)
}

fn shift_left<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = integer(&mut a, 0)?;
    let n = shift_count(&mut a)?;
    if v == 0 {
        return Ok(Val::Int(0));
    }
    if n >= 64 {
        return Err(overflow());
    }
    let r = i128::from(v) << n;
    i64::try_from(r).map(Val::Int).map_err(|_| overflow())
}

fn shift_right<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = integer(&mut a, 0)?;
    let n = shift_count(&mut a)?;
    Ok(Val::Int(if n >= 64 { v >> 63 } else { v >> n }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_as_python() {
        assert_eq!(parse_int(" 42 "), Some(42));
        assert_eq!(parse_int("-1_000"), Some(-1000));
        assert_eq!(parse_int("1__0"), None);
        assert_eq!(parse_int("4.2"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_float(" 1.5 "), Some(1.5));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn round_as_python() {
        assert_eq!(round_float(12.5, 0), 12.0);
        assert_eq!(round_float(13.5, 0), 14.0);
        assert_eq!(round_float(2.675, 2), 2.67);
        assert_eq!(round_float(1250.0, -2), 1200.0);
        assert_eq!(round_float(1350.0, -2), 1400.0);
        assert_eq!(round_float(1250.5, -2), 1300.0);
        assert_eq!(round_float(-1250.0, -2), -1200.0);
        assert_eq!(round_int(1250, 2), Some(1200));
        assert_eq!(round_int(-1350, 2), Some(-1400));
        // Large counts of digits neither overflow nor panic.
        assert_eq!(round_int(-5, 19), Some(0));
        assert_eq!(
            round_int(i128::from(i64::MIN), 19),
            Some(-10_000_000_000_000_000_000)
        );
        assert!(round_float(-5.0, -38).is_sign_negative());
        assert_eq!(round_float(-1e37, -38), 0.0);
        assert_eq!(round_float(-1250.0, -2), -1200.0);
        assert_eq!(mod_pow(3, 2, 5).unwrap(), 4);
        assert_eq!(mod_pow(3, -1, 7).unwrap(), 5);
        assert_eq!(mod_pow(3, 2, -5).unwrap(), -1);
    }
}
