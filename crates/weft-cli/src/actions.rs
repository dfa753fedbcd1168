//! `weft actions`: the built-in actions, their input fields and result shape.

use std::fmt::Write as _;

use weft_runtime::{builtin_actions, ActionInfo};

use crate::Exit;

pub(crate) fn actions() -> Exit {
    print!("{}", render(builtin_actions()));
    Exit::Ok
}

fn render(actions: &[ActionInfo]) -> String {
    let mut s = String::new();
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = writeln!(s, "{}  {}", a.name, a.description);
        if a.inputs.is_empty() {
            let _ = writeln!(s, "  input:  (none)");
        } else {
            let _ = writeln!(s, "  input:");
            let name_w = a.inputs.iter().map(|f| f.name.len()).max().unwrap_or(0);
            let kind_w = a.inputs.iter().map(|f| f.kind.len()).max().unwrap_or(0);
            for f in a.inputs {
                let need = if f.required { "required" } else { "optional" };
                let _ = writeln!(
                    s,
                    "    {:name_w$}  {:kind_w$}  {need}  {}",
                    f.name, f.kind, f.description
                );
            }
        }
        let _ = writeln!(s, "  result: {}", a.result);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_listed_with_its_fields() {
        let text = render(builtin_actions());
        for a in builtin_actions() {
            assert!(text.contains(a.name), "{text}");
            assert!(text.contains(a.result), "{text}");
            for f in a.inputs {
                assert!(text.contains(f.description), "{text}");
            }
        }
        assert!(
            text.contains("core.noop  does nothing\n  input:  (none)\n"),
            "{text}"
        );
    }
}
