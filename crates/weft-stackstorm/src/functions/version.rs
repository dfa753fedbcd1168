//! `version_*`: semantic versions as the Python `semver` library (3.0)
//! reads, compares and bumps them.

use std::cmp::Ordering;

use serde_json::Value;
use weft_core::functions::{Args, Call, FunctionError};

use super::python_type;

/// A version as `semver.Version` holds it. The numbers are kept as their
/// digits (the grammar allows no leading zero), so a version of any size
/// compares and bumps as Python's unbounded integers do.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    major: String,
    minor: String,
    patch: String,
    prerelease: Option<String>,
    build: Option<String>,
}

impl Version {
    /// `Version.parse(text)`: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`.
    fn parse(text: &str) -> Result<Version, FunctionError> {
        let invalid = || FunctionError::new(format!("{text} is not valid SemVer string"));
        // Python's `$` also matches before a final newline.
        let body = text.strip_suffix('\n').unwrap_or(text);
        let (rest, build) = match body.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (body, None),
        };
        let (core, prerelease) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let mut numbers = core.split('.');
        let (Some(major), Some(minor), Some(patch), None) = (
            numbers.next(),
            numbers.next(),
            numbers.next(),
            numbers.next(),
        ) else {
            return Err(invalid());
        };
        if ![major, minor, patch].iter().all(|n| is_number(n)) {
            return Err(invalid());
        }
        if let Some(p) = prerelease {
            if !p
                .split('.')
                .all(|part| is_number(part) || is_alnum_id(part))
            {
                return Err(invalid());
            }
        }
        if let Some(b) = build {
            if !b
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(is_id_byte))
            {
                return Err(invalid());
            }
        }
        Ok(Version {
            major: major.to_owned(),
            minor: minor.to_owned(),
            patch: patch.to_owned(),
            prerelease: prerelease.map(str::to_owned),
            build: build.map(str::to_owned),
        })
    }

    /// A version from a list `[major, minor, patch, prerelease, build]` or
    /// a map of those names, as `Version.compare` accepts them.
    fn from_value(v: &Value) -> Result<Version, FunctionError> {
        let number = |v: Option<&Value>, name: &str| -> Result<String, FunctionError> {
            match v {
                None | Some(Value::Null) if name != "major" => Ok("0".to_owned()),
                Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
                Some(Value::String(s)) if is_number(s) => Ok(s.clone()),
                Some(other) => Err(FunctionError::new(format!(
                    "{name} must be a non-negative integer, not {other}"
                ))),
                None => Err(FunctionError::new(format!("{name} is missing"))),
            }
        };
        let text = |v: Option<&Value>| match v {
            None | Some(Value::Null) => None,
            Some(other) => Some(super::python_str(other)),
        };
        match v {
            Value::String(s) => Version::parse(s),
            Value::Array(items) => {
                if items.len() > 5 {
                    return Err(FunctionError::new("a version list has at most 5 parts"));
                }
                Ok(Version {
                    major: number(items.first(), "major")?,
                    minor: number(items.get(1), "minor")?,
                    patch: number(items.get(2), "patch")?,
                    prerelease: text(items.get(3)),
                    build: text(items.get(4)),
                })
            }
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| {
                    !matches!(
                        k.as_str(),
                        "major" | "minor" | "patch" | "prerelease" | "build"
                    )
                }) {
                    return Err(FunctionError::new(format!(
                        "a version map has no part `{k}` (major, minor, patch, prerelease, build)"
                    )));
                }
                Ok(Version {
                    major: number(m.get("major"), "major")?,
                    minor: number(m.get("minor"), "minor")?,
                    patch: number(m.get("patch"), "patch")?,
                    prerelease: text(m.get("prerelease")),
                    build: text(m.get("build")),
                })
            }
            other => Err(FunctionError::new(format!(
                "Expected str, bytes, dict, tuple, list, or Version instance, but got {}",
                python_type(other)
            ))),
        }
    }

    /// `Version.compare(other)`: -1, 0 or 1. Build metadata does not count;
    /// a pre-release is below its release.
    fn compare(&self, other: &Version) -> i64 {
        let by_numbers = cmp_number(&self.major, &other.major)
            .then_with(|| cmp_number(&self.minor, &other.minor))
            .then_with(|| cmp_number(&self.patch, &other.patch));
        if by_numbers != Ordering::Equal {
            return sign(by_numbers);
        }
        let (a, b) = (
            self.prerelease.as_deref().filter(|p| !p.is_empty()),
            other.prerelease.as_deref().filter(|p| !p.is_empty()),
        );
        let by_pre = nat_cmp(a.unwrap_or(""), b.unwrap_or(""));
        if by_pre == Ordering::Equal {
            return 0;
        }
        match (a, b) {
            (None, _) => 1,
            (_, None) => -1,
            _ => sign(by_pre),
        }
    }
}

