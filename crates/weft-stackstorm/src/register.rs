//! Putting packs' actions on an executor.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use weft_core::{Error, ErrorKind, Plan, Workflow};
use weft_runtime::ExecutorBuilder;

use crate::context::St2Context;
use crate::error::{PackError, PackErrorKind};
use crate::pack::{ActionMeta, Pack};
use crate::runners::{OrquestaAdapter, PackAction, PackShared, Runner, Runtime, Shim};

/// Several packs, loaded together: their actions may use one another's,
/// whatever the order they were loaded in.
///
/// # Examples
///
/// ```no_run
/// use weft_runtime::Executor;
/// use weft_stackstorm::{PackExt, Packs};
///
/// let packs = Packs::new()
///     .configs_dir("/opt/stackstorm/configs")
///     .load("packs/core")?
///     .load("packs/examples")?;
/// let executor = Executor::builder().packs(&packs).build();
/// # Ok::<(), weft_stackstorm::PackError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Packs {
    packs: Vec<Pack>,
    configs_dir: Option<PathBuf>,
    python: OsString,
}

impl Default for Packs {
    fn default() -> Self {
        Packs::new()
    }
}

impl Packs {
    /// No packs yet; configs from each pack's `config.yaml`; Python actions
    /// run with `python3`.
    pub fn new() -> Packs {
        Packs {
            packs: Vec::new(),
            configs_dir: None,
            python: OsString::from("python3"),
        }
    }

    /// Packs loaded after this take their config from `DIR/REF.yaml` when
    /// it exists (StackStorm keeps configs in `/opt/stackstorm/configs/`),
    /// else from their own `config.yaml`.
    #[must_use]
    pub fn configs_dir(mut self, dir: impl Into<PathBuf>) -> Packs {
        self.configs_dir = Some(dir.into());
        self
    }

    /// The Python interpreter that runs `python-script` actions (a name
    /// found through `PATH`, or a path); `python3` unless set.
    #[must_use]
    pub fn python(mut self, program: impl Into<OsString>) -> Packs {
        self.python = program.into();
        self
    }

    /// Loads the pack in `dir` (see [`Pack::load`]) and adds it.
    ///
    /// # Errors
    ///
    /// The pack does not load, or a pack with the same reference was
    /// loaded already.
    pub fn load(mut self, dir: impl AsRef<Path>) -> Result<Packs, PackError> {
        let pack = Pack::load_with(dir.as_ref(), self.configs_dir.as_deref())?;
        if let Some(other) = self.packs.iter().find(|p| p.reference == pack.reference) {
            return Err(PackError::at(
                PackErrorKind::Duplicate,
                &Arc::new(pack.dir.join("pack.yaml")),
                None,
                format!(
                    "pack `{}` is loaded twice: from {} and from {}",
                    pack.reference,
                    other.dir.display(),
                    pack.dir.display()
                ),
            ));
        }
        self.packs.push(pack);
        Ok(self)
    }

    /// The packs, in the order loaded.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Every action of every pack.
    pub fn actions(&self) -> impl Iterator<Item = &ActionMeta> {
        self.packs.iter().flat_map(Pack::actions)
    }

    /// The action `PACK.NAME`.
    pub fn action(&self, reference: &str) -> Option<&ActionMeta> {
        self.actions().find(|a| a.reference == reference)
    }

