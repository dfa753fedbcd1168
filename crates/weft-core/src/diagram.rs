//! A workflow's task graph as a picture shows it, and where to draw it.
//!
//! [`Diagram::of`] turns a compiled [`Plan`] into nodes and edges: a start
//! node that points at the start tasks, a node per task (marked when it is
//! a join or has `with` items), a node per engine command a transition
//! names (`fail`, `noop`, `continue`), and an edge per target of each
//! transition, labelled with the transition's `when` source. `weft graph`
//! writes it as Mermaid or Graphviz text; `weft serve` draws it in the
//! browser from [`Diagram::layout`], a layered layout computed here, so
//! that both show the same graph.
//!
//! # Examples
//!
//! ```
//! use weft_core::diagram::{Diagram, NodeKind, Spacing};
//! use weft_core::{Plan, Workflow};
//!
//! # fn main() -> Result<(), weft_core::Error> {
//! let plan: Plan = Workflow::from_yaml_str(
//!     "tasks:\n  a: {action: x, next: [{do: [b, c]}]}\n  b: {action: x, next: [{do: d}]}\n  c: {action: x, next: [{do: d}]}\n  d: {join: all, action: x}\n",
//! )?
//! .compile(&["x"])?;
//! let diagram = Diagram::of(&plan);
//! assert_eq!(diagram.nodes().len(), 5); // start, a, b, c, d
//! assert!(matches!(diagram.nodes()[0].kind, NodeKind::Start));
//! let layout = diagram.layout(|_| (80.0, 30.0), &Spacing::default());
//! // `d` is drawn below `b` and `c`, which are side by side.
//! let (b, c, d) = (&layout.nodes[2], &layout.nodes[3], &layout.nodes[4]);
//! assert_eq!(b.y, c.y);
//! assert!(d.y > b.y && b.x != c.x);
//! # Ok(())
//! # }
//! ```

mod layout;

use crate::plan::{Join, Plan, Target, TaskId};

pub use layout::{Layout, Placed, Route, Spacing};

/// An engine command as a node of the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineCommand {
    /// `fail`: fails the workflow.
    Fail,
    /// `noop`: nothing next; a failure taken here is handled.
    Noop,
    /// `continue`: nothing next; the task's state stands.
    Continue,
}

impl EngineCommand {
    /// Its name in a workflow: `fail`, `noop`, `continue`.
    pub fn name(self) -> &'static str {
        match self {
            EngineCommand::Fail => "fail",
            EngineCommand::Noop => "noop",
            EngineCommand::Continue => "continue",
        }
    }
}

/// What a node stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeKind {
    /// Where the workflow starts: it points at the start tasks.
    Start,
    /// A task.
    Task {
        /// The task's id in the plan.
        id: TaskId,
        /// Its join, if it is one.
        join: Option<Join>,
        /// It runs its action once per item.
        with_items: bool,
        /// The action it runs (`None` for a task that only routes).
        action: Option<String>,
    },
    /// An engine command a transition names.
    Command(EngineCommand),
}

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Node {
    /// What it stands for.
    pub kind: NodeKind,
    /// Its name: the task's name, the command's, or `start` (`workflow
    /// start` when a task is named `start`, so no two nodes read the
    /// same).
    pub name: String,
    /// What is special about a task, in words: `join: all`, `join: 3`,
    /// `with items` (empty for most).
    pub marks: Vec<String>,
}

impl Node {
    /// The name, with the marks in parentheses when there are any:
    /// `deploy (join: all, with items)`.
    pub fn label(&self) -> String {
        if self.marks.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.marks.join(", "))
        }
    }
}

/// One edge: from a node to a node, for one target of one transition (or
/// from the start node to a start task).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Edge {
    /// The node it leaves, an index into [`Diagram::nodes`].
    pub from: usize,
    /// The node it reaches.
    pub to: usize,
    /// The source of the transition's `when`, if it has one.
    pub when: Option<String>,
}

/// A workflow's task graph (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Diagram {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Diagram {
    /// The diagram of `plan`: node 0 is the start node, node `1 + id` is
    /// the task `id`, and the engine commands used follow (`fail`, `noop`,
    /// `continue`, in that order); edges from the start node come first,
    /// then each task's, in the order of its transitions and their targets.
    pub fn of(plan: &Plan) -> Diagram {
        let tasks = plan.tasks();
        let mut nodes = Vec::with_capacity(tasks.len() + 4);
        nodes.push(Node {
            kind: NodeKind::Start,
            name: if plan.task_id("start").is_some() {
                "workflow start".to_owned()
            } else {
                "start".to_owned()
            },
            marks: Vec::new(),
        });
        for task in tasks {
            let mut marks = Vec::new();
            match task.join {
                Some(Join::All) => marks.push("join: all".to_owned()),
                Some(Join::Count(n)) => marks.push(format!("join: {n}")),
                None => {}
            }
            if task.with.is_some() {
                marks.push("with items".to_owned());
            }
            nodes.push(Node {
                kind: NodeKind::Task {
                    id: task.id,
                    join: task.join,
                    with_items: task.with.is_some(),
                    action: task.action.as_deref().map(str::to_owned),
                },
                name: task.name.to_string(),
                marks,
            });
        }
        let used = |c: Target| {
            tasks
                .iter()
                .any(|t| t.next.iter().any(|tr| tr.targets.contains(&c)))
        };
        let mut command_node = [None; 3];
        for (slot, (target, command)) in [
            (Target::Fail, EngineCommand::Fail),
            (Target::Noop, EngineCommand::Noop),
            (Target::Continue, EngineCommand::Continue),
        ]
        .into_iter()
        .enumerate()
        {
            if used(target) {
                command_node[slot] = Some(nodes.len());
                nodes.push(Node {
                    kind: NodeKind::Command(command),
                    name: command.name().to_owned(),
                    marks: Vec::new(),
                });
            }
        }
        let mut edges = Vec::new();
        for &start in plan.starts() {
            edges.push(Edge {
                from: 0,
                to: 1 + start as usize,
                when: None,
            });
        }
        for (i, task) in tasks.iter().enumerate() {
            for tr in &task.next {
                for &target in &tr.targets {
                    let to = match target {
                        Target::Task(t) => Some(1 + t as usize),
                        Target::Fail => command_node[0],
                        Target::Noop => command_node[1],
                        Target::Continue => command_node[2],
                    };
                    if let Some(to) = to {
                        edges.push(Edge {
                            from: 1 + i,
                            to,
                            when: tr.when.as_ref().map(|w| w.source().to_owned()),
                        });
                    }
                }
            }
        }
        Diagram { nodes, edges }
    }

    /// The nodes: the start node, the tasks in id order, the commands.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The edges.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The node of the task `id`.
    pub fn task_node(id: TaskId) -> usize {
        1 + id as usize
    }

    /// Where to draw each node and edge, top to bottom: every node on a
    /// layer below the nodes it is reached from (but along a loop's way
    /// back), crossings reduced, each node centred over its neighbours.
    /// `size` gives each node's width and height.
    pub fn layout(&self, size: impl Fn(&Node) -> (f64, f64), spacing: &Spacing) -> Layout {
        let sizes: Vec<(f64, f64)> = self.nodes.iter().map(size).collect();
        let pairs: Vec<(usize, usize)> = self.edges.iter().map(|e| (e.from, e.to)).collect();
        layout::layered(&sizes, &pairs, spacing)
    }
}
