//! `--pack DIR`: StackStorm packs as actions, for the commands that run or
//! check workflows; `weft run --pack DIR PACK.ACTION` runs one action;
//! `weft actions --pack DIR` lists the packs' actions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use weft_core::{ActionCatalog, Plan};
use weft_runtime::{Executor, ExecutorBuilder};
use weft_stackstorm::{ActionMeta, PackExt, Packs, ParamType, Parameter, St2Context};

use crate::{inputs, report, Exit};

/// `--pack` and `--pack-configs`.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct PackArgs {
    /// A StackStorm pack directory (pack.yaml, actions/*.yaml): its actions
    /// are PACK.NAME, replacing built-ins of the same name. Repeat for more
    /// packs; they may use one another's actions. Python actions run with
    /// python3, or the interpreter named by WEFT_PYTHON.
    #[arg(long = "pack", value_name = "DIR")]
    pub(crate) packs: Vec<PathBuf>,
    /// The directory of the packs' configs: DIR/PACK.yaml, as StackStorm's
    /// /opt/stackstorm/configs (else each pack's own config.yaml).
    #[arg(long, value_name = "DIR", requires = "packs")]
    pub(crate) pack_configs: Option<PathBuf>,
    /// The API URL workflows read as `ctx().st2.api_url` (StackStorm's
    /// public API URL); null unless given.
    #[arg(long, value_name = "URL")]
    pub(crate) st2_api_url: Option<String>,
    /// The user workflows read as `ctx().st2.user`.
    #[arg(long, value_name = "USER", default_value = "stanley")]
    pub(crate) st2_user: String,
}

impl PackArgs {
    /// The packs named, loaded; `None` when none are.
    pub(crate) fn load(&self) -> Result<Option<Packs>, Vec<String>> {
        if self.packs.is_empty() {
            return Ok(None);
        }
        let mut packs = Packs::new();
        if let Some(dir) = &self.pack_configs {
            packs = packs.configs_dir(dir);
        }
        if let Some(python) = std::env::var_os("WEFT_PYTHON").filter(|p| !p.is_empty()) {
            packs = packs.python(python);
        }
        for dir in &self.packs {
            packs = packs
                .load(dir)
                .map_err(|e| e.all().map(|e| e.line_text()).collect::<Vec<_>>())?;
        }
        Ok(Some(packs))
    }

    /// `ctx().st2` as the flags set it.
    pub(crate) fn st2_context(&self) -> St2Context {
        let context = St2Context::new().user(self.st2_user.clone());
        match &self.st2_api_url {
            Some(url) => context.api_url(url.clone()),
            None => context,
        }
    }
}

/// [`builder`] with `--secret-key` applied, for a command on a store; a
/// problem is printed, and is the command's exit.
pub(crate) fn builder_with_secret(
    workflows: Option<&Path>,
    packs: &PackArgs,
    secret: &crate::secret_key::SecretKeyArgs,
) -> Result<ExecutorBuilder, Exit> {
    let builder = builder(workflows, packs).map_err(|lines| {
        for line in lines {
            eprintln!("{line}");
        }
        Exit::Invalid
    })?;
    secret.apply(builder).map_err(Exit::invalid)
}

/// The executor of a command: the built-in actions, the packs' actions,
/// then the workflows of `--workflows` (which may use them).
pub(crate) fn builder(
    workflows: Option<&Path>,
    packs: &PackArgs,
) -> Result<ExecutorBuilder, Vec<String>> {
    let start = Executor::builder().st2_context(packs.st2_context());
    let start = match packs.load()? {
        Some(packs) => start.packs(&packs),
        None => start,
    };
    report::executor_builder_on(start, workflows)
}

/// For `weft run --pack DIR PACK.ACTION`: when `file` is no file but names
/// an action of the packs, a workflow that runs it once, and its inputs
/// (`-i NAME=VALUE` is text for a string parameter, else read as
/// `weft run` reads values; the action casts them as StackStorm does).
/// `None` when `file` is to be read as a workflow file.
pub(crate) fn action_plan(
    packs: &PackArgs,
    file: &Path,
    inputs_file: Option<&Path>,
    input: &[(String, String)],
    executor: &Executor,
) -> Option<Result<(Plan, Value), Exit>> {
    if packs.packs.is_empty() || file.exists() {
        return None;
    }
    let reference = file.to_str()?;
    let loaded = match packs.load() {
        Ok(Some(p)) => p,
        Ok(None) => return None,
        Err(lines) => return Some(Err(print(lines))),
    };
    let meta = loaded.action(reference)?;
    Some(plan_for(&loaded, meta, inputs_file, input, executor))
}

