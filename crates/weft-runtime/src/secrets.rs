//! Secret inputs (`{name: token, secret: true}`): their values are masked
//! wherever the run prints or emits them — error messages, events, task
//! records (results and errors), the output. Actions and expressions see
//! the real values; only what leaves the run is masked.

use std::borrow::Cow;

use serde_json::Value;
use weft_core::Plan;

/// What a secret is replaced by.
pub(crate) const MASK: &str = "********";

/// Shorter texts are not masked: they would mask unrelated text (a secret
/// `42` would turn every 42 into stars).
const SHORTEST: usize = 4;

/// The texts to mask in one run.
#[derive(Debug)]
pub(crate) struct Secrets {
    /// Longest first, so that a secret that contains another is masked
    /// whole.
    words: Vec<String>,
}

impl Secrets {
    /// The secrets of a run of `plan` with `parameters` (its inputs, with
    /// defaults applied); `None` when it has none.
    pub(crate) fn of(plan: &Plan, parameters: &Value) -> Option<Box<Secrets>> {
        let mut words = Vec::new();
        for spec in plan.inputs().iter().filter(|s| s.secret) {
            if let Some(v) = parameters.get(&spec.name) {
                collect(v, &mut words);
            }
        }
        if words.is_empty() {
            return None;
        }
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words.dedup();
        Some(Box::new(Secrets { words }))
    }

    /// Adds the texts of `values` (secrets an action named at dispatch,
    /// see `Action::secret_values`) to the run's secrets, making them if
    /// the run had none.
    pub(crate) fn learn(secrets: &mut Option<Box<Secrets>>, values: &[Value]) {
        let mut words = Vec::new();
        for v in values {
            collect(v, &mut words);
        }
        if words.is_empty() {
            return;
        }
        let s = secrets.get_or_insert_with(|| Box::new(Secrets { words: Vec::new() }));
        if words.iter().all(|w| s.words.contains(w)) {
            return;
        }
        s.words.extend(words);
        s.words
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        s.words.dedup();
    }

    /// `text` with every secret in it masked.
    pub(crate) fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for w in &self.words {
            if out.contains(w.as_str()) {
                out = Cow::Owned(out.replace(w.as_str(), MASK));
            }
        }
        out
    }

    /// Masks `text` in place.
    pub(crate) fn mask(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.text(text) {
            *text = masked;
        }
    }

    /// A copy of `v` with every secret in its strings masked; `None` when
    /// nothing in it is secret.
    pub(crate) fn value(&self, v: &Value) -> Option<Value> {
        match v {
            Value::String(s) => match self.text(s) {
                Cow::Owned(m) => Some(Value::String(m)),
                Cow::Borrowed(_) => None,
            },
            Value::Number(n) => {
                let text = n.to_string();
                self.words
                    .contains(&text)
                    .then(|| Value::String(MASK.to_owned()))
            }
            Value::Array(items) => {
                let masked: Vec<Option<Value>> = items.iter().map(|i| self.value(i)).collect();
                masked.iter().any(Option::is_some).then(|| {
                    Value::Array(
                        masked
                            .into_iter()
                            .zip(items)
                            .map(|(m, i)| m.unwrap_or_else(|| i.clone()))
                            .collect(),
                    )
                })
            }
            Value::Object(map) => {
                let mut changed = false;
                let out = map
                    .iter()
                    .map(|(k, v)| {
                        let key = match self.text(k) {
                            Cow::Owned(m) => {
                                changed = true;
                                m
                            }
                            Cow::Borrowed(_) => k.clone(),
                        };
                        let val = match self.value(v) {
                            Some(m) => {
                                changed = true;
                                m
                            }
                            None => v.clone(),
                        };
                        (key, val)
                    })
                    .collect();
                changed.then(|| Value::Object(out))
            }
            Value::Null | Value::Bool(_) => None,
        }
    }
}

