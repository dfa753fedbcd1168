//! Every ```yaml (and ```json) block in `docs/workflow-language.md` is a
//! complete workflow: this loads and compiles each one, so the language
//! reference cannot drift from what the code accepts. Snippets that are not
//! whole workflows (or are wrong on purpose) use ```text.

use std::path::{Path, PathBuf};

use weft_core::{Format, Workflow};

/// The actions the examples use: the built-ins.
const CATALOG: &[&str] = &[
    "core.noop",
    "core.echo",
    "core.sleep",
    "core.fail",
    "core.local",
    "core.http",
    // The sub-workflow of the example in "Sub-workflows".
    "deploy_region",
];

fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/workflow-language.md")
}

/// A fenced block: its language, the 1-based line of its first content line,
/// and its text.
struct Block {
    lang: String,
    line: usize,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    current = Some(Block {
                        lang: info.trim().to_owned(),
                        line: i + 2,
                        text: String::new(),
                    });
                }
            }
            Some(mut block) => {
                if trimmed.starts_with("```") {
                    out.push(block);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                    current = Some(block);
                }
            }
        }
    }
    assert!(current.is_none(), "an unclosed ``` block in the document");
    out
}

#[test]
fn every_yaml_and_json_example_loads_and_compiles() {
    let path = doc_path();
    let markdown = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let all = blocks(&markdown);
    let examples: Vec<&Block> = all
        .iter()
        .filter(|b| b.lang == "yaml" || b.lang == "json")
        .collect();
    assert!(
        examples.len() >= 10,
        "expected at least 10 workflow examples, found {}",
        examples.len()
    );
    assert!(
        examples.iter().any(|b| b.lang == "json"),
        "the reference should show a JSON workflow"
    );

    let mut failures = String::new();
    for block in &examples {
        let format = if block.lang == "json" {
            Format::Json
        } else {
            Format::Yaml
        };
        let name = format!("docs/workflow-language.md (block at line {})", block.line);
        let result = std::panic::catch_unwind(|| {
            Workflow::from_str_named(&block.text, format, &name)
                .and_then(|wf| wf.compile(CATALOG))
                .map(|plan| plan.tasks().len())
        });
        match result {
            Err(_) => failures.push_str(&format!("\n{name}: panicked")),
            Ok(Err(e)) => {
                for err in e.all() {
                    failures.push_str(&format!("\n{err}"));
                }
            }
            Ok(Ok(tasks)) => assert!(tasks > 0, "{name}: no tasks"),
        }
    }
    assert!(
        failures.is_empty(),
        "examples that do not compile:{failures}"
    );
}

#[test]
fn every_other_block_is_marked_as_text() {
    let markdown = std::fs::read_to_string(doc_path()).expect("the document is readable");
    let unknown: Vec<String> = blocks(&markdown)
        .iter()
        .filter(|b| !matches!(b.lang.as_str(), "yaml" | "json" | "text"))
        .map(|b| format!("line {}: ```{}", b.line - 1, b.lang))
        .collect();
    assert!(
        unknown.is_empty(),
        "blocks must be yaml or json (whole workflows, tested) or text: {unknown:?}"
    );
}

#[test]
fn the_reference_names_every_namespace_and_function() {
    let markdown = std::fs::read_to_string(doc_path()).expect("the document is readable");
    let names = [
        "`parameters`",
        "`workflow`",
        "`vars`",
        "`task`",
        "`tasks`",
        "`item`",
        "`index`",
        "`system`",
        "`result()`",
        "`succeeded()`",
        "`failed()`",
        "`timed_out()`",
        "`completed()`",
        "`ctx(name)`",
        "`item(name)`",
        "`task_status(name)`",
        "`json(s)`",
        "`zip(a, b, ...)`",
        "`version`",
        "`description`",
        "`input`",
        "`output`",
        "`action`",
        "`next`",
        "`when`",
        "`publish`",
        "`do`",
        "`join`",
        "`with`",
        "`concurrency`",
        "`retry`",
        "`count`",
        "`backoff`",
        "`max_delay`",
        "`delay`",
        "`timeout`",
        "`fail`",
        "`noop`",
        "`continue`",
        "## Differences from Orquesta",
    ];
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !markdown.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "the reference does not mention {missing:?}"
    );
}