fn plan_for(
    packs: &Packs,
    meta: &ActionMeta,
    inputs_file: Option<&Path>,
    input: &[(String, String)],
    executor: &Executor,
) -> Result<(Plan, Value), Exit> {
    let mut values = match inputs_file {
        Some(path) => inputs::read_file(path).map_err(|e| print(vec![e.to_string()]))?,
        None => Map::new(),
    };
    for (name, text) in input {
        let textual = meta
            .parameters()
            .iter()
            .find(|p| p.name() == name)
            .is_some_and(|p| matches!(p.kind(), Some(ParamType::String) | None));
        let value = if textual {
            Value::String(text.clone())
        } else {
            inputs::value_of(name, text, None).map_err(|e| print(vec![e]))?
        };
        values.insert(name.clone(), value);
    }
    let keys: Vec<&str> = values.keys().map(String::as_str).collect();
    let plan = packs
        .action_workflow(meta.reference(), &keys)
        .and_then(|w| w.compile(executor))
        .map_err(|e| print(lines_of(&e, meta.reference())))?;
    Ok((plan, Value::Object(values)))
}

/// One line per error, named after the action: the workflow that runs it
/// is made here, and a line and column in it would mean nothing.
fn lines_of(error: &weft_core::Error, reference: &str) -> Vec<String> {
    let file = Some(std::sync::Arc::new(PathBuf::from(reference)));
    error
        .all()
        .map(|e| {
            let mut one = weft_core::Error::new(e.kind(), e.message())
                .with_location(weft_core::Location::new(file.clone(), None, None));
            if let Some(field) = e.field() {
                one = one.with_field(field);
            }
            one.to_string()
        })
        .collect()
}

fn print(lines: Vec<String>) -> Exit {
    for line in lines {
        eprintln!("{line}");
    }
    Exit::Invalid
}

/// `weft actions --pack DIR`: every action of the packs, its runner, file,
/// parameters, and why it cannot be used when it cannot.
pub(crate) fn actions(args: &PackArgs) -> Exit {
    let packs = match args.load() {
        Ok(Some(p)) => p,
        Ok(None) => return Exit::Ok,
        Err(lines) => return print(lines),
    };
    let executor = Executor::builder().packs(&packs).build();
    print!("{}", render(&packs, &executor));
    Exit::Ok
}

fn render(packs: &Packs, executor: &Executor) -> String {
    let mut s = String::new();
    for (i, a) in packs.actions().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "{}  {}",
            a.reference(),
            a.description().unwrap_or("(no description)")
        );
        let _ = writeln!(s, "  runner: {}  ({})", a.runner(), a.file().display());
        if let Some(why) = executor.unavailable(a.reference()) {
            let _ = writeln!(s, "  cannot be used: {why}");
        }
        let params = a.parameters();
        if params.is_empty() {
            let _ = writeln!(s, "  parameters: (none)");
            continue;
        }
        let _ = writeln!(s, "  parameters:");
        let name_w = params.iter().map(|p| p.name().len()).max().unwrap_or(0);
        let kind_w = params.iter().map(|p| kind(p).len()).max().unwrap_or(0);
        for p in params {
            let _ = writeln!(
                s,
                "    {:name_w$}  {:kind_w$}  {}",
                p.name(),
                kind(p),
                describe(p)
            );
        }
    }
    s
}

/// The parameter's type, `any` when it declares none.
fn kind(p: &Parameter) -> &'static str {
    p.kind().map_or("any", ParamType::name)
}

/// `required  secret  default "x"  one of ...  position 0  (runner)`, then
/// the description.
fn describe(p: &Parameter) -> String {
    let mut parts: Vec<String> = Vec::new();
    if p.required() {
        parts.push("required".into());
    } else if p.immutable() {
        parts.push("immutable".into());
    } else {
        parts.push("optional".into());
    }
    if p.secret() {
        parts.push("secret".into());
    }
    if let Some(d) = p.default() {
        parts.push(format!("default {d}"));
    }
    if let Some(values) = p.enumeration() {
        let list: Vec<String> = values.iter().map(Value::to_string).collect();
        parts.push(format!("one of {}", list.join(", ")));
    }
    if let Some(at) = p.position() {
        parts.push(format!("position {at}"));
    }
    if p.is_runner_parameter() {
        parts.push("(runner)".into());
    }
    let mut line = parts.join("  ");
    if let Some(d) = p.description() {
        line.push_str("  ");
        line.push_str(d);
    }
    line
}
