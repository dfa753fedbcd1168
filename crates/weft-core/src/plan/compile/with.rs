//! A task's `with`: the items its action runs once for (`x, y in {{ expr }}`
//! names each item's parts), and how many may be in flight.

use crate::def::TaskDef;
use crate::error::ErrorKind;
use crate::plan::WithItems;

use super::{Compiler, TaskPath};

impl Compiler<'_> {
    /// The task's compiled `with`, if it has one that compiles.
    pub(super) fn with(&mut self, t: &TaskDef, base: &TaskPath<'_>) -> Option<WithItems> {
        let w = t.with.as_ref()?;
        let wpath = base.key("with");
        if t.action.is_none() {
            self.error(
                ErrorKind::Validation,
                &wpath,
                "a task with `with` items needs an `action` to run for each item: add one, or remove `with`",
            );
            return None;
        }
        let (names, expr) = split_items(&w.items);
        if names.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                ErrorKind::Validation,
                &format!("{wpath}.items"),
                format!(
                    "no item names before `in` in `{}`: write `x in {{{{ list }}}}`, or only `{{{{ list }}}}` to use `item`",
                    w.items
                ),
            );
            return None;
        }
        let names = names.unwrap_or_default();
        let identifier = |n: &str| {
            n.starts_with(|ch: char| ch.is_alphabetic() || ch == '_')
                && n.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
        };
        let repeated = names
            .iter()
            .enumerate()
            .any(|(i, n)| names[..i].contains(n));
        if repeated || !names.iter().all(|n| identifier(n)) {
            self.error(
                ErrorKind::Validation,
                &format!("{wpath}.items"),
                format!(
                    "invalid item names in `{}`: each name is a distinct identifier (a letter or `_`, then letters, digits or `_`); write `x in {{{{ list }}}}` or `x, y in {{{{ zip(a, b) }}}}`",
                    w.items
                ),
            );
            return None;
        }
        let jinja = expr.starts_with("{{") && expr.ends_with("}}");
        let yaql = expr.starts_with("<%") && expr.ends_with("%>");
        if !jinja && !yaql {
            self.error(
                ErrorKind::Validation,
                &format!("{wpath}.items"),
                format!("`with` items must be an expression such as `{{{{ parameters.hosts }}}}`, not `{expr}`"),
            );
            return None;
        }
        let items = self.template(expr, &format!("{wpath}.items"))?;
        // As Orquesta: 0 is accepted (its schema's minimum) and runs one item
        // at a time; a negative constant is refused.
        let concurrency = match &w.concurrency {
            Some(n) => {
                Some(self.num(n, &format!("{wpath}.concurrency"), "concurrency", 0.0, true)?)
            }
            None => None,
        };
        Some(WithItems {
            items,
            names,
            concurrency,
        })
    }
}

/// Splits `x, y in {{ expr }}` (or `<% expr %>`) into the names before
/// `in` and the expression. The names are `None` when no `in` comes
/// before the first `{{` or `<%` (the text is then the expression, to be
/// checked as one), and empty when `in` has no names before it.
fn split_items(items: &str) -> (Option<Vec<String>>, &str) {
    let trimmed = items.trim();
    let head_end = [trimmed.find("{{"), trimmed.find("<%")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(trimmed.len());
    let head = trimmed[..head_end].trim_end();
    match head.strip_suffix("in") {
        Some(names) if names.is_empty() || names.ends_with(char::is_whitespace) => {
            let names = names.trim();
            let names = if names.is_empty() {
                Vec::new()
            } else {
                names.split(',').map(|s| s.trim().to_owned()).collect()
            };
            (Some(names), trimmed[head_end..].trim())
        }
        _ => (None, trimmed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_into_names_and_expression() {
        let names = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(split_items(" {{ xs }} "), (None, "{{ xs }}"));
        assert_eq!(split_items("x in {{ xs }}"), (names(&["x"]), "{{ xs }}"));
        assert_eq!(
            split_items("a, b\tin {{ zip(p, q) }}"),
            (names(&["a", "b"]), "{{ zip(p, q) }}")
        );
        assert_eq!(split_items("in {{ xs }}"), (names(&[]), "{{ xs }}"));
        assert_eq!(split_items("x in"), (names(&["x"]), ""));
        assert_eq!(split_items("main {{ xs }}"), (None, "main {{ xs }}"));
        assert_eq!(split_items("parameters.hosts"), (None, "parameters.hosts"));
        assert_eq!(
            split_items("x in <% ctx(xs) %>"),
            (names(&["x"]), "<% ctx(xs) %>")
        );
    }
}
