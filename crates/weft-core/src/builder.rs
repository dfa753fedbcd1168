//! Building workflows in Rust code instead of YAML text.
//!
//! Programs that embed weft often know their graph only at run time (one task
//! per host, per file, per shard), and writing YAML text just to parse it
//! again is clumsy. [`WorkflowBuilder`] builds the same [`WorkflowDef`] that
//! loading the equivalent YAML gives, and compiling it runs the same checks
//! ([`Workflow::compile`]), so a builder workflow and a YAML workflow behave
//! identically.
//!
//! Each method mirrors one key of the language: [`TaskBuilder::action`] is
//! `action:`, [`TaskBuilder::next`] is one entry of `next:`, and so on. One
//! method goes beyond the text: [`TaskBuilder::after`] states dependencies the
//! way DAG libraries do, and is turned into ordinary transitions (see its
//! docs).
//!
//! The examples are on [`WorkflowBuilder`].

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::Value;

use crate::def::{
    Backoff, InputDef, JoinDef, NumberOrExpr, Publish, RetryDef, TaskDef, TaskInput, TaskList,
    TransitionDef, Version, WithDef, WorkflowDef,
};
use crate::diag::suggest::suggest;
use crate::error::{Error, ErrorKind, Result};
use crate::load::Workflow;
use crate::plan::{ActionCatalog, Plan};

/// The condition of the transitions that [`TaskBuilder::after`] creates.
pub const AFTER_CONDITION: &str = "{{ succeeded() }}";

/// Builds a [`Workflow`] in code.
///
/// Methods take `self` and return it, so a workflow reads as one expression;
/// in a loop, reassign (`b = b.task(...)`). Mistakes that the text format
/// would reject while loading (a duplicate task, an `input` that is not a
/// map, ...) are collected and reported by [`WorkflowBuilder::build`]; the
/// rest are found by [`Workflow::compile`], as for text.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::{Workflow, WorkflowBuilder};
///
/// let workflow = WorkflowBuilder::new("deploy")
///     .input("regions")
///     .input_default("retries", json!(3))
///     .task("validate", |t| {
///         t.action("core.noop")
///             .input(json!({"regions": "{{ parameters.regions }}"}))
///             .next(|n| {
///                 n.when("{{ succeeded() }}")
///                     .publish("checked", "{{ result() }}")
///                     .to(["deploy"])
///             })
///     })
///     .task("deploy", |t| {
///         t.action("core.echo")
///             .with_items("{{ parameters.regions }}")
///             .concurrency(2)
///             .arg("message", "{{ item }}")
///     })
///     .output("deployed", "{{ task.deploy }}")
///     .build()?;
///
/// // The same workflow as text gives the same definition.
/// let yaml = Workflow::from_yaml_str(
///     r#"
/// input:
///   - regions
///   - retries: 3
/// tasks:
///   validate:
///     action: core.noop
///     input: {regions: "{{ parameters.regions }}"}
///     next:
///       - when: "{{ succeeded() }}"
///         publish: [{checked: "{{ result() }}"}]
///         do: [deploy]
///   deploy:
///     action: core.echo
///     with: {items: "{{ parameters.regions }}", concurrency: 2}
///     input: {message: "{{ item }}"}
/// output:
///   - deployed: "{{ task.deploy }}"
/// "#,
/// )?;
/// assert_eq!(workflow.def(), yaml.def());
///
/// // Compiling checks it exactly as it checks loaded text.
/// let plan = workflow.compile(&["core.noop", "core.echo"])?;
/// assert_eq!(plan.tasks().len(), 2);
/// # Ok::<(), weft_core::Error>(())
/// ```
///
/// A graph whose shape is known only at run time, built with
/// [`TaskBuilder::after`]:
///
/// ```
/// use weft_core::WorkflowBuilder;
///
/// let hosts = ["a", "b", "c"];
/// let mut b = WorkflowBuilder::new("fleet").task("prepare", |t| t.action("core.noop"));
/// for h in hosts {
///     b = b.task(format!("update-{h}"), |t| t.action("core.noop").after(["prepare"]));
/// }
/// let names: Vec<String> = hosts.iter().map(|h| format!("update-{h}")).collect();
/// b = b.task("report", |t| t.action("core.noop").after(names));
///
/// let plan = b.compile(&["core.noop"])?;
/// assert_eq!(plan.starts().len(), 1);
/// assert_eq!(plan.task(plan.task_id("report").unwrap()).inbound.len(), 3);
/// # Ok::<(), weft_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .build() or .compile()"]
pub struct WorkflowBuilder {
    name: String,
    def: WorkflowDef,
    /// `(task, its parents)` from [`TaskBuilder::after`], in task order.
    after: Vec<(String, Vec<String>)>,
    errors: Vec<Error>,
}

