//! `weft graph`: a workflow's task graph as Mermaid or Graphviz DOT text,
//! written from the same [`Diagram`] that `weft serve` draws.
//!
//! Every task is a node, marked `(join: all)` / `(join: N)` and
//! `(with items)` where that applies; every target of a transition is an
//! edge labelled with the transition's `when` source (unlabelled when it
//! has none). The engine commands `fail`, `noop` and `continue` are nodes
//! of their own shape, and a `start` node points at the start tasks (it
//! reads `workflow start` when a task is named `start`: no two nodes have
//! the same label).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use weft_core::diagram::{Diagram, EngineCommand, NodeKind};
use weft_core::Plan;

use crate::{report, Exit, GraphFormat};

pub(crate) fn graph(file: &Path, format: GraphFormat) -> Exit {
    match report::compile(file) {
        Ok(plan) => {
            print!("{}", render(&plan, format));
            Exit::Ok
        }
        Err(e) => {
            for line in report::error_lines(&e, file) {
                eprintln!("{line}");
            }
            Exit::Invalid
        }
    }
}

pub(crate) fn render(plan: &Plan, format: GraphFormat) -> String {
    match format {
        GraphFormat::Mermaid => mermaid(plan),
        GraphFormat::Dot => dot(plan),
    }
}

// ---- Mermaid ------------------------------------------------------------

const MERMAID_START: &str = "weft_start";

/// Words a Mermaid flowchart does not accept as node ids.
const MERMAID_RESERVED: &[&str] = &[
    "end",
    "graph",
    "flowchart",
    "subgraph",
    "direction",
    "style",
    "class",
    "classdef",
    "click",
    "linkstyle",
    "default",
];

