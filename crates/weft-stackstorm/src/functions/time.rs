//! `to_human_time_from_seconds`: a duration as StackStorm writes it
//! (`3h25m45s`).

use serde_json::{Number, Value};
use weft_core::functions::{Args, Call, FunctionError};

use super::python_type;

/// Seconds from 0001-01-01 to the end of 9999-12-31: past it, Python's
/// `datetime` overflows.
const MAX_SECONDS: i64 = 315_537_897_600;

/// `to_human_time_from_seconds(seconds)`: the years, days, hours, minutes
/// and seconds of a duration from its first non-zero part on. As
/// StackStorm's, "days" is the day of the month the duration reaches from
/// 0001-01-01 (months are not shown), a fraction is rounded half to even,
/// and anything below one second (negative numbers too) is written as
/// microseconds of the number itself (`0.1μs`).
pub(super) fn to_human_time_from_seconds(
    args: &Args<'_>,
    _: &Call<'_>,
) -> Result<Value, FunctionError> {
    let [seconds] = args.bind(["seconds"], 1)?;
    let n: &Number = match seconds {
        Some(Value::Number(n)) => n,
        Some(Value::Bool(b)) => return Ok(Value::from(human(i64::from(*b))?)),
        Some(other) => {
            return Err(FunctionError::new(format!(
                "seconds must be an int or a float, not {}",
                python_type(other)
            )))
        }
        None => return Err(FunctionError::new("missing required argument 'seconds'")),
    };
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f == 0.0 {
        return Ok(Value::from("0s"));
    }
    if f < 1.0 {
        return Ok(Value::from(format!("{}\u{3bc}s", crate::pyrepr::number(n))));
    }
    let whole = match n.as_i64() {
        Some(i) => i,
        None if n.is_f64() => {
            let r = f.round_ties_even();
            if r > MAX_SECONDS as f64 {
                return Err(out_of_range());
            }
            r as i64
        }
        // An integer beyond i64 is beyond any date too.
        None => return Err(out_of_range()),
    };
    Ok(Value::from(human(whole)?))
}

fn out_of_range() -> FunctionError {
    FunctionError::new("date value out of range: the duration reaches past the year 9999")
}

fn human(seconds: i64) -> Result<String, FunctionError> {
    if seconds == 0 {
        return Ok("0s".to_owned());
    }
    if seconds >= MAX_SECONDS {
        return Err(out_of_range());
    }
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, day_of_month) = date_from_days(days);
    let parts = [
        year - 1,
        day_of_month - 1,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
    ];
    let Some(first) = parts.iter().position(|p| *p != 0) else {
        return Ok("0s".to_owned());
    };
    let units = ["y", "d", "h", "m", "s"];
    let shown = &parts[first..];
    // StackStorm's format strings by count of parts: `%ss`, `%sm%ss`,
    // `%sh%sm%ss`, `%sd%sh%sm%ss`, `%sy%sd%sh%sm%ss`.
    Ok(shown
        .iter()
        .zip(&units[units.len() - shown.len()..])
        .map(|(p, u)| format!("{p}{u}"))
        .collect())
}

/// The year and day of the month of the date `days` days after
/// 0001-01-01, in the proleptic Gregorian calendar.
fn date_from_days(mut days: i64) -> (i64, i64) {
    let mut year = 1;
    // Whole 400-year cycles first (146,097 days each).
    year += 400 * (days / 146_097);
    days %= 146_097;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let months = [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    for m in months {
        if days < m {
            break;
        }
        days -= m;
    }
    (year, days + 1)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn human_of(v: Value) -> Result<Value, FunctionError> {
        to_human_time_from_seconds(&Args::new().arg(v), &Call::new("t"))
    }

    /// StackStorm's own expectations (st2common's test_time_jinja_filters
    /// and test_jinja_render_time_filters).
    #[test]
    fn stackstorm_expectations() {
        for (v, text) in [
            (json!(0), "0s"),
            (json!(0.1), "0.1\u{3bc}s"),
            (json!(56), "56s"),
            (json!(56.2), "56s"),
            (json!(456), "7m36s"),
            (json!(4560), "1h16m0s"),
            (json!(45678997), "1y12d16h36m37s"),
            (json!(12345), "3h25m45s"),
        ] {
            assert_eq!(human_of(v.clone()).unwrap(), json!(text), "{v}");
        }
        assert!(human_of(json!("stuff")).is_err());
    }

    #[test]
    fn edges_follow_python() {
        assert_eq!(human_of(json!(-5)).unwrap(), json!("-5\u{3bc}s"));
        assert_eq!(human_of(json!(0.5)).unwrap(), json!("0.5\u{3bc}s"));
        // Half to even: 2.5 is 2, 3.5 is 4.
        assert_eq!(human_of(json!(2.5)).unwrap(), json!("2s"));
        assert_eq!(human_of(json!(3.5)).unwrap(), json!("4s"));
        assert_eq!(human_of(json!(true)).unwrap(), json!("1s"));
        // 31 days reach February 1st: day 1 and no months shown, so nothing.
        assert_eq!(human_of(json!(31 * 86400)).unwrap(), json!("0s"));
        assert!(human_of(json!(1e300)).is_err());
        assert!(human_of(json!(null)).is_err());
    }
}