fn sign(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// `0`, or digits without a leading zero.
fn is_number(s: &str) -> bool {
    s == "0" || (!s.is_empty() && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A pre-release part with a letter or `-` in it.
fn is_alnum_id(s: &str) -> bool {
    s.bytes().all(is_id_byte) && s.bytes().any(|b| b.is_ascii_alphabetic() || b == b'-')
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Numbers of any size, by their digits.
fn cmp_number(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `Version._nat_cmp`: dot-separated parts, numbers below words, numbers by
/// value and words by text; then the longer list is greater.
fn nat_cmp(a: &str, b: &str) -> Ordering {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (digits(x), digits(y)) {
            (true, true) => cmp_number(x, y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// One more than a number of any size.
fn increment(n: &str) -> String {
    let mut digits: Vec<u8> = n.bytes().collect();
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8_lossy(&digits).into_owned();
        }
    }
    let mut out = String::from("1");
    out.push_str(&String::from_utf8_lossy(&digits));
    out
}

fn parse_arg(args: &Args<'_>, names: [&str; 1]) -> Result<Version, FunctionError> {
    let [value] = args.bind(names, 1)?;
    version_of(value)
}

/// The version a `value` argument gives: it must be a string.
fn version_of(value: Option<&Value>) -> Result<Version, FunctionError> {
    match value {
        Some(Value::String(s)) => Version::parse(s),
        Some(other) => Err(FunctionError::new(format!(
            "not expecting type '<class '{}'>'",
            python_type(other)
        ))),
        None => Err(FunctionError::new("missing required argument 'value'")),
    }
}

fn compare_args(args: &Args<'_>) -> Result<i64, FunctionError> {
    let [value, pattern] = args.bind(["value", "pattern"], 2)?;
    let v = version_of(value)?;
    let other = Version::from_value(pattern.unwrap_or(&Value::Null))?;
    Ok(v.compare(&other))
}

/// `version_compare(value, pattern)`: -1, 0 or 1.
pub(super) fn compare(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    compare_args(args).map(Value::from)
}

/// `version_more_than(value, pattern)`.
pub(super) fn more_than(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    compare_args(args).map(|c| Value::Bool(c == 1))
}

/// `version_less_than(value, pattern)`.
pub(super) fn less_than(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    compare_args(args).map(|c| Value::Bool(c == -1))
}

/// `version_equal(value, pattern)`.
pub(super) fn equal(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    compare_args(args).map(|c| Value::Bool(c == 0))
}

/// `version_match(value, pattern)`: `pattern` is an operator (`<`, `>`,
/// `<=`, `>=`, `==`, `!=`, or none for `==` before a digit) and a version.
pub(super) fn matches(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, pattern] = args.bind(["value", "pattern"], 2)?;
    let v = version_of(value)?;
    let expr = super::want_str(pattern, "pattern")?;
    let two = expr.get(..2).unwrap_or("");
    let (ok, rest): (&[i64], &str) = match two {
        ">=" => (&[0, 1], &expr[2..]),
        "<=" => (&[-1, 0], &expr[2..]),
        "==" => (&[0], &expr[2..]),
        "!=" => (&[-1, 1], &expr[2..]),
        _ if expr.starts_with('>') => (&[1], &expr[1..]),
        _ if expr.starts_with('<') => (&[-1], &expr[1..]),
        _ if expr.starts_with(|c: char| c.is_ascii_digit()) => (&[0], expr),
        _ => {
            return Err(FunctionError::new(format!(
                "match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', '>=', '!=']. You provided: '{expr}'"
            )))
        }
    };
    let c = v.compare(&Version::parse(rest)?);
    Ok(Value::Bool(ok.contains(&c)))
}

/// `version_bump_major(value)`: the next major version, `X.0.0`.
pub(super) fn bump_major(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let v = parse_arg(args, ["value"])?;
    Ok(Value::from(format!("{}.0.0", increment(&v.major))))
}

/// `version_bump_minor(value)`: `X.Y+1.0`.
pub(super) fn bump_minor(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let v = parse_arg(args, ["value"])?;
    Ok(Value::from(format!(
        "{}.{}.0",
        v.major,
        increment(&v.minor)
    )))
}

/// `version_bump_patch(value)`: `X.Y.Z+1` (a pre-release and build are
/// dropped).
pub(super) fn bump_patch(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let v = parse_arg(args, ["value"])?;
    Ok(Value::from(format!(
        "{}.{}.{}",
        v.major,
        v.minor,
        increment(&v.patch)
    )))
}

/// `version_strip_patch(value)`: `X.Y`.
pub(super) fn strip_patch(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let v = parse_arg(args, ["value"])?;
    Ok(Value::from(format!("{}.{}", v.major, v.minor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type F = fn(&Args<'_>, &Call<'_>) -> Result<Value, FunctionError>;

    fn two(f: F, a: &str, b: &str) -> Value {
        f(&Args::new().arg(json!(a)).arg(json!(b)), &Call::new("t")).unwrap()
    }

    fn one(f: F, a: &str) -> Value {
        f(&Args::new().arg(json!(a)), &Call::new("t")).unwrap()
    }

    /// StackStorm's own expectations (test_jinja_render_version_filters,
    /// the orquesta version-functions workflow).
    #[test]
    fn stackstorm_expectations() {
        assert_eq!(two(compare, "0.9.0", "0.10.0"), json!(-1));
        assert_eq!(two(compare, "0.10.1", "0.10.0"), json!(1));
        assert_eq!(two(compare, "0.10.0", "0.10.0"), json!(0));
        assert_eq!(two(more_than, "0.9.0", "0.10.0"), json!(false));
        assert_eq!(two(more_than, "0.10.1", "0.10.0"), json!(true));
        assert_eq!(two(less_than, "0.9.0", "0.10.0"), json!(true));
        assert_eq!(two(less_than, "0.10.0", "0.10.0"), json!(false));
        assert_eq!(two(equal, "0.10.0", "0.10.0"), json!(true));
        assert_eq!(two(equal, "0.10.1", "0.10.0"), json!(false));
        assert_eq!(two(matches, "0.10.1", ">0.10.0"), json!(true));
        assert_eq!(two(matches, "0.1.1", ">0.10.0"), json!(false));
        assert_eq!(two(matches, "0.1.0", "<0.10.0"), json!(true));
        assert_eq!(two(matches, "1.1.0", "<0.10.0"), json!(false));
        assert_eq!(two(matches, "0.10.0", "==0.10.0"), json!(true));
        assert_eq!(two(matches, "0.10.1", "==0.10.0"), json!(false));
        assert_eq!(one(bump_major, "0.10.1"), json!("1.0.0"));
        assert_eq!(one(bump_minor, "0.10.1"), json!("0.11.0"));
        assert_eq!(one(bump_patch, "0.10.1"), json!("0.10.2"));
        assert_eq!(one(strip_patch, "0.10.1"), json!("0.10"));
    }

    #[test]
    fn prereleases_builds_and_big_numbers() {
        assert_eq!(two(compare, "1.0.0-rc.1", "1.0.0"), json!(-1));
        assert_eq!(two(compare, "1.0.0-rc.2", "1.0.0-rc.10"), json!(-1));
        assert_eq!(two(compare, "1.0.0-alpha", "1.0.0-1"), json!(1));
        assert_eq!(two(compare, "1.0.0+b1", "1.0.0+b2"), json!(0));
        assert_eq!(two(compare, "1.0.0-a.b", "1.0.0-a"), json!(1));
        assert_eq!(
            one(bump_patch, "99999999999999999999.0.99999999999999999999"),
            json!("99999999999999999999.0.100000000000000000000")
        );
        assert_eq!(one(bump_patch, "1.2.3-rc.1+b"), json!("1.2.4"));
        assert_eq!(two(matches, "4.0.4", "4.0.4"), json!(true));
        assert_eq!(two(matches, "1.2.3", "!=1.2.3"), json!(false));
        for bad in ["1.2", "01.2.3", "1.2.3-", "1.2.3-01", "v1.2.3", "1.2.3+"] {
            let e = compare(
                &Args::new().arg(json!(bad)).arg(json!("1.0.0")),
                &Call::new("t"),
            );
            assert!(e.is_err(), "{bad}");
        }
        let e = matches(
            &Args::new().arg(json!("1.0.0")).arg(json!("~1")),
            &Call::new("t"),
        );
        assert!(e.unwrap_err().message().contains("You provided: '~1'"));
        let list = compare(
            &Args::new().arg(json!("1.2.3")).arg(json!([1, 2, 4])),
            &Call::new("t"),
        );
        assert_eq!(list.unwrap(), json!(-1));
    }
}