/// Readable Mermaid ids per node: the task name where it is a plain
/// word, else a cleaned-up name made unique with the task's number; fixed
/// ids for the start node and the commands.
fn mermaid_ids(diagram: &Diagram) -> Vec<String> {
    let mut used: HashSet<String> = [MERMAID_START, "cmd_fail", "cmd_noop", "cmd_continue"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut ids = Vec::with_capacity(diagram.nodes().len());
    for node in diagram.nodes() {
        let i = match node.kind {
            NodeKind::Start => {
                ids.push(MERMAID_START.to_owned());
                continue;
            }
            NodeKind::Command(c) => {
                ids.push(format!("cmd_{}", c.name()));
                continue;
            }
            NodeKind::Task { id, .. } => id,
            _ => continue,
        };
        let clean: String = node
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let plain = clean == node.name
            && !MERMAID_RESERVED.contains(&clean.to_ascii_lowercase().as_str())
            && !clean.starts_with(|c: char| c.is_ascii_digit());
        let mut id = if plain {
            clean
        } else {
            format!("t{i}_{clean}")
        };
        if used.contains(&id) {
            id = format!("t{i}_{id}");
        }
        used.insert(id.clone());
        ids.push(id);
    }
    ids
}

fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn mermaid(plan: &Plan) -> String {
    let diagram = Diagram::of(plan);
    let ids = mermaid_ids(&diagram);
    let mut s = String::from("flowchart TD\n");
    let mut commands = Vec::new();
    for (node, id) in diagram.nodes().iter().zip(&ids) {
        let text = mermaid_text(&node.label());
        match &node.kind {
            NodeKind::Start => {
                let _ = writeln!(s, "    {id}(({text}))");
            }
            // Joins wait for several branches: a double border says so.
            NodeKind::Task { join: Some(_), .. } => {
                let _ = writeln!(s, "    {id}[[{text}]]");
            }
            NodeKind::Task { .. } => {
                let _ = writeln!(s, "    {id}[{text}]");
            }
            NodeKind::Command(EngineCommand::Fail) => {
                commands.push(id.as_str());
                let _ = writeln!(s, "    {id}{{{{\"{}\"}}}}", node.name);
            }
            NodeKind::Command(_) => {
                commands.push(id.as_str());
                let _ = writeln!(s, "    {id}([\"{}\"])", node.name);
            }
            _ => {}
        }
    }
    for e in diagram.edges() {
        let (from, to) = (&ids[e.from], &ids[e.to]);
        match &e.when {
            Some(w) => {
                let _ = writeln!(s, "    {from} -->|{}| {to}", mermaid_text(w));
            }
            None => {
                let _ = writeln!(s, "    {from} --> {to}");
            }
        }
    }
    if !commands.is_empty() {
        let _ = writeln!(s, "    classDef engine stroke-dasharray: 4 3");
        let _ = writeln!(s, "    class {} engine", commands.join(","));
    }
    s
}

// ---- DOT ----------------------------------------------------------------

/// Task names hold no whitespace, so this id cannot clash with a task.
const DOT_START: &str = "\"start node\"";

fn dot_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot(plan: &Plan) -> String {
    let diagram = Diagram::of(plan);
    let ids: Vec<String> = diagram
        .nodes()
        .iter()
        .map(|node| match node.kind {
            NodeKind::Start => DOT_START.to_owned(),
            NodeKind::Command(c) => c.name().to_owned(),
            _ => dot_text(&node.name),
        })
        .collect();
    let mut s = String::new();
    let _ = writeln!(s, "digraph {} {{", dot_text(plan.name()));
    let _ = writeln!(s, "    node [shape=box, style=rounded];");
    for (node, id) in diagram.nodes().iter().zip(&ids) {
        match &node.kind {
            NodeKind::Start => {
                let _ = writeln!(
                    s,
                    "    {id} [label={}, shape=circle, style=solid];",
                    dot_text(&node.name)
                );
            }
            NodeKind::Task { join, .. } => {
                let mut attrs = vec![format!("label={}", dot_text(&node.label()))];
                if join.is_some() {
                    attrs.push("peripheries=2".to_owned());
                }
                let _ = writeln!(s, "    {id} [{}];", attrs.join(", "));
            }
            NodeKind::Command(c) => {
                let shape = if *c == EngineCommand::Fail {
                    "octagon"
                } else {
                    "ellipse"
                };
                let _ = writeln!(
                    s,
                    "    {id} [label=\"{}\", shape={shape}, style=dashed];",
                    node.name
                );
            }
            _ => {}
        }
    }
    for e in diagram.edges() {
        let (from, to) = (&ids[e.from], &ids[e.to]);
        match &e.when {
            Some(w) => {
                let _ = writeln!(s, "    {from} -> {to} [label={}];", dot_text(w));
            }
            None => {
                let _ = writeln!(s, "    {from} -> {to};");
            }
        }
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_core::Workflow;
    use weft_runtime::Executor;

    const TEXT: &str = r#"
tasks:
  start:
    action: core.noop
    next:
      - when: '{{ succeeded() and "x" != "<y>" }}'
        do: [b, c]
      - when: "{{ failed() }}"
        do: fail
  b:
    with: "{{ [1, 2] }}"
    action: core.echo
    input: {message: "{{ item }}"}
    next: [{do: end}]
  c: {action: core.noop, next: [{do: end}, {when: "{{ failed() }}", do: noop}]}
  end: {join: all, action: core.noop}
"#;

    fn plan() -> Plan {
        Workflow::from_yaml_str(TEXT)
            .and_then(|w| w.compile(&Executor::new()))
            .unwrap()
    }

    #[test]
    fn mermaid_marks_joins_items_commands_and_labels_edges() {
        let m = render(&plan(), GraphFormat::Mermaid);
        assert!(m.starts_with("flowchart TD\n"), "{m}");
        assert!(m.contains("weft_start --> start\n"), "{m}");
        assert!(m.contains("b[\"b (with items)\"]"), "{m}");
        // `end` is a Mermaid keyword: the id changes, the label does not.
        assert!(m.contains("t3_end[[\"end (join: all)\"]]"), "{m}");
        assert!(
            m.contains(
                "start -->|\"{{ succeeded() and #quot;x#quot; != #quot;#lt;y#gt;#quot; }}\"| b"
            ),
            "{m}"
        );
        assert!(m.contains("start -->|\"{{ failed() }}\"| cmd_fail"), "{m}");
        assert!(m.contains("cmd_fail{{\"fail\"}}"), "{m}");
        assert!(m.contains("c -->|\"{{ failed() }}\"| cmd_noop"), "{m}");
        assert!(m.contains("b --> t3_end\n"), "{m}");
        assert!(!m.contains("cmd_continue"), "{m}");
    }

    #[test]
    fn dot_quotes_names_and_labels() {
        let d = render(&plan(), GraphFormat::Dot);
        assert!(d.starts_with("digraph \"workflow\" {\n"), "{d}");
        assert!(
            d.contains(r#""start" -> "b" [label="{{ succeeded() and \"x\" != \"<y>\" }}"];"#),
            "{d}"
        );
        assert!(
            d.contains(r#""end" [label="end (join: all)", peripheries=2];"#),
            "{d}"
        );
        assert!(d.contains(r#""b" [label="b (with items)"];"#), "{d}");
        assert!(
            d.contains(r#""start" -> fail [label="{{ failed() }}"];"#),
            "{d}"
        );
        assert!(
            d.contains("fail [label=\"fail\", shape=octagon, style=dashed];"),
            "{d}"
        );
        assert!(d.contains(r#""b" -> "end";"#), "{d}");
        assert!(d.contains(r#""start node" -> "start";"#), "{d}");
        assert!(d.ends_with("}\n"));
    }

    #[test]
    fn the_start_node_is_labelled_apart_from_a_task_named_start() {
        let m = render(&plan(), GraphFormat::Mermaid);
        assert!(m.contains("weft_start((\"workflow start\"))"), "{m}");
        assert!(m.contains("start[\"start\"]"), "{m}");
        let d = render(&plan(), GraphFormat::Dot);
        assert!(d.contains(r#""start node" [label="workflow start""#), "{d}");
        let other = Workflow::from_yaml_str("tasks:\n  a: {action: core.noop}\n")
            .and_then(|w| w.compile(&Executor::new()))
            .unwrap();
        let m = render(&other, GraphFormat::Mermaid);
        assert!(m.contains("weft_start((\"start\"))"), "{m}");
    }
}
