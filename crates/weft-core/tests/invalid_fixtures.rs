//! The bad-input catalogue: every file in `tests/fixtures/invalid` is a
//! workflow with one mistake in it, and must fail to load or compile with an
//! error that names the mistake and where it is.
//!
//! Each fixture states what it expects in its leading comment lines (or, for
//! files that cannot hold comments — JSON and the empty file — in a sidecar
//! `<file>.expect`):
//!
//! ```text
//! # expect: unknown task `deploj`     (substring of the message; may repeat)
//! # line: 7                           (1-based line of the error)
//! # column: 9                         (optional: 1-based column)
//! # task: build                       (optional)
//! # field: next[0].do                 (optional)
//! # kind: validation                  (optional: syntax, schema, validation, template)
//! ```
//!
//! A second test feeds mutated copies of the valid fixtures through loading
//! and compiling and checks that nothing panics.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use weft_core::{ActionCatalog, Error, ErrorKind, Format, InputField, Plan, Workflow};

const CATALOG: &[&str] = &[
    "core.noop",
    "core.echo",
    "core.sleep",
    "core.fail",
    "core.local",
    "demo.greet",
];

fn fixture_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind)
}

/// Workflow files (not sidecars) in a fixture directory, sorted.
fn fixtures(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixture_dir(kind))
        .expect("fixture directory is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

#[derive(Debug, Default)]
struct Expect {
    messages: Vec<String>,
    line: Option<usize>,
    column: Option<usize>,
    task: Option<String>,
    field: Option<String>,
    kind: Option<ErrorKind>,
}

fn parse_kind(s: &str) -> ErrorKind {
    match s {
        "syntax" => ErrorKind::Syntax,
        "schema" => ErrorKind::Schema,
        "validation" => ErrorKind::Validation,
        "template" => ErrorKind::TemplateSyntax,
        other => panic!("unknown kind `{other}` in a fixture header"),
    }
}

/// Reads the `# key: value` lines at the top of `text`.
fn parse_expect(text: &str) -> Expect {
    let mut e = Expect::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = rest.trim().split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "expect" => e.messages.push(value),
            "line" => e.line = Some(value.parse().expect("`# line:` is a number")),
            "column" => e.column = Some(value.parse().expect("`# column:` is a number")),
            "task" => e.task = Some(value),
            "field" => e.field = Some(value),
            "kind" => e.kind = Some(parse_kind(&value)),
            _ => {}
        }
    }
    e
}

fn expectations(path: &Path) -> Expect {
    let sidecar = PathBuf::from(format!("{}.expect", path.display()));
    let text = fs::read_to_string(&sidecar)
        .or_else(|_| fs::read_to_string(path))
        .unwrap_or_default();
    parse_expect(&text)
}

/// The actions of [`CATALOG`], with the input fields the runtime's
/// built-ins declare for `core.echo`, `core.sleep` and `core.local`: what
/// `weft validate` checks a task's input keys against.
struct Catalog;

impl ActionCatalog for Catalog {
    fn has_action(&self, name: &str) -> bool {
        CATALOG.contains(&name)
    }

    fn action_names(&self) -> Vec<String> {
        CATALOG.iter().map(|s| (*s).to_owned()).collect()
    }

    fn input_fields(&self, name: &str) -> Option<Vec<InputField>> {
        let optional = |names: &[&str]| names.iter().map(|n| InputField::optional(*n)).collect();
        match name {
            "core.echo" => Some(vec![InputField::required("message")]),
            "core.sleep" => Some(vec![InputField::required("seconds")]),
            "core.local" => Some(optional(&["args", "cmd", "cwd", "env", "max_output_bytes"])),
            _ => None,
        }
    }
}

fn load_and_compile(path: &Path) -> Result<Plan, Error> {
    Workflow::from_file(path)?.compile(&Catalog)
}