impl Workflow {
    /// A [`WorkflowBuilder`] for a workflow named `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_core::Workflow;
    ///
    /// let wf = Workflow::builder("hello").task("hi", |t| t.action("core.noop")).build()?;
    /// assert_eq!(wf.name(), Some("hello"));
    /// # Ok::<(), weft_core::Error>(())
    /// ```
    pub fn builder(name: impl Into<String>) -> WorkflowBuilder {
        WorkflowBuilder::new(name)
    }
}

impl WorkflowBuilder {
    /// An empty workflow named `name` (the name shows in runs, events and
    /// outcomes, as a file stem does for a loaded file).
    pub fn new(name: impl Into<String>) -> WorkflowBuilder {
        WorkflowBuilder {
            name: name.into(),
            def: WorkflowDef::default(),
            after: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Sets `version` (kept as written, like `version: 1.0` in text).
    pub fn version(mut self, version: impl Into<String>) -> WorkflowBuilder {
        self.def.version = Some(Version(version.into()));
        self
    }

    /// Sets `description`.
    pub fn description(mut self, text: impl Into<String>) -> WorkflowBuilder {
        self.def.description = Some(text.into());
        self
    }

    /// Declares a required input, read as `parameters.<name>`.
    pub fn input(mut self, name: impl Into<String>) -> WorkflowBuilder {
        self.def.input.push(InputDef {
            name: name.into(),
            ..InputDef::default()
        });
        self
    }

    /// Declares an input with a default (which may be an expression over the
    /// inputs declared before it).
    pub fn input_default(
        mut self,
        name: impl Into<String>,
        default: impl Into<Value>,
    ) -> WorkflowBuilder {
        self.def.input.push(InputDef {
            name: name.into(),
            default: Some(default.into()),
            secret: false,
        });
        self
    }

    /// Declares a required input whose value is a secret: weft masks it
    /// wherever it prints or emits it (errors, events, task records,
    /// output).
    pub fn secret_input(mut self, name: impl Into<String>) -> WorkflowBuilder {
        self.def.input.push(InputDef {
            name: name.into(),
            default: None,
            secret: true,
        });
        self
    }

    /// Adds a workflow variable (`vars:`), evaluated in order when a run
    /// starts.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<Value>) -> WorkflowBuilder {
        self.def.vars.0.push((name.into(), value.into()));
        self
    }

    /// Adds a task, configured by `f`. Tasks keep the order they are added
    /// in, as in a file.
    ///
    /// A second task of the same name is reported by
    /// [`build`](WorkflowBuilder::build), as a duplicate key is when loading.
    pub fn task(
        mut self,
        name: impl Into<String>,
        f: impl FnOnce(TaskBuilder) -> TaskBuilder,
    ) -> WorkflowBuilder {
        let name = name.into();
        let t = f(TaskBuilder::default());
        self.add_task(name, t);
        self
    }

    /// Adds a task from a ready-made definition.
    pub fn task_def(mut self, name: impl Into<String>, def: TaskDef) -> WorkflowBuilder {
        let t = TaskBuilder {
            def,
            ..TaskBuilder::default()
        };
        self.add_task(name.into(), t);
        self
    }

    fn add_task(&mut self, name: String, t: TaskBuilder) {
        let t = t.finish();
        if self.def.tasks.contains_key(&name) {
            self.errors.push(
                Error::new(
                    ErrorKind::Schema,
                    format!("duplicate task `{name}`: each task name may be used once"),
                )
                .with_task(name),
            );
            return;
        }
        for (field, message) in t.errors {
            self.errors.push(
                Error::new(ErrorKind::Schema, message)
                    .with_task(name.clone())
                    .with_field(field),
            );
        }
        if !t.after.is_empty() {
            self.after.push((name.clone(), t.after));
        }
        self.def.tasks.insert(name, t.def);
    }

    /// Adds an output entry (`output:`), evaluated in order when a run ends.
    pub fn output(mut self, name: impl Into<String>, value: impl Into<Value>) -> WorkflowBuilder {
        self.def.output.0.push((name.into(), value.into()));
        self
    }

    /// The workflow.
    ///
    /// Turns [`TaskBuilder::after`] into transitions, then checks what
    /// loading text would check. It does not compile: call
    /// [`Workflow::compile`] (or use [`WorkflowBuilder::compile`]).
    ///
    /// # Errors
    ///
    /// A workflow without tasks, a duplicate task name, an `input` that is
    /// not a map, `concurrency` without `with_items`, or `after` naming a
    /// task that does not exist. All mistakes are reported together (see
    /// [`Error::others`]); each names its task and field.
    pub fn build(mut self) -> Result<Workflow> {
        if self.def.tasks.is_empty() {
            self.errors.push(
                Error::new(
                    ErrorKind::Schema,
                    "a workflow needs at least one task: add one with .task()",
                )
                .with_field("tasks"),
            );
        }
        self.resolve_after();
        if let Some(e) = Error::combine(std::mem::take(&mut self.errors)) {
            return Err(e);
        }
        self.def.tasks.shrink_to_fit();
        Ok(Workflow::from_def(self.def).with_name(self.name))
    }

    /// Builds and compiles in one step: the same as
    /// `self.build()?.compile(catalog)`.
    ///
    /// # Errors
    ///
    /// Those of [`WorkflowBuilder::build`], then those of
    /// [`Workflow::compile`].
    pub fn compile<C: ActionCatalog + ?Sized>(self, catalog: &C) -> Result<Plan> {
        self.build()?.compile(catalog)
    }

    /// Appends, to each parent, a transition `when: {{ succeeded() }}` to its
    /// children. One such transition per parent collects all its children,
    /// so a parent with 100 children evaluates one condition, not 100.
    fn resolve_after(&mut self) {
        let after = std::mem::take(&mut self.after);
        // Index, in the parent's `next`, of the transition `after` made.
        let mut made: HashMap<usize, usize> = HashMap::new();
        for (child, parents) in after {
            // Most tasks have one or a few parents: look back instead of
            // hashing (and allocating a set) for each of a million children.
            let mut seen = HashSet::new();
            let mut count = 0usize;
            for (pi, parent) in parents.iter().enumerate() {
                let repeat = if parents.len() <= 16 {
                    parents[..pi].contains(parent)
                } else {
                    !seen.insert(parent.as_str())
                };
                if repeat {
                    continue;
                }
                let Some(p) = self.def.tasks.get_index_of(parent) else {
                    let hint = match suggest(parent, self.def.tasks.keys().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "add that task, or fix the name".to_owned(),
                    };
                    self.errors.push(
                        Error::new(
                            ErrorKind::Validation,
                            format!("`after` names unknown task `{parent}`: {hint}"),
                        )
                        .with_task(child.clone())
                        .with_field(format!("after[{pi}]")),
                    );
                    continue;
                };
                count += 1;
                let next = &mut self.def.tasks[p].next;
                match made.get(&p) {
                    Some(&i) => next[i].targets.0.push(child.clone()),
                    None => {
                        made.insert(p, next.len());
                        next.push(TransitionDef {
                            when: Some(AFTER_CONDITION.to_owned()),
                            publish: Publish::default(),
                            targets: TaskList(vec![child.clone()]),
                        });
                    }
                }
            }
            if count > 1 {
                if let Some(t) = self.def.tasks.get_mut(&child) {
                    t.join.get_or_insert(JoinDef::All);
                }
            }
        }
    }
}

/// Configures one task; see [`WorkflowBuilder::task`].
#[derive(Clone, Debug, Default)]
#[must_use = "return the builder from the closure"]
pub struct TaskBuilder {
    def: TaskDef,
    after: Vec<String>,
    /// `(field, message)`; the task name is added by the workflow builder.
    errors: Vec<(String, String)>,
}

impl TaskBuilder {
    /// Sets `action`, the registered name of what the task runs. A task
    /// without an action succeeds with `null` (useful as a join point).
    pub fn action(mut self, name: impl Into<String>) -> TaskBuilder {
        self.def.action = Some(name.into());
        self
    }

