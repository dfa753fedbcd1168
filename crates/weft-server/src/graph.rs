//! A run's task graph as the dashboard draws it: the [`Diagram`] that
//! `weft graph` prints, laid out in Rust ([`Diagram::layout`]) with box
//! sizes that fit the dashboard's labels.

use weft_core::diagram::{Diagram, NodeKind, Spacing};
use weft_core::Plan;

use crate::model::{GraphEdge, GraphJson, GraphNode};

/// Widths of a character of a task's name and of its second line, in
/// pixels, as the dashboard's fonts set them (13px and 11px sans-serif,
/// rounded up, so a label fits in its box).
const NAME_CHAR: f64 = 7.8;
const SUB_CHAR: f64 = 6.4;

/// The size of a node's box: room for the name and, under it, the action
/// and marks; small pills for the start node and the commands.
fn size(kind: &NodeKind, name: &str, sub: &str) -> (f64, f64) {
    match kind {
        NodeKind::Task { .. } => {
            let text = (name.chars().count() as f64 * NAME_CHAR)
                .max(sub.chars().count() as f64 * SUB_CHAR);
            ((text + 28.0).clamp(96.0, 280.0), 46.0)
        }
        _ => (
            (name.chars().count() as f64 * SUB_CHAR + 28.0).max(64.0),
            28.0,
        ),
    }
}

/// The second line of a task's box: its action and its marks.
pub(crate) fn subtitle(kind: &NodeKind, marks: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let NodeKind::Task { action, .. } = kind {
        parts.push(action.as_deref().unwrap_or("(no action)"));
    }
    parts.extend(marks.iter().map(String::as_str));
    parts.join(" · ")
}

/// The laid-out graph of `plan`.
pub(crate) fn graph(plan: &Plan) -> GraphJson {
    let diagram = Diagram::of(plan);
    // Closer layers than the default: workflows are deeper than wide.
    let mut spacing = Spacing::default();
    spacing.layer_gap = 44.0;
    spacing.node_gap = 24.0;
    let layout = diagram.layout(
        |n| size(&n.kind, &n.name, &subtitle(&n.kind, &n.marks)),
        &spacing,
    );
    let nodes = diagram
        .nodes()
        .iter()
        .zip(&layout.nodes)
        .enumerate()
        .map(|(index, (n, p))| GraphNode {
            index,
            kind: match n.kind {
                NodeKind::Start => "start",
                NodeKind::Command(_) => "command",
                _ => "task",
            }
            .to_owned(),
            name: n.name.clone(),
            marks: n.marks.clone(),
            action: match &n.kind {
                NodeKind::Task { action, .. } => action.clone(),
                _ => None,
            },
            x: round(p.x),
            y: round(p.y),
            width: round(p.width),
            height: round(p.height),
            layer: p.layer,
        })
        .collect();
    let edges = diagram
        .edges()
        .iter()
        .zip(&layout.edges)
        .map(|(e, r)| GraphEdge {
            from: e.from,
            to: e.to,
            when: e.when.clone(),
            points: r
                .points
                .iter()
                .map(|&(x, y)| [round(x), round(y)])
                .collect(),
            back: r.back,
            self_loop: r.self_loop,
        })
        .collect();
    GraphJson {
        workflow: plan.name().to_string(),
        width: round(layout.width),
        height: round(layout.height),
        nodes,
        edges,
    }
}

/// A tenth of a pixel is plenty, and keeps the JSON short.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