/// Checks one fixture; returns what is wrong with its error, if anything.
fn check(path: &Path) -> Vec<String> {
    let expect = expectations(path);
    let mut problems = Vec::new();
    if expect.messages.is_empty() {
        problems.push("the fixture states no `# expect:` line".to_owned());
    }
    if expect.line.is_none() {
        problems.push("the fixture states no `# line:`".to_owned());
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| load_and_compile(path)));
    let err = match outcome {
        Err(_) => return vec!["panicked while loading or compiling".to_owned()],
        Ok(Ok(_)) => return vec!["loaded and compiled, but should have failed".to_owned()],
        Ok(Err(e)) => e,
    };
    let shown = err.to_string();
    for m in &expect.messages {
        if !shown.contains(m.as_str()) && !err.message().contains(m.as_str()) {
            problems.push(format!("message does not contain `{m}`"));
        }
    }
    if let Some(line) = expect.line {
        if err.line() != Some(line) {
            problems.push(format!("line is {:?}, expected {line}", err.line()));
        }
        match err.column() {
            Some(col) => {
                let prefix = format!("{}:{line}:{col}: ", path.display());
                if !shown.starts_with(&prefix) {
                    problems.push(format!("display does not start with `{prefix}`"));
                }
            }
            None => problems.push("the error has no column".to_owned()),
        }
    }
    if let Some(column) = expect.column {
        if err.column() != Some(column) {
            problems.push(format!("column is {:?}, expected {column}", err.column()));
        }
    }
    if !shown.starts_with(&path.display().to_string()) {
        problems.push("display does not start with the file path".to_owned());
    }
    if let Some(task) = &expect.task {
        if err.task() != Some(task.as_str()) {
            problems.push(format!("task is {:?}, expected `{task}`", err.task()));
        }
    }
    if let Some(field) = &expect.field {
        if err.field() != Some(field.as_str()) {
            problems.push(format!("field is {:?}, expected `{field}`", err.field()));
        }
    }
    if let Some(kind) = expect.kind {
        if err.kind() != kind {
            problems.push(format!("kind is {:?}, expected {kind:?}", err.kind()));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("the error was: {shown}"));
    }
    problems
}

#[test]
fn catalogue_is_large_enough() {
    let n = fixtures("invalid").len();
    assert!(
        n >= 25,
        "only {n} invalid fixtures; the catalogue needs at least 25"
    );
}

#[test]
fn every_invalid_fixture_fails_with_a_precise_error() {
    let files = fixtures("invalid");
    assert!(!files.is_empty(), "no invalid fixtures found");
    let mut report = String::new();
    for path in &files {
        let problems = check(path);
        if !problems.is_empty() {
            report.push_str(&format!("\n{}:\n", path.display()));
            for p in problems {
                report.push_str(&format!("    {p}\n"));
            }
        }
    }
    assert!(report.is_empty(), "fixtures with imprecise errors:{report}");
}

/// A tiny xorshift generator: deterministic mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that make YAML and JSON parsers take unusual paths.
const NASTY: &[u8] = b"{}[]:,-\t\n \"'#&*!|>%@`?0{{}}";

/// Loads and compiles `text`; panics are turned into a failure naming `what`.
/// Returns whether it compiled.
fn survive(text: &str, format: Format, what: &str) -> bool {
    let result = catch_unwind(AssertUnwindSafe(|| {
        Workflow::from_str_named(text, format, "mutant")
            .and_then(|wf| wf.compile(CATALOG))
            .map(|plan| plan.starts().len())
            .map_err(|e| (e.to_string(), e.line(), e.column()))
    }));
    match result {
        Err(_) => panic!("{what}: load+compile panicked on:\n{text}"),
        Ok(Ok(starts)) => {
            assert!(starts > 0, "{what}: compiled without a start task");
            true
        }
        Ok(Err((shown, line, column))) => {
            assert!(!shown.is_empty(), "{what}: empty error message");
            let lines = text.lines().count() + 1;
            if let Some(l) = line {
                assert!(
                    (1..=lines).contains(&l),
                    "{what}: line {l} is outside the text ({lines} lines): {shown}"
                );
            }
            if let Some(c) = column {
                assert!(c >= 1, "{what}: column 0: {shown}");
            }
            false
        }
    }
}