    /// Sets the whole `input` map, usually written with `json!({...})`.
    /// Strings may hold `{{ }}` expressions at any depth.
    ///
    /// A string that holds an expression, `"{{ ctx().args }}"`, is one
    /// expression that yields the whole map when the task starts. Anything
    /// else but a map (or `null`, meaning no input) is reported by
    /// [`WorkflowBuilder::build`].
    pub fn input(mut self, input: impl Into<Value>) -> TaskBuilder {
        match input.into() {
            Value::Object(m) => {
                self.def.input = Some(TaskInput::Map(m.into_iter().collect::<IndexMap<_, _>>()))
            }
            Value::String(e) if crate::def::holds_expression(&e) => {
                self.def.input = Some(TaskInput::Expr(e))
            }
            Value::Null => self.def.input = None,
            other => self.errors.push((
                "input".to_owned(),
                format!(
                    "`input` must be a map of name to value, not {other}: pass json!({{\"name\": ...}})"
                ),
            )),
        }
        self
    }

    /// Sets one field of `input` (adding to what [`input`](TaskBuilder::input)
    /// set).
    pub fn arg(mut self, name: impl Into<String>, value: impl Into<Value>) -> TaskBuilder {
        match self
            .def
            .input
            .get_or_insert_with(|| TaskInput::Map(IndexMap::new()))
        {
            TaskInput::Map(m) => {
                m.insert(name.into(), value.into());
            }
            TaskInput::Expr(_) => self.errors.push((
                "input".to_owned(),
                format!(
                    "`arg(\"{}\", ...)` after an `input` expression: the expression yields the whole map; put the field in it, or pass a map to `input`",
                    name.into()
                ),
            )),
        }
        self
    }

