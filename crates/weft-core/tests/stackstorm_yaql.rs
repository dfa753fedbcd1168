//! StackStorm's own Orquesta workflows (copies in `tests/stackstorm/`,
//! see its README): every `<% %>` expression in them compiles in weft,
//! except those that call StackStorm's own functions (`st2kv`, `task`,
//! `regex_*`…), which StackStorm's runner adds and weft's StackStorm
//! layer will provide, and the few that Orquesta itself refuses or that
//! fail in Orquesta whatever the data.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value as Yaml;
use weft_core::{ActionCatalog, Template, Workflow};

/// The functions StackStorm's Orquesta runner registers (in both
/// dialects), which are not Orquesta's.
const STACKSTORM_FUNCTIONS: &[&str] = &[
    "st2kv",
    "task",
    "basename",
    "dirname",
    "from_json_string",
    "from_yaml_string",
    "json_dump",
    "json_escape",
    "json_parse",
    "jsonpath_query",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_complex",
    "to_human_time_from_seconds",
    "to_json_string",
    "to_yaml_string",
    "use_none",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_compare",
    "version_equal",
    "version_less_than",
    "version_match",
    "version_more_than",
    "version_strip_patch",
    "yaml_dump",
    "yaml_parse",
];

/// Expressions weft refuses on purpose, with why.
const REFUSED: &[(&str, &str)] = &[
    // The fixtures of Orquesta's inspection failures: Orquesta refuses
    // this text too (`<% <%` is not YAQL).
    ("<% <% succeeded() %>", "Orquesta's inspection refuses it"),
    // A function no one defines: Orquesta fails when it evaluates it
    // (the fixture tests that failure); weft when it compiles.
    ("<% foobar() %>", "unknown function, refused when compiling"),
];

fn workflows() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stackstorm"),
        &mut out,
    );
    out.sort();
    out
}

/// Every string of a YAML document, keys included.
fn strings(v: &Yaml, out: &mut Vec<String>) {
    match v {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Sequence(items) => items.iter().for_each(|i| strings(i, out)),
        Yaml::Mapping(m) => {
            for (k, v) in m {
                strings(k, out);
                strings(v, out);
            }
        }
        Yaml::Tagged(t) => strings(&t.value, out),
        _ => {}
    }
}

/// The StackStorm function a compile error is about, if any (YAQL's
/// errors name `f`, Jinja's `f()`).
fn stackstorm_function(message: &str) -> Option<&'static str> {
    STACKSTORM_FUNCTIONS.iter().copied().find(|f| {
        message.contains(&format!("unknown function `{f}`"))
            || message.contains(&format!("unknown function `{f}()`"))
    })
}

#[test]
fn every_yaql_expression_of_stackstorm_compiles() {
    let files = workflows();
    assert_eq!(files.len(), 124, "the copied workflows");
    let mut compiled = 0;
    let mut files_with_yaql = 0;
    let mut stackstorm: BTreeMap<&str, usize> = BTreeMap::new();
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("readable");
        let doc: Yaml = serde_yaml_ng::from_str(&text).expect("StackStorm's YAML parses");
        let mut all = Vec::new();
        strings(&doc, &mut all);
        let yaql: Vec<&String> = all.iter().filter(|s| s.contains("<%")).collect();
        if !yaql.is_empty() {
            files_with_yaql += 1;
        }
        for s in yaql {
            match Template::compile(s) {
                Ok(_) => compiled += 1,
                Err(e) => {
                    if let Some(f) = stackstorm_function(e.message()) {
                        *stackstorm.entry(f).or_default() += 1;
                    } else if let Some((_, why)) = REFUSED.iter().find(|(r, _)| r == s) {
                        *refused.entry(why).or_default() += 1;
                    } else {
                        failures.push(format!("{}: {s}: {e}", file.display()));
                    }
                }
            }
        }
    }
    eprintln!(
        "{files_with_yaql} workflows with YAQL; {compiled} strings compile; StackStorm's functions: {stackstorm:?}; refused on purpose: {refused:?}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files_with_yaql >= 100, "{files_with_yaql}");
    assert!(compiled >= 500, "{compiled}");
}

/// Accepts any action, declaring no inputs.
struct AnyAction;

impl ActionCatalog for AnyAction {
    fn has_action(&self, _: &str) -> bool {
        true
    }
    fn action_names(&self) -> Vec<String> {
        Vec::new()
    }
}

#[test]
fn stackstorm_workflows_compile_but_for_stackstorm_functions() {
    // Whole workflows, with every action they name known. What stops one
    // from compiling is reported by kind; none may be a YAQL expression
    // weft should take (a YAQL error that is not about a StackStorm
    // function, nor refused on purpose, fails the test).
    let mut ok = 0;
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut yaql_failures = Vec::new();
    let mut others = Vec::new();
    for file in workflows() {
        let result = Workflow::from_file(&file).and_then(|wf| wf.compile(&AnyAction));
        let Err(e) = result else {
            ok += 1;
            continue;
        };
        let mut kinds = std::collections::BTreeSet::new();
        for err in e.all() {
            let m = err.message();
            let kind = if let Some(f) = stackstorm_function(m) {
                f
            } else if m.contains("ctx('st2')") {
                "ctx().st2"
            } else if m.contains("expected `name=value`, found `ctx()") {
                "an expression as the action's name"
            } else if REFUSED.iter().any(|(r, _)| m.contains(&r[..r.len() - 3])) {
                "refused on purpose"
            } else if file.display().to_string().contains("fail-inspection") {
                "refused by Orquesta's inspection too"
            } else if m.contains("in `<%") {
                yaql_failures.push(format!("{}: {m}", file.display()));
                "YAQL"
            } else {
                others.push(format!("{}: {m}", file.display()));
                "other"
            };
            kinds.insert(kind);
        }
        for k in kinds {
            *waiting.entry(k).or_default() += 1;
        }
    }
    eprintln!("{ok} of 124 workflows compile; the others wait for (workflows): {waiting:?}");
    eprintln!("other reasons:\n{}", others.join("\n"));
    assert!(yaql_failures.is_empty(), "{}", yaql_failures.join("\n"));
    assert!(ok >= 72, "only {ok} workflows compile");
}
