//! Tasks: the names (each gets its dense [`TaskId`] in file order), then
//! each task key by key. This file reads the action and its input; the
//! other keys have a file each ([`super::transitions`], [`super::with`],
//! [`super::retry`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::def::{JoinDef, TaskDef, TaskInput, WorkflowDef};
use crate::diag::path::{join_key, task_path};
use crate::diag::suggest::Suggester;
use crate::error::ErrorKind;
use crate::expr::ValueTemplate;
use crate::plan::{Join, NameMap, TaskId, TaskPlan, Transition, ENGINE_COMMANDS};

use super::transitions::Edges;
use super::{task_id, ActionCatalog, Compiler, InputField, Mode, TaskPath};

/// What the catalog says about one action: the fields it declares, and
/// why it cannot be used, if it cannot.
type Declared = (Option<Vec<InputField>>, Option<String>);

/// The message for a task that gives an input its action sets itself.
fn immutable_message(action: &str, field: &str) -> String {
    format!("`{action}` sets its input `{field}` itself (it is immutable): remove it from the task")
}

/// The catalog's answers, each asked for once.
struct Actions<'c, C: ?Sized> {
    catalog: &'c C,
    /// Every name, asked for when the first unknown action is found.
    names: Option<Vec<String>>,
    /// The fields each action declares, and why it cannot be used (if it
    /// cannot).
    fields: HashMap<Arc<str>, Declared>,
    /// The last action looked up, and whether it is known: neighbouring
    /// tasks usually share an action, and then one `Arc`.
    last: Option<Arc<str>>,
    last_known: bool,
}