    /// Adds one entry to `next`, configured by `f`. Entries are evaluated in
    /// the order they are added.
    pub fn next(mut self, f: impl FnOnce(TransitionBuilder) -> TransitionBuilder) -> TaskBuilder {
        self.def.next.push(f(TransitionBuilder::default()).def);
        self
    }

    /// Runs this task after each of `parents` has succeeded: the DAG way of
    /// saying it.
    ///
    /// [`WorkflowBuilder::build`] turns this into plain language: each
    /// parent gets a transition `when: "{{ succeeded() }}"` to this task
    /// (one transition per parent, shared by all of its `after` children and
    /// placed after its own `next` entries), and a task with more than one
    /// parent gets `join: all` unless it set a join itself. A parent that
    /// fails therefore fails the workflow (fail-fast), as it would in a DAG
    /// library. May be called more than once; repeated names count once.
    pub fn after<S: Into<String>>(mut self, parents: impl IntoIterator<Item = S>) -> TaskBuilder {
        self.after.extend(parents.into_iter().map(Into::into));
        self
    }

    /// Sets `join: all`: wait for every inbound branch.
    pub fn join_all(mut self) -> TaskBuilder {
        self.def.join = Some(JoinDef::All);
        self
    }

    /// Sets `join: n`: wait for `n` inbound branches.
    pub fn join(mut self, n: u32) -> TaskBuilder {
        if n == 0 {
            self.errors.push((
                "join".to_owned(),
                "`join` must be `all` or a positive whole number, not 0".to_owned(),
            ));
        } else {
            self.def.join = Some(JoinDef::Count(n));
        }
        self
    }

    /// Sets `with` items: an expression giving the list to run the action
    /// over (`"{{ parameters.hosts }}"`, or `"host in {{ ... }}"`).
    pub fn with_items(mut self, items: impl Into<String>) -> TaskBuilder {
        let concurrency = self.def.with.take().and_then(|w| w.concurrency);
        self.def.with = Some(Box::new(WithDef {
            items: items.into(),
            concurrency,
        }));
        self
    }

    /// Caps the items in flight (`with.concurrency`); needs
    /// [`with_items`](TaskBuilder::with_items), before or after this call.
    pub fn concurrency(mut self, n: impl Into<NumberOrExpr>) -> TaskBuilder {
        let n = n.into();
        match &mut self.def.with {
            Some(w) => w.concurrency = Some(n),
            None => {
                // Remember it; `with_items` may still come.
                self.def.with = Some(Box::new(WithDef {
                    items: String::new(),
                    concurrency: Some(n),
                }));
            }
        }
        self
    }

    /// Sets `retry`, configured by `f` (the count defaults to 0 retries).
    pub fn retry(mut self, f: impl FnOnce(RetryBuilder) -> RetryBuilder) -> TaskBuilder {
        self.def.retry = Some(Box::new(f(RetryBuilder::default()).def));
        self
    }