    /// Registers every action of every pack on `builder` as `PACK.NAME`,
    /// replacing an action of the same name (so a `core` pack's actions
    /// replace weft's built-in `core.*` ones).
    ///
    /// An `orquesta` action's workflow is compiled against `builder` with
    /// all the packs' actions on it, and registered as a sub-workflow. A
    /// workflow that does not compile (or that uses an action that cannot
    /// be used) does not stop the others: its action is registered as
    /// unavailable, and compiling a workflow that uses it reports why.
    pub fn register(&self, mut builder: ExecutorBuilder) -> ExecutorBuilder {
        let runtime = Arc::new(Runtime {
            python: self.python.clone(),
            shim: Shim::default(),
        });
        struct Pending {
            action: PackAction,
            workflow: Result<Workflow, String>,
            plan: Option<Plan>,
        }
        let mut pending: Vec<Pending> = Vec::new();
        for pack in &self.packs {
            let shared = Arc::new(PackShared {
                reference: pack.reference.clone(),
                dir: pack.dir.clone(),
                config: pack.config.clone(),
                config_secrets: pack.config_secrets.clone(),
            });
            for meta in &pack.actions {
                let action = PackAction {
                    meta: meta.clone(),
                    pack: shared.clone(),
                    runtime: runtime.clone(),
                    problem: None,
                };
                builder = builder.register(meta.reference.clone(), Arc::new(action.clone()));
                if meta.runner == Runner::Orquesta && meta.problem.is_none() {
                    let workflow = match &meta.entry_point {
                        Some(path) => Workflow::from_file(path)
                            .map(|w| w.with_name(meta.reference.clone()))
                            .map_err(|e| e.to_string()),
                        None => Err("the action has no entry point".to_owned()),
                    };
                    pending.push(Pending {
                        action,
                        workflow,
                        plan: None,
                    });
                }
            }
        }
        // Until nothing changes: a workflow that uses one that turned out
        // unusable is unusable too, and says which.
        let mut broken: HashMap<usize, String> = HashMap::new();
        loop {
            let mut changed = false;
            for (i, p) in pending.iter_mut().enumerate() {
                if broken.contains_key(&i) {
                    continue;
                }
                let compiled = match &p.workflow {
                    Ok(w) => w.compile(&builder).map_err(|e| e.to_string()),
                    Err(e) => Err(e.clone()),
                };
                match compiled {
                    Ok(plan) => p.plan = Some(plan),
                    Err(e) => {
                        let file = p
                            .action
                            .meta
                            .entry_point
                            .as_deref()
                            .map(|f| format!(" ({})", f.display()))
                            .unwrap_or_default();
                        let reason = format!("its workflow{file} does not compile: {e}");
                        let mut unusable = p.action.clone();
                        unusable.problem = Some(Arc::from(reason.as_str()));
                        builder =
                            builder.register(unusable.meta.reference.clone(), Arc::new(unusable));
                        broken.insert(i, reason);
                        p.plan = None;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for (i, p) in pending.into_iter().enumerate() {
            if broken.contains_key(&i) {
                continue;
            }
            if let Some(plan) = p.plan {
                let adapter =
                    OrquestaAdapter::new(p.action.meta.clone(), p.action.pack.clone(), &plan);
                builder = builder.workflow_adapted(
                    p.action.meta.reference.clone(),
                    plan,
                    Arc::new(adapter),
                );
            }
        }
        builder
    }

    /// A workflow of one task that runs the action `reference` with the
    /// run's inputs `keys` as its parameters; its output `result` is the
    /// action's result. What `weft run --pack DIR PACK.ACTION` runs.
    ///
    /// # Errors
    ///
    /// No such action, a key that is none of its parameters (with the
    /// closest one), one it sets itself (immutable), or a required
    /// parameter left out; [`ErrorKind::Input`], naming the parameter.
    pub fn action_workflow(&self, reference: &str, keys: &[&str]) -> Result<Workflow, Error> {
        let Some(meta) = self.action(reference) else {
            let names: Vec<&str> = self.actions().map(|a| a.reference.as_str()).collect();
            let hint = match crate::suggest(reference, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "the packs loaded have no such action".to_owned(),
            };
            return Err(Error::new(
                ErrorKind::Input,
                format!("unknown action `{reference}`: {hint}"),
            ));
        };
        let params = meta.parameters();
        let mut errors = Vec::new();
        for key in keys {
            match params.iter().find(|p| p.name() == *key) {
                None => {
                    let hint = match crate::suggest(key, params.iter().map(|p| p.name())) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "it takes {}",
                            params.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    errors.push(
                        Error::new(
                            ErrorKind::Input,
                            format!("`{reference}` has no parameter `{key}`: {hint}"),
                        )
                        .with_field(format!("input.{key}")),
                    );
                }
                Some(p) if p.immutable() => errors.push(
                    Error::new(
                        ErrorKind::Input,
                        format!("`{reference}` sets its parameter `{key}` itself (it is immutable): leave it out"),
                    )
                    .with_field(format!("input.{key}")),
                ),
                Some(_) => {}
            }
        }
        for p in params.iter().filter(|p| p.required() && !p.immutable()) {
            if !keys.contains(&p.name()) {
                errors.push(
                    Error::new(
                        ErrorKind::Input,
                        format!(
                            "`{reference}` needs parameter `{}`: give it a value",
                            p.name()
                        ),
                    )
                    .with_field(format!("input.{}", p.name())),
                );
            }
        }
        if let Some(e) = Error::combine(errors) {
            return Err(e);
        }
        let task: String = meta
            .name()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let input: Map<String, Value> = keys
            .iter()
            .map(|k| ((*k).to_owned(), json!(format!("{{{{ parameters.{k} }}}}"))))
            .collect();
        let text = json!({
            "version": 1.0,
            "description": format!("runs the action {reference}"),
            "input": keys,
            "tasks": {task.clone(): {"action": reference, "input": input}},
            "output": [{"result": format!("{{{{ task.{task} }}}}")}],
        });
        Workflow::from_json_str(&text.to_string()).map(|w| w.with_name(reference.to_owned()))
    }
}

/// Adds packs to an [`ExecutorBuilder`]: `Executor::builder().pack(dir)?`.
pub trait PackExt: Sized {
    /// Loads the pack in `dir` and registers its actions (see
    /// [`Packs::register`]). A pack's workflows may use the actions of
    /// packs registered before it; to load packs that use one another's
    /// actions, load them into one [`Packs`] and call [`PackExt::packs`].
    ///
    /// # Errors
    ///
    /// The pack does not load (see [`Pack::load`]).
    fn pack(self, dir: impl AsRef<Path>) -> Result<ExecutorBuilder, PackError>;

    /// Registers the actions of `packs` (see [`Packs::register`]).
    fn packs(self, packs: &Packs) -> ExecutorBuilder;

    /// Gives every run StackStorm's context, `ctx().st2` (see
    /// [`St2Context::value`]). Expressions know the name once
    /// [`install_functions`](crate::install_functions) has run.
    fn st2_context(self, context: St2Context) -> ExecutorBuilder;
}

impl PackExt for ExecutorBuilder {
    fn pack(self, dir: impl AsRef<Path>) -> Result<ExecutorBuilder, PackError> {
        Ok(Packs::new().load(dir)?.register(self))
    }

    fn packs(self, packs: &Packs) -> ExecutorBuilder {
        packs.register(self)
    }

    fn st2_context(self, context: St2Context) -> ExecutorBuilder {
        self.run_context("st2", move |run| context.value(run))
    }
}
