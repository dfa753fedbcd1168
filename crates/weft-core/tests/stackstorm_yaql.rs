//! StackStorm's own Orquesta workflows (copies in `tests/stackstorm/`,
//! see its README): every `<% %>` expression in them compiles in weft, and
//! every workflow but those Orquesta refuses and the few weft refuses on
//! purpose, once StackStorm's functions are known. weft-core cannot use
//! the StackStorm layer (which depends on it), so this test registers a
//! stand-in under each name, through the same extension point the layer
//! uses, and declares `ctx().st2`; the layer's own tests run the
//! functions.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use std::sync::LazyLock;

use serde_yaml_ng::Value as Yaml;
use weft_core::functions::{self, Args, Call, Function};
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

/// StackStorm's functions, as stand-ins that say they are (registered
/// before anything compiles), and `ctx().st2`.
static STACKSTORM: LazyLock<()> = LazyLock::new(|| {
    for name in STACKSTORM_FUNCTIONS {
        functions::register(
            name,
            Function::new(|_: &Args<'_>, call: &Call<'_>| {
                Err(format!("{} is a stand-in in this test", call.name()).into())
            }),
        )
        .expect("registered before anything compiles");
    }
    functions::declare_context_name("st2").expect("declared before anything compiles");
});

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
    LazyLock::force(&STACKSTORM);
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
    assert!(stackstorm.is_empty(), "{stackstorm:?}");
    assert_eq!(files_with_yaql, 107);
    assert_eq!(compiled, 605);
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

/// A quoted string whose last line is indented as its key is
/// (`jinja-data-functions.yaml`) reads as PyYAML reads it.
#[test]
fn quoted_strings_fold_as_pyyaml_folds_them() {
    LazyLock::force(&STACKSTORM);
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/stackstorm/orquesta_tests/jinja-data-functions.yaml");
    let wf = Workflow::from_file(&file).expect("loads");
    let output = serde_json::to_value(&wf.def().output).expect("JSON");
    assert!(
        output.to_string().contains(
            r#""{{ ctx(\"data_json_str_1\") | from_json_string() | to_yaml_string() | from_yaml_string() | to_json_string() }}""#
        ),
        "{output}"
    );
    wf.compile(&AnyAction).expect("compiles");
}

#[test]
fn stackstorm_workflows_compile() {
    // Whole workflows, with every action they name known. What stops one
    // from compiling is reported by kind; none may be a YAQL expression
    // weft should take, nor a StackStorm function or `ctx().st2` (weft
    // has them now), nor anything unexplained.
    LazyLock::force(&STACKSTORM);
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
    assert!(others.is_empty(), "{}", others.join("\n"));
    let waiting_for_stackstorm: Vec<_> = waiting
        .keys()
        .filter(|k| STACKSTORM_FUNCTIONS.contains(k) || **k == "ctx().st2")
        .collect();
    assert!(
        waiting_for_stackstorm.is_empty(),
        "{waiting_for_stackstorm:?}"
    );
    // Of the 122 that Orquesta's inspection accepts, all but one, which
    // calls a function no one defines (Orquesta fails when it evaluates
    // it). The two that name their action with an expression
    // (`fail-task-action`, `fail-start-task-action`) compile, and fail
    // when the task starts, as in Orquesta (docs/stackstorm.md).
    assert_eq!(ok, 121, "{ok} of 124 compile");
    assert_eq!(
        waiting,
        BTreeMap::from([
            ("refused by Orquesta's inspection too", 2),
            ("refused on purpose", 1),
        ])
    );
}