    /// Sets `delay`: seconds to wait before the action starts (a number or an
    /// expression).
    pub fn delay(mut self, seconds: impl Into<NumberOrExpr>) -> TaskBuilder {
        self.def.delay = Some(seconds.into());
        self
    }

    /// Sets `timeout`: seconds one attempt may take (a number or an
    /// expression).
    pub fn timeout(mut self, seconds: impl Into<NumberOrExpr>) -> TaskBuilder {
        self.def.timeout = Some(seconds.into());
        self
    }

    fn finish(mut self) -> TaskBuilder {
        if matches!(&self.def.with, Some(w) if w.items.is_empty()) {
            self.def.with = None;
            self.errors.push((
                "with.concurrency".to_owned(),
                "`concurrency` needs items: call .with_items(\"{{ ... }}\") too".to_owned(),
            ));
        }
        self
    }
}

/// Configures one entry of a task's `next`; see [`TaskBuilder::next`].
#[derive(Clone, Debug, Default)]
#[must_use = "return the builder from the closure"]
pub struct TransitionBuilder {
    def: TransitionDef,
}

impl TransitionBuilder {
    /// Sets the condition (`when:`); without one the transition is taken on
    /// any completion, success or failure.
    pub fn when(mut self, condition: impl Into<String>) -> TransitionBuilder {
        self.def.when = Some(condition.into());
        self
    }

    /// Publishes a variable when the transition is taken (in call order).
    pub fn publish(
        mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> TransitionBuilder {
        // A builder's transition starts with an empty list; it never holds
        // inline text.
        if let Publish::List(list) = &mut self.def.publish {
            list.0.push((name.into(), value.into()));
        }
        self
    }

    /// Adds tasks or engine commands (`fail`, `noop`, `continue`) to `do:`.
    pub fn to<S: Into<String>>(
        mut self,
        targets: impl IntoIterator<Item = S>,
    ) -> TransitionBuilder {
        self.def
            .targets
            .0
            .extend(targets.into_iter().map(Into::into));
        self
    }
}

/// Configures `retry`; see [`TaskBuilder::retry`].
#[derive(Clone, Debug)]
#[must_use = "return the builder from the closure"]
pub struct RetryBuilder {
    def: RetryDef,
}

impl Default for RetryBuilder {
    fn default() -> Self {
        RetryBuilder {
            def: RetryDef {
                when: None,
                count: NumberOrExpr::Number(0.0),
                delay: None,
                backoff: Backoff::Constant,
                max_delay: None,
            },
        }
    }
}

impl RetryBuilder {
    /// Retries at most this many times (attempts = count + 1).
    pub fn count(mut self, n: impl Into<NumberOrExpr>) -> RetryBuilder {
        self.def.count = n.into();
        self
    }

    /// Retries while this holds after an attempt (default `{{ failed() }}`).
    pub fn when(mut self, condition: impl Into<String>) -> RetryBuilder {
        self.def.when = Some(condition.into());
        self
    }

    /// Seconds before a retry.
    pub fn delay(mut self, seconds: impl Into<NumberOrExpr>) -> RetryBuilder {
        self.def.delay = Some(seconds.into());
        self
    }

    /// How the delay grows.
    pub fn backoff(mut self, backoff: Backoff) -> RetryBuilder {
        self.def.backoff = backoff;
        self
    }