impl Compiler<'_> {
    /// Every task, in file order, and the ids by name.
    pub(super) fn tasks<C: ActionCatalog + ?Sized>(
        &mut self,
        def: &WorkflowDef,
        catalog: &C,
    ) -> (Vec<TaskPlan>, NameMap) {
        let (by_name, names) = self.task_names(def);
        let mut edges = Edges::new(def);
        let mut actions = Actions {
            catalog,
            names: None,
            fields: HashMap::new(),
            last: None,
            last_known: false,
        };
        let mut tasks = Vec::with_capacity(def.tasks.len());
        for (i, (t, name)) in def.tasks.values().zip(names).enumerate() {
            let task = self.task(task_id(i), name, t, &mut actions, &mut edges, &by_name);
            tasks.push(task);
        }
        edges.record(&mut tasks);
        (tasks, by_name)
    }

    /// Gives each task its id, and checks that its name can be one.
    fn task_names(&mut self, def: &WorkflowDef) -> (NameMap, Vec<Arc<str>>) {
        let mut by_name = NameMap::with_capacity_and_hasher(def.tasks.len(), Default::default());
        // One allocation per name, shared by the map and the task.
        let mut names: Vec<Arc<str>> = Vec::with_capacity(def.tasks.len());
        for (i, name) in def.tasks.keys().enumerate() {
            if ENGINE_COMMANDS.contains(&name.as_str()) {
                self.error(
                    ErrorKind::Validation,
                    &task_path(name),
                    format!("a task may not be named `{name}`: it is an engine command; rename the task"),
                );
            } else if name.trim().is_empty()
                || name.contains(',')
                || name.contains(char::is_whitespace)
            {
                self.error(
                    ErrorKind::Validation,
                    &task_path(name),
                    format!("invalid task name `{name}`: a name may not be empty or hold spaces or commas; rename the task"),
                );
            }
            let shared: Arc<str> = Arc::from(name.as_str());
            by_name.insert(shared.clone(), task_id(i));
            names.push(shared);
        }
        (by_name, names)
    }

    /// One task, key by key, in the order a reader meets them.
    fn task<C: ActionCatalog + ?Sized>(
        &mut self,
        id: TaskId,
        name: Arc<str>,
        t: &TaskDef,
        actions: &mut Actions<'_, C>,
        edges: &mut Edges<'_>,
        by_name: &NameMap,
    ) -> TaskPlan {
        let base = TaskPath::new(&name);
        // Orquesta's inline parameters follow the name: `core.echo x=1`.
        let mut dynamic_action = None;
        let (action_name, inline) = match t.action.as_deref() {
            Some(a)
                if {
                    let name = crate::inline::split_action(a).0;
                    name.contains("{{") || name.contains("<%")
                } =>
            {
                // Orquesta's dynamic action: the name is rendered when the
                // task starts, and resolved then (inline parameters cannot
                // follow it: the whole text is the expression).
                let text = Value::String(a.to_owned());
                dynamic_action = self.value(&text, &base.key("action")).map(Box::new);
                (None, None)
            }
            Some(a) => {
                let (name, params) = crate::inline::split_action(a);
                (Some(name), params.map(|(from, _)| (a, from)))
            }
            None => (None, None),
        };
        let map = t.input.as_ref().and_then(TaskInput::as_map);
        let input_expr = matches!(t.input, Some(TaskInput::Expr(_)));
        let action = action_name.and_then(|a| self.action(a, &base, actions));
        if let Some(a) = action
            .as_ref()
            .filter(|_| self.mode == Mode::New && actions.last_known)
        {
            let (fields, unavailable) = actions.fields.entry(a.clone()).or_insert_with(|| {
                (
                    actions.catalog.input_fields(a),
                    actions.catalog.unavailable(a),
                )
            });
            if let Some(reason) = unavailable {
                self.error(
                    ErrorKind::Validation,
                    &format!("{}.action", base.get()),
                    format!("action `{a}` cannot be used: {reason}"),
                );
            }
            // The keys of an input expression are known when it is rendered.
            if let Some(fields) = fields.as_ref().filter(|_| !input_expr) {
                self.input_keys(a, fields, inline, map, base.get());
            }
        }
        let input = self.input(inline, t.input.as_ref(), &base);
        let (next, retry_command) = self.transitions(id, t, &base, edges, by_name);
        let with = self.with(t, &base);
        let retry = self.retry(retry_command, t, &base);
        let (delay, timeout) = self.timing(t, &base);
        let plain_next = !next.is_empty() && next.iter().all(Transition::is_plain);
        TaskPlan {
            id,
            name: name.clone(),
            action,
            dynamic_action,
            input: input.unwrap_or(ValueTemplate::Static(Value::Null)),
            next,
            join: t.join.map(|j| match j {
                JoinDef::All => Join::All,
                JoinDef::Count(n) => Join::Count(n),
            }),
            with: with.map(Box::new),
            retry: retry.map(Box::new),
            delay,
            timeout,
            inbound: Vec::new(),
            inbound_transitions: 0,
            split: false,
            plain_next,
        }
    }

    /// The action's name: not empty, and one the catalog knows.
    fn action<C: ActionCatalog + ?Sized>(
        &mut self,
        a: &str,
        base: &TaskPath<'_>,
        actions: &mut Actions<'_, C>,
    ) -> Option<Arc<str>> {
        if a.trim().is_empty() {
            self.error(
                ErrorKind::Validation,
                &base.key("action"),
                "empty action name",
            );
            return None;
        }

        // A run of tasks with the same action shares one `Arc` and one
        // catalog lookup (each still reports an unknown action).
        if actions.last.as_deref() != Some(a) {
            actions.last = Some(Arc::from(a));
            actions.last_known = actions.catalog.has_action(a);
        }
        if !actions.last_known && self.full() {
            self.omit();
        } else if !actions.last_known {
            let catalog = actions.catalog;
            let known = actions.names.get_or_insert_with(|| catalog.action_names());
            let hint = match self.suggester.suggest(a, known.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "register it with the executor, or fix its name".to_owned(),
            };
            self.error(
                ErrorKind::Validation,
                &base.key("action"),
                format!("unknown action `{a}`: {hint}"),
            );
        }
        actions.last.clone()
    }

    /// The action's input: inline parameters after its name, or an `input`
    /// map (not both), or nothing (an empty map).
    fn input(
        &mut self,
        inline: Option<(&str, usize)>,
        map: Option<&TaskInput>,
        base: &TaskPath<'_>,
    ) -> Option<ValueTemplate> {
        match (inline, map) {
            (Some((text, from)), given) => {
                let input = self.inline_input(text, from, &base.key("action"));
                if given.is_some() {
                    // Orquesta would drop the `input` map without a word.
                    self.error(
                        ErrorKind::Validation,
                        &base.key("input"),
                        "the task has an `input` map and inline parameters after its `action` name: \
                         keep one (move the inline parameters into `input`, or the other way round)",
                    );
                }
                input
            }
            (None, Some(TaskInput::Map(m))) => {
                let v = Value::Object(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                self.value(&v, &base.key("input"))
            }
            // Checked for a map when rendered (see the runtime's dispatch).
            (None, Some(TaskInput::Expr(e))) => {
                self.value(&Value::String(e.clone()), &base.key("input"))
            }
            (None, None) => Some(ValueTemplate::Static(Value::Object(Map::new()))),
        }
    }

    /// Checks the keys a task gives its action (`input` map or inline
    /// parameters) against the fields the action declares.
    fn input_keys(
        &mut self,
        action: &str,
        fields: &[InputField],
        inline: Option<(&str, usize)>,
        map: Option<&indexmap::IndexMap<String, Value>>,
        base: &str,
    ) {
        let names = || fields.iter().map(|f| f.name.as_str());
        let takes = || {
            if fields.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes {}", names().collect::<Vec<_>>().join(", "))
            }
        };
        let mut given: Vec<&str> = Vec::new();
        // Fields offered for a misspelt key: not reported missing as well.
        let mut suggested: Vec<&str> = Vec::new();
        let pairs;
        match (inline, map) {
            (Some((text, from)), _) => {
                // Unreadable parameters are reported by `inline_input`,
                // and their keys are not known.
                let Ok(read) = crate::inline::parse(&text[from..]) else {
                    return;
                };
                pairs = read;
                let path = format!("{base}.action");
                for p in &pairs {
                    given.push(&p.name);
                    if let Some(f) = fields.iter().find(|f| f.name == p.name) {
                        if f.immutable && !self.full() {
                            self.error_in_scalar(
                                ErrorKind::Validation,
                                &path,
                                text,
                                from + p.at,
                                immutable_message(action, &p.name),
                            );
                        }
                        continue;
                    }
                    if self.full() {
                        self.omit();
                        continue;
                    }
                    let hint = match closest_field(&mut self.suggester, &p.name, fields) {
                        Some(s) => {
                            suggested.push(s);
                            format!("did you mean `{s}`?")
                        }
                        None => takes(),
                    };
                    self.error_in_scalar(
                        ErrorKind::Validation,
                        &path,
                        text,
                        from + p.at,
                        format!("`{action}` has no input `{}`: {hint}", p.name),
                    );
                }
            }
            (None, Some(m)) => {
                for key in m.keys() {
                    given.push(key);
                    if let Some(f) = fields.iter().find(|f| &f.name == key) {
                        if f.immutable && !self.full() {
                            let path = join_key(&format!("{base}.input"), key);
                            self.error(
                                ErrorKind::Validation,
                                &path,
                                immutable_message(action, key),
                            );
                        }
                        continue;
                    }
                    if self.full() {
                        self.omit();
                        continue;
                    }
                    let hint = match closest_field(&mut self.suggester, key, fields) {
                        Some(s) => {
                            suggested.push(s);
                            format!("did you mean `{s}`?")
                        }
                        None => takes(),
                    };
                    let path = join_key(&format!("{base}.input"), key);
                    self.error(
                        ErrorKind::Validation,
                        &path,
                        format!("`{action}` has no input `{key}`: {hint}"),
                    );
                }
            }
            (None, None) => {}
        }
        for f in fields {
            let name = f.name.as_str();
            if f.required && !given.contains(&name) && !suggested.contains(&name) {
                let path = match (inline, map) {
                    (Some(_), _) => format!("{base}.action"),
                    (None, Some(_)) => format!("{base}.input"),
                    (None, None) => base.to_owned(),
                };
                self.error(
                    ErrorKind::Validation,
                    &path,
                    format!(
                        "`{action}` needs input `{}`: add it to the task's `input`",
                        f.name
                    ),
                );
            }
        }
    }
}

/// The declared field a misspelt key most likely means: the closest by
/// edit distance, or else the one field that is an abbreviation of the key
/// or the key of it (`command` for `cmd`), with the same first letter.
fn closest_field<'f>(
    suggester: &mut Suggester,
    key: &str,
    fields: &'f [InputField],
) -> Option<&'f str> {
    if let Some(s) = suggester.suggest(key, fields.iter().map(|f| f.name.as_str())) {
        return Some(s);
    }
    let subsequence = |short: &str, long: &str| {
        let mut long = long.chars();
        short.chars().all(|c| long.any(|l| l == c))
    };
    let mut found = fields.iter().map(|f| f.name.as_str()).filter(|f| {
        f.chars().next() == key.chars().next()
            && f.len().min(key.len()) >= 2
            && (subsequence(f, key) || subsequence(key, f))
    });
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}