#[test]
fn mutated_valid_fixtures_never_panic() {
    let files = fixtures("valid");
    assert!(!files.is_empty(), "no valid fixtures to mutate");
    let mut rng = Rng(0x5eed_f00d_3e7a_0e70);
    let (mut compiled, mut failed) = (0usize, 0usize);
    for path in &files {
        let original = fs::read(path).expect("fixture is readable");
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        let name = path.display();

        // Truncated at every Nth byte.
        let step = (original.len() / 250).max(1);
        for cut in (0..=original.len()).step_by(step) {
            let text = String::from_utf8_lossy(&original[..cut]);
            let ok = survive(&text, format, &format!("{name} cut at {cut}"));
            if ok {
                compiled += 1;
            } else {
                failed += 1;
            }
        }

        // One to four bytes replaced, with the YAML and JSON parsers both.
        for round in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = if rng.below(3) == 0 {
                    rng.next() as u8
                } else {
                    NASTY[rng.below(NASTY.len())]
                };
            }
            let text = String::from_utf8_lossy(&bytes);
            for f in [format, Format::Yaml] {
                let ok = survive(&text, f, &format!("{name} mutant {round} ({f:?})"));
                if ok {
                    compiled += 1;
                } else {
                    failed += 1;
                }
            }
        }
    }
    // The originals (cut at their full length) compile; most mutants do not.
    assert!(compiled >= files.len(), "even the originals failed");
    assert!(failed > compiled, "mutations should mostly break workflows");
}

#[test]
fn unreadable_and_non_utf8_files_are_errors() {
    let missing = fixture_dir("invalid").join("does-not-exist.yaml");
    let err = Workflow::from_file(&missing).expect_err("a missing file is an error");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().starts_with(&missing.display().to_string()));

    let dir = std::env::temp_dir().join(format!("weft-core-invalid-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("latin1.yaml");
    fs::write(&path, b"tasks:\n  caf\xe9:\n    action: core.noop\n").expect("temp file");
    let result = catch_unwind(|| Workflow::from_file(&path).map(|_| ()));
    let _ = fs::remove_dir_all(&dir);
    let err = result
        .expect("no panic on non-UTF-8 text")
        .expect_err("non-UTF-8 text is an error");
    assert!(
        err.to_string().contains("UTF-8"),
        "the error should say the text is not UTF-8: {err}"
    );
}

#[test]
fn every_task_with_an_unknown_action_is_reported() {
    // Neighbouring tasks with the same action share one lookup; each must
    // still be reported, with its own line.
    let text = "tasks:\n  a: {action: core.ecco}\n  b: {action: core.ecco}\n  c: {action: core.noop}\n  d: {action: core.ecco}\n";
    let err = Workflow::from_yaml_str(text)
        .expect("loads")
        .compile(&["core.noop", "core.echo"])
        .expect_err("unknown actions do not compile");
    let tasks: Vec<(Option<&str>, Option<usize>)> =
        err.all().map(|e| (e.task(), e.location().line)).collect();
    assert_eq!(
        tasks,
        [
            (Some("a"), Some(2)),
            (Some("b"), Some(3)),
            (Some("d"), Some(5))
        ],
        "{err}"
    );
    for e in err.all() {
        assert!(e.to_string().contains("unknown action `core.ecco`"), "{e}");
    }
}

#[test]
fn equal_expressions_share_a_parse_but_keep_their_own_places() {
    // One compile parses `{{ parameters.limit.nope > 3 }}` once for both tasks;
    // each template still names its own field when it fails at run time.
    let text = r#"
input: [limit]
tasks:
  a: {action: x, next: [{when: "{{ parameters.limit.nope > 3 }}", do: c}]}
  b: {action: x, next: [{when: "{{ parameters.limit.nope > 3 }}", do: c}]}
  c: {action: x}
"#;
    let plan = Workflow::from_yaml_str(text)
        .expect("loads")
        .compile(&["x"])
        .expect("compiles");
    // An attribute a number does not have: an evaluation error.
    let ctx = weft_core::WorkflowContext::new(serde_json::json!({"limit": 5}), []);
    for name in ["a", "b"] {
        let task = plan.task(plan.task_id(name).unwrap());
        let when = task.next[0].when.as_ref().expect("a condition");
        let err = when
            .eval_bool(&ctx)
            .expect_err("the attribute is undefined");
        assert_eq!(err.task(), Some(name), "{err}");
        assert_eq!(err.field(), Some("next[0].when"), "{err}");
    }
}