    /// Upper bound of a delay, in seconds.
    pub fn max_delay(mut self, seconds: impl Into<NumberOrExpr>) -> RetryBuilder {
        self.def.max_delay = Some(seconds.into());
        self
    }
}

/// A literal number of seconds or count.
impl From<f64> for NumberOrExpr {
    fn from(n: f64) -> Self {
        NumberOrExpr::Number(n)
    }
}

/// A literal number of seconds or count.
impl From<u32> for NumberOrExpr {
    fn from(n: u32) -> Self {
        NumberOrExpr::Number(f64::from(n))
    }
}

/// A literal number of seconds or count.
impl From<i32> for NumberOrExpr {
    fn from(n: i32) -> Self {
        NumberOrExpr::Number(f64::from(n))
    }
}

/// An expression such as `"{{ parameters.timeout }}"`, evaluated at run time.
impl From<&str> for NumberOrExpr {
    fn from(expr: &str) -> Self {
        NumberOrExpr::Expr(expr.to_owned())
    }
}

/// An expression such as `"{{ parameters.timeout }}"`, evaluated at run time.
impl From<String> for NumberOrExpr {
    fn from(expr: String) -> Self {
        NumberOrExpr::Expr(expr)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::Target;

    fn yaml(text: &str) -> WorkflowDef {
        Workflow::from_yaml_str(text).unwrap().into_def()
    }

    #[test]
    fn design_example_matches_yaml() {
        let built = WorkflowBuilder::new("deploy")
            .version("1.0")
            .description("deploy to every region")
            .input("regions")
            .input_default("retries", 3)
            .var("deployed", json!([]))
            .task("validate", |t| {
                t.action("deploy.validate")
                    .input(json!({"app": "{{ parameters.app }}"}))
                    .retry(|r| r.when("{{ failed() }}").count(2).delay(0.5))
                    .timeout(30)
                    .next(|n| {
                        n.when("{{ succeeded() }}")
                            .publish("summary", "{{ result().summary }}")
                            .to(["deploy"])
                    })
                    .next(|n| n.when("{{ failed() }}").to(["notify", "fail"]))
            })
            .task("deploy", |t| {
                t.with_items("{{ parameters.regions }}")
                    .concurrency(2)
                    .action("deploy.region")
                    .arg("region", "{{ item }}")
                    .arg("n", "{{ index }}")
                    .next(|n| n.publish("deployed", "{{ result() }}").to(["report"]))
            })
            .task("notify", |t| {
                t.action("core.echo").input(json!({"message": "failed"}))
            })
            .task("report", |t| t.join_all().action("core.noop"))
            .output("deployed", "{{ workflow.deployed }}")
            .build()
            .unwrap();
        let text = yaml(
            r#"
version: 1.0
description: deploy to every region
input:
  - regions                 # required
  - retries: 3              # default
vars:
  - deployed: []
tasks:
  validate:
    action: deploy.validate
    input: {app: "{{ parameters.app }}"}
    retry: {when: "{{ failed() }}", count: 2, delay: 0.5}
    timeout: 30
    next:
      - when: "{{ succeeded() }}"
        publish:
          - summary: "{{ result().summary }}"
        do: [deploy]
      - when: "{{ failed() }}"
        do: [notify, fail]
  deploy:
    with: {items: "{{ parameters.regions }}", concurrency: 2}
    action: deploy.region
    input: {region: "{{ item }}", n: "{{ index }}"}
    next:
      - publish: [{deployed: "{{ result() }}"}]
        do: [report]
  notify: {action: core.echo, input: {message: "failed"}}
  report: {join: all, action: core.noop}
output:
  - deployed: "{{ workflow.deployed }}"
"#,
        );
        assert_eq!(built.def(), &text);
        assert_eq!(built.name(), Some("deploy"));
    }

    #[test]
    fn after_becomes_succeeded_transitions_and_joins() {
        let built = WorkflowBuilder::new("dag")
            .task("a", |t| {
                t.action("x")
                    .next(|n| n.when("{{ failed() }}").to(["fail"]))
            })
            .task("b", |t| t.action("x").after(["a"]))
            .task("c", |t| t.action("x").after(["a"]))
            .task("d", |t| t.action("x").after(["b", "c", "b"]))
            .build()
            .unwrap();
        let text = yaml(
            r#"
tasks:
  a:
    action: x
    next:
      - when: "{{ failed() }}"
        do: [fail]
      - when: "{{ succeeded() }}"
        do: [b, c]
  b:
    action: x
    next: [{when: "{{ succeeded() }}", do: d}]
  c:
    action: x
    next: [{when: "{{ succeeded() }}", do: d}]
  d: {action: x, join: all}
"#,
        );
        assert_eq!(built.def(), &text);
    }

    #[test]
    fn after_keeps_an_explicit_join() {
        let wf = WorkflowBuilder::new("j")
            .task("a", |t| t.action("x"))
            .task("b", |t| t.action("x"))
            .task("c", |t| t.action("x").join(1).after(["a", "b"]))
            .build()
            .unwrap();
        assert_eq!(wf.def().tasks["c"].join, Some(JoinDef::Count(1)));
    }

    #[test]
    fn plans_match_yaml_plans() {
        let catalog = ["x"];
        let built = WorkflowBuilder::new("p")
            .task("a", |t| t.action("x"))
            .task("b", |t| t.action("x").after(["a"]))
            .compile(&catalog)
            .unwrap();
        let loaded = Workflow::from_yaml_str(
            "tasks:\n  a: {action: x, next: [{when: '{{ succeeded() }}', do: b}]}\n  b: {action: x}\n",
        )
        .unwrap()
        .compile(&catalog)
        .unwrap();
        let shape = |p: &Plan| {
            p.tasks()
                .iter()
                .map(|t| {
                    let whens: Vec<Option<String>> = t
                        .next
                        .iter()
                        .map(|tr| tr.when.as_ref().map(|w| w.source().to_owned()))
                        .collect();
                    (
                        t.name.to_string(),
                        t.action.clone(),
                        whens,
                        t.inbound.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&built), shape(&loaded));
        assert_eq!(built.starts(), loaded.starts());
        let b = built.task_id("b").unwrap();
        assert_eq!(built.task(0).next[0].targets, vec![Target::Task(b)]);
        assert_eq!(built.name().as_ref(), "p");
    }

    #[test]
    fn compile_validates_like_text() {
        let err = WorkflowBuilder::new("bad")
            .task("a", |t| t.action("core.nop").next(|n| n.to(["bb"])))
            .task("b", |t| t.action("core.noop"))
            .compile(&["core.noop"])
            .unwrap_err();
        let messages: Vec<String> = err.all().map(|e| e.message().to_owned()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown action `core.nop`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("unknown task `bb`")),
            "{messages:?}"
        );
        assert!(err.all().all(|e| e.task() == Some("a")));
    }

    #[test]
    fn build_reports_every_shape_mistake() {
        let err = WorkflowBuilder::new("bad")
            .task("a", |t| t.action("x").input(json!([1, 2])))
            .task("a", |t| t.action("x"))
            .task("b", |t| t.action("x").concurrency(2))
            .task("c", |t| t.action("x").after(["aa", "zzz"]))
            .build()
            .unwrap_err();
        let all: Vec<(Option<&str>, Option<&str>, &str)> = err
            .all()
            .map(|e| (e.task(), e.field(), e.message()))
            .collect();
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(all[0].2.contains("must be a map"), "{all:?}");
        assert_eq!((all[0].0, all[0].1), (Some("a"), Some("input")));
        assert!(all[1].2.contains("duplicate task `a`"), "{all:?}");
        assert_eq!(all[2].1, Some("with.concurrency"));
        assert!(all[3].2.contains("did you mean `a`?"), "{all:?}");
        assert_eq!((all[3].0, all[3].1), (Some("c"), Some("after[0]")));
        assert_eq!(all[4].1, Some("after[1]"));
    }

    #[test]
    fn empty_workflow_is_an_error() {
        let err = WorkflowBuilder::new("empty").build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Schema);
        assert_eq!(err.field(), Some("tasks"));
    }

    #[test]
    fn numbers_and_expressions() {
        let wf = WorkflowBuilder::new("n")
            .input("t")
            .task("a", |t| {
                t.action("x")
                    .delay(1.5)
                    .timeout("{{ parameters.t }}")
                    .retry(|r| r.count(3).backoff(Backoff::Exponential).max_delay(10))
            })
            .build()
            .unwrap();
        let text = yaml(
            r#"
input: [t]
tasks:
  a:
    action: x
    delay: 1.5
    timeout: "{{ parameters.t }}"
    retry: {count: 3, backoff: exponential, max_delay: 10}
"#,
        );
        assert_eq!(wf.def(), &text);
    }

    #[test]
    fn concurrency_before_items_is_kept() {
        let wf = WorkflowBuilder::new("w")
            .task("a", |t| t.concurrency(4).with_items("x in {{ [1, 2] }}"))
            .build()
            .unwrap();
        let with = wf.def().tasks["a"].with.clone().unwrap();
        assert_eq!(with.items, "x in {{ [1, 2] }}");
        assert_eq!(with.concurrency, Some(NumberOrExpr::Number(4.0)));
    }

    #[test]
    fn round_trips_through_yaml_text() {
        let wf = WorkflowBuilder::new("rt")
            .task("a", |t| {
                t.action("x").arg("k", json!({"deep": ["{{ item }}"]}))
            })
            .task("b", |t| t.after(["a"]))
            .build()
            .unwrap();
        let again = Workflow::from_yaml_str(&wf.to_yaml_string().unwrap()).unwrap();
        assert_eq!(wf.def(), again.def());
    }
}