/// Masks a run's secret inputs in what it hands out, by the rules the run
/// itself applies to its events, errors, output and task records: for
/// whoever shows a run from outside it (its journal, which keeps the
/// values as given, for a resume to use them).
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::Workflow;
/// use weft_runtime::{Executor, SecretMask};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let plan = Workflow::from_yaml_str(
///     "input: [{name: token, secret: true}, user]\ntasks:\n  a: {action: core.noop}\n",
/// )?
/// .compile(&Executor::new())?;
/// let inputs = json!({"token": "hunter22", "user": "ada"});
/// let mask = SecretMask::of(&plan, &inputs);
/// assert_eq!(mask.text("curl -u ada:hunter22"), "curl -u ada:********");
/// assert_eq!(mask.inputs(&plan, &inputs), json!({"token": "********", "user": "ada"}));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct SecretMask {
    secrets: Option<Box<Secrets>>,
}

impl SecretMask {
    /// The mask of a run of `plan` with `inputs` (with defaults applied, as
    /// a run's `started` record holds them).
    pub fn of(plan: &Plan, inputs: &Value) -> SecretMask {
        SecretMask {
            secrets: Secrets::of(plan, inputs),
        }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_none()
    }

    /// `text` with every secret in it masked (`********`).
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.secrets {
            Some(s) => s.text(text),
            None => Cow::Borrowed(text),
        }
    }

    /// A copy of `value` with every secret in its strings (and keys, and
    /// numbers equal to one) masked.
    pub fn value(&self, value: &Value) -> Value {
        self.secrets
            .as_ref()
            .and_then(|s| s.value(value))
            .unwrap_or_else(|| value.clone())
    }

    /// A run's inputs as they may be shown: each input declared secret
    /// replaced whole by `********` (whatever its type), and secrets masked
    /// in the others.
    pub fn inputs(&self, plan: &Plan, inputs: &Value) -> Value {
        let Value::Object(map) = inputs else {
            return self.value(inputs);
        };
        let out = map
            .iter()
            .map(|(k, v)| {
                let secret = plan.inputs().iter().any(|i| i.secret && i.name == *k);
                let shown = if secret {
                    Value::String(MASK.to_owned())
                } else {
                    self.value(v)
                };
                (k.clone(), shown)
            })
            .collect();
        Value::Object(out)
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.chars().count() >= SHORTEST => out.push(s.clone()),
        Value::Number(n) => {
            let t = n.to_string();
            if t.len() >= SHORTEST {
                out.push(t);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets(words: &[&str]) -> Secrets {
        let mut words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        Secrets { words }
    }

    #[test]
    fn texts_and_values_are_masked_deep() {
        let s = secrets(&["hunter22", "hunter22-admin", "123456"]);
        assert_eq!(
            s.text("curl -H 'x: hunter22-admin'"),
            "curl -H 'x: ********'"
        );
        assert_eq!(s.text("nothing here"), "nothing here");
        assert!(matches!(s.text("nothing here"), Cow::Borrowed(_)));
        let v = json!({"a": ["ok", "pw=hunter22"], "pin": 123456, "n": 7, "hunter22": 1});
        assert_eq!(
            s.value(&v),
            Some(json!({"a": ["ok", "pw=********"], "pin": "********", "n": 7, "********": 1}))
        );
        assert_eq!(s.value(&json!({"a": [1, 2]})), None);
    }

    #[test]
    fn learned_secrets_are_masked_longest_first() {
        let mut s = None;
        Secrets::learn(&mut s, &[json!("abc")]);
        assert!(s.is_none(), "too short to mask");
        Secrets::learn(
            &mut s,
            &[json!({"k": "hunter22"}), json!(["hunter22-admin"])],
        );
        Secrets::learn(&mut s, &[json!("hunter22")]);
        let s = s.unwrap();
        assert_eq!(s.words, ["hunter22-admin", "hunter22"]);
        assert_eq!(s.text("x hunter22-admin hunter22"), "x ******** ********");
    }

    #[test]
    fn short_values_are_not_masked() {
        let mut out = Vec::new();
        collect(
            &json!({"a": "abc", "b": 42, "c": "abcd", "d": [12345]}),
            &mut out,
        );
        assert_eq!(out, ["abcd", "12345"]);
    }
}
