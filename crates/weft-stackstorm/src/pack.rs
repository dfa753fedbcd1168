//! Loading a pack: `pack.yaml`, its config, and every action metadata file
//! in `actions/`.
//!
//! Everything wrong with the metadata is reported at once, each mistake
//! located; what only matters when an action runs (a runner weft does not
//! have, a disabled action) is kept with the action, and compiling a
//! workflow that uses it says why it cannot be used.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use weft_core::Location;

use crate::error::{PackError, PackErrorKind};
use crate::params::{self, Parameter};
use crate::runners::kind::Runner;
use crate::yaml::{self, Node, Yaml};

/// The keys of an action metadata file (StackStorm's `ActionAPI` schema).
const ACTION_KEYS: &[&str] = &[
    "id",
    "ref",
    "uid",
    "name",
    "description",
    "enabled",
    "runner_type",
    "entry_point",
    "pack",
    "parameters",
    "output_schema",
    "tags",
    "notify",
    "metadata_file",
];

/// A loaded pack: its reference, config and actions.
#[derive(Clone, Debug)]
pub struct Pack {
    pub(crate) reference: String,
    pub(crate) dir: PathBuf,
    pub(crate) description: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) config: Value,
    pub(crate) config_file: Option<PathBuf>,
    /// Values of the config that its schema declares secret.
    pub(crate) config_secrets: Vec<Value>,
    pub(crate) actions: Vec<Arc<ActionMeta>>,
}

/// One action of a pack, from its metadata file.
#[derive(Clone, Debug)]
pub struct ActionMeta {
    pub(crate) reference: String,
    pub(crate) name: String,
    /// Where `name` is written.
    pub(crate) name_at: (u32, u32),
    pub(crate) file: Arc<PathBuf>,
    pub(crate) description: Option<String>,
    pub(crate) runner: Runner,
    pub(crate) entry_point: Option<PathBuf>,
    pub(crate) enabled: bool,
    pub(crate) params: Vec<Parameter>,
    /// Why it cannot be used, when it cannot (known when loading).
    pub(crate) problem: Option<String>,
}

impl ActionMeta {
    /// `PACK.NAME`, the name tasks use.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The action's name within its pack.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The metadata file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// What it does.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Its `runner_type`, as written.
    pub fn runner(&self) -> &str {
        self.runner.name()
    }

    /// Its entry point, resolved within the pack.
    pub fn entry_point(&self) -> Option<&Path> {
        self.entry_point.as_deref()
    }

    /// Whether it is enabled.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Its parameters: the action's, then those of its runner it does not
    /// mention.
    pub fn parameters(&self) -> &[Parameter] {
        &self.params
    }

    /// Why a workflow cannot use it, if it cannot: a runner weft does not
    /// have, a disabled action. Loading still succeeds; compiling a task
    /// that uses it fails with this reason.
    pub fn unavailable(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

impl Pack {
    /// Loads the pack in `dir`, with its config from `dir/config.yaml` if
    /// there is one. See [`Packs`](crate::Packs) to load several packs, or
    /// to take configs from StackStorm's `configs/` directory.
    ///
    /// # Errors
    ///
    /// `pack.yaml` or an action file cannot be read, is not YAML, or is not
    /// valid metadata (an unknown key, a wrong type, an entry point that is
    /// missing or outside the pack, two actions of one name). Every mistake
    /// found is reported, each with its file, line and column.
    pub fn load(dir: impl AsRef<Path>) -> Result<Pack, PackError> {
        Pack::load_with(dir.as_ref(), None)
    }

    pub(crate) fn load_with(dir: &Path, configs_dir: Option<&Path>) -> Result<Pack, PackError> {
        let dir = dir
            .canonicalize()
            .map_err(|e| PackError::io(dir, "the pack directory", &e))?;
        let (manifest, root) = yaml::read_file(&dir.join("pack.yaml"), "pack.yaml")?;
        let reference = reference(&dir, &manifest, &root)?;
        let text = |key: &str| root.get(key).and_then(scalar_text);
        let description = text("description");
        let version = text("version");

        let (config, config_file, config_secrets) = config(&dir, &reference, configs_dir)?;

        let mut errors = Vec::new();
        let mut actions: Vec<Arc<ActionMeta>> = Vec::new();
        for file in action_files(&dir)? {
            match read_action(&dir, &reference, &file, &mut errors) {
                Some(meta) => {
                    if let Some(first) = actions.iter().find(|a| a.name == meta.name) {
                        errors.push(
                            PackError::at(
                                PackErrorKind::Duplicate,
                                &meta.file,
                                Some(meta.name_at),
                                format!(
                                    "a second action named `{}` in pack `{reference}` (the first is in {}): rename one",
                                    meta.name,
                                    first.file.display()
                                ),
                            )
                            .with_field("name"),
                        );
                    } else {
                        actions.push(Arc::new(meta));
                    }
                }
                None => continue,
            }
        }
        if let Some(e) = PackError::combine(errors) {
            return Err(e);
        }
        Ok(Pack {
            reference,
            dir,
            description,
            version,
            config,
            config_file,
            config_secrets,
            actions,
        })
    }

    /// The pack's reference: `ref` from `pack.yaml`, else the directory's
    /// name, else `name` (StackStorm's rule).
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The pack's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `description` from `pack.yaml`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// `version` from `pack.yaml`.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The pack's config (its schema's defaults applied), `{}` when it has
    /// none.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The file the config was read from, if any.
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// Every action whose metadata loaded, enabled or not, in file order.
    pub fn actions(&self) -> impl Iterator<Item = &ActionMeta> {
        self.actions.iter().map(|a| &**a)
    }

    /// The action named `name` in this pack.
    pub fn action(&self, name: &str) -> Option<&ActionMeta> {
        self.actions().find(|a| a.name == name)
    }
}

/// A string, number or boolean written as text.
fn scalar_text(n: &Node) -> Option<String> {
    match &n.value {
        Yaml::Str(s) => Some(s.clone()),
        Yaml::Int(i) => Some(i.to_string()),
        Yaml::Float(f) => Some(f.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn valid_reference(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// StackStorm's `get_pack_ref_from_metadata`, with the directory's name as
/// `st2 pack register` gives it.
fn reference(dir: &Path, file: &Arc<PathBuf>, root: &Node) -> Result<String, PackError> {
    let err = |pos: Option<(u32, u32)>, field: &str, message: String| {
        PackError::at(PackErrorKind::Metadata, file, pos, message).with_field(field)
    };
    if !matches!(root.value, Yaml::Map(_)) {
        return Err(err(
            Some(root.pos),
            "pack.yaml",
            format!(
                "pack.yaml must be a map (`name`, `ref`, `version`, ...), not {}",
                root.type_name()
            ),
        ));
    }
    let name = match root.get("name") {
        Some(n) => match scalar_text(n) {
            Some(s) => s,
            None => {
                return Err(err(
                    Some(n.pos),
                    "name",
                    format!("`name` must be text, not {}", n.type_name()),
                ))
            }
        },
        None => {
            return Err(err(
                Some(root.pos),
                "name",
                "pack.yaml has no `name`: add one (lowercase letters, digits and `_`)".to_owned(),
            ))
        }
    };
    let chosen = if let Some(r) = root.get("ref") {
        match &r.value {
            Yaml::Null => None,
            _ => match scalar_text(r) {
                Some(s) if valid_reference(&s) => Some(s),
                _ => {
                    return Err(err(
                        Some(r.pos),
                        "ref",
                        "`ref` may hold only lowercase letters, digits and `_`".to_owned(),
                    ))
                }
            },
        }
    } else {
        None
    };
    let from_dir = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| valid_reference(n))
        .map(str::to_owned);
    let reference = match chosen.or(from_dir) {
        Some(r) => r,
        None if valid_reference(&name) => name,
        None => {
            return Err(err(
                root.get("name").map(|n| n.pos),
                "name",
                format!(
                    "the pack needs a reference: `name` (`{name}`) is not one (lowercase letters, digits and `_` only), nor is the directory's name; add `ref`"
                ),
            ))
        }
    };
    if reference == "_global" {
        return Err(err(
            root.get("ref").or(root.get("name")).map(|n| n.pos),
            "ref",
            "`_global` is reserved: choose another reference".to_owned(),
        ));
    }
    Ok(reference)
}

/// The pack's config: `CONFIGS/REF.yaml` when a configs directory is
/// given and has it, else `PACK/config.yaml`; the defaults of
/// `config.schema.yaml` fill what it leaves out.
fn config(
    dir: &Path,
    reference: &str,
    configs_dir: Option<&Path>,
) -> Result<(Value, Option<PathBuf>, Vec<Value>), PackError> {
    let candidates = configs_dir
        .map(|c| c.join(format!("{reference}.yaml")))
        .into_iter()
        .chain(std::iter::once(dir.join("config.yaml")));
    let mut config = Value::Object(Map::new());
    let mut from = None;
    for path in candidates {
        if path.is_file() {
            let (file, node) = yaml::read_file(&path, "pack config")?;
            match node.to_json() {
                Value::Object(m) => config = Value::Object(m),
                Value::Null => {}
                other => {
                    return Err(PackError::at(
                        PackErrorKind::Config,
                        &file,
                        Some(node.pos),
                        format!(
                            "a pack config must be a map, not {}",
                            weft_core::engine::json_type_name(&other)
                        ),
                    ))
                }
            }
            check_no_datastore(&config, &file, &node)?;
            from = Some(path);
            break;
        }
    }
    let mut secrets = Vec::new();
    let schema_path = dir.join("config.schema.yaml");
    if schema_path.is_file() {
        let (_, schema) = yaml::read_file(&schema_path, "config schema")?;
        if let (Value::Object(schema), Value::Object(values)) = (schema.to_json(), &mut config) {
            apply_schema(&schema, values, &mut secrets);
        }
    }
    Ok((config, from, secrets))
}

/// Refuses a config value that reads the datastore: weft has none yet, and
/// passing the template's text on as the value would be wrong silently.
fn check_no_datastore(config: &Value, file: &Arc<PathBuf>, node: &Node) -> Result<(), PackError> {
    fn find(v: &Value, path: &mut Vec<String>) -> bool {
        match v {
            Value::String(s) => s.contains("st2kv"),
            Value::Array(items) => items.iter().enumerate().any(|(i, x)| {
                path.push(i.to_string());
                let found = find(x, path);
                if !found {
                    path.pop();
                }
                found
            }),
            Value::Object(m) => m.iter().any(|(k, x)| {
                path.push(k.clone());
                let found = find(x, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = Vec::new();
    if find(config, &mut path) {
        let mut at = node;
        for p in &path {
            match at.get(p) {
                Some(n) => at = n,
                None => break,
            }
        }
        return Err(PackError::at(
            PackErrorKind::Config,
            file,
            Some(at.pos),
            format!(
                "config value `{}` reads the datastore (`st2kv`): weft reads a pack's config once, when it loads the pack, not per run against the datastore; write the value itself (parameter defaults may read the datastore)",
                path.join(".")
            ),
        ));
    }
    Ok(())
}

/// Fills defaults from a config schema (StackStorm's
/// `assign_default_values`, nested objects included) and collects the
/// values of `secret: true` items.
fn apply_schema(
    schema: &Map<String, Value>,
    values: &mut Map<String, Value>,
    secrets: &mut Vec<Value>,
) {
    for (name, item) in schema {
        let Value::Object(item) = item else { continue };
        if let Some(default) = item.get("default") {
            if values.get(name).is_none_or(Value::is_null) {
                values.insert(name.clone(), default.clone());
            }
        }
        if let (Some(Value::Object(props)), Some(Value::Object(inner))) =
            (item.get("properties"), values.get_mut(name))
        {
            apply_schema(props, inner, secrets);
        }
        if item.get("secret") == Some(&Value::Bool(true)) {
            if let Some(v) = values.get(name).filter(|v| !v.is_null()) {
                secrets.push(v.clone());
            }
        }
    }
}

/// `actions/*.yaml`, `*.yml` and `*.json`, sorted by name.
fn action_files(dir: &Path) -> Result<Vec<PathBuf>, PackError> {
    let actions = dir.join("actions");
    let entries = match std::fs::read_dir(&actions) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PackError::io(&actions, "the actions directory", &e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PackError::io(&actions, "the actions directory", &e))?;
        let path = entry.path();
        let meta = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if meta && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One action metadata file; `None` (with `errors`) when it is not valid.
fn read_action(
    dir: &Path,
    pack: &str,
    path: &Path,
    errors: &mut Vec<PackError>,
) -> Option<ActionMeta> {
    let before = errors.len();
    let (file, root) = match yaml::read_file(path, "action metadata") {
        Ok(x) => x,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let err = |pos: (u32, u32), field: &str, message: String| {
        PackError::at(PackErrorKind::Metadata, &file, Some(pos), message).with_field(field)
    };
    let Yaml::Map(entries) = &root.value else {
        errors.push(err(
            root.pos,
            "",
            format!(
                "action metadata must be a map (`name`, `runner_type`, ...), not {}",
                root.type_name()
            ),
        ));
        return None;
    };
    for (key, at, _) in entries {
        if !ACTION_KEYS.contains(&key.as_str()) {
            let hint = match crate::suggest(key, ACTION_KEYS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the keys are {}", ACTION_KEYS.join(", ")),
            };
            errors.push(err(*at, key, format!("unknown key `{key}`: {hint}")));
        }
    }
    let string = |key: &str, errors: &mut Vec<PackError>| -> Option<(String, (u32, u32))> {
        let n = root.get(key)?;
        match &n.value {
            Yaml::Str(s) => Some((s.clone(), n.pos)),
            Yaml::Null => None,
            _ => {
                errors.push(err(
                    n.pos,
                    key,
                    format!("`{key}` must be text, not {}", n.type_name()),
                ));
                None
            }
        }
    };
    let name = string("name", errors);
    let runner = string("runner_type", errors);
    let description = string("description", errors).map(|d| d.0);
    let entry = string("entry_point", errors);
    let pack_field = string("pack", errors);
    let enabled = match root.get("enabled").map(|n| (&n.value, n.pos)) {
        None | Some((Yaml::Null, _)) => true,
        Some((Yaml::Bool(b), _)) => *b,
        Some((_, pos)) => {
            errors.push(err(
                pos,
                "enabled",
                "`enabled` must be true or false".to_owned(),
            ));
            true
        }
    };
    let Some((name, name_at)) = name else {
        if root.get("name").is_none() {
            errors.push(err(
                root.pos,
                "name",
                "the action has no `name`: add one".to_owned(),
            ));
        }
        return None;
    };
    if name.is_empty() || name.contains('.') || name.contains(char::is_whitespace) {
        errors.push(err(
            root.get("name").map_or(root.pos, |n| n.pos),
            "name",
            format!("`{name}` is not an action name: no dots, spaces or empty names"),
        ));
    }
    if let Some((p, at)) = &pack_field {
        if p != pack {
            errors.push(err(
                *at,
                "pack",
                format!("`pack: {p}` but the action is in pack `{pack}`: remove `pack` or make it `{pack}`"),
            ));
        }
    }
    let Some((runner_name, runner_at)) = runner else {
        if root.get("runner_type").is_none() {
            errors.push(err(root.pos, "runner_type", "the action has no `runner_type`: add one (orquesta, local-shell-cmd, local-shell-script, python-script, http-request, noop)".to_owned()));
        }
        return None;
    };
    let runner = Runner::parse(&runner_name);
    let reference = format!("{pack}.{name}");

    // Parameters, merged over the runner's.
    let declared = match root.get("parameters") {
        Some(n) => params::read_raw(n, &file, "parameters", errors),
        None => Vec::new(),
    };
    let runner_file = Location::new(None, None, None);
    let params = match runner.parameters() {
        Some(base) => params::merge(&reference, base, &runner_file, declared, &file, errors),
        // A runner weft does not have: its parameters are unknown, and
        // the action is unavailable anyway.
        None => params::merge(&reference, &[], &runner_file, declared, &file, errors),
    };

    // The entry point, for the runners that run one.
    let mut problem = None;
    let entry_point = match (&runner, entry.filter(|(e, _)| !e.is_empty())) {
        (Runner::Unsupported(_) | Runner::Noop | Runner::Inquirer | Runner::HttpRequest, _) => None,
        (Runner::LocalShellCmd, Some((e, _))) => {
            problem = Some(format!(
                "its entry point `{e}` is only for the local-shell-script runner: local-shell-cmd runs `cmd`"
            ));
            None
        }
        (Runner::LocalShellCmd, None) => None,
        (_, None) => {
            errors.push(err(
                root.get("entry_point").map_or(runner_at, |n| n.pos),
                "entry_point",
                format!(
                    "a `{}` action needs an `entry_point`: a file in the pack's actions/ directory",
                    runner.name()
                ),
            ));
            None
        }
        (_, Some((e, at))) => match resolve_entry_point(dir, &e) {
            Ok(p) => Some(p),
            Err(message) => {
                errors.push(
                    PackError::at(PackErrorKind::EntryPoint, &file, Some(at), message)
                        .with_field("entry_point"),
                );
                None
            }
        },
    };
    if errors.len() > before {
        return None;
    }
    if let Runner::Unsupported(r) = &runner {
        problem = Some(format!(
            "its runner `{r}` ({}:{}:{}) is not supported by weft (supported: orquesta, local-shell-cmd, local-shell-script, python-script, http-request, noop, inquirer)",
            file.display(),
            runner_at.0,
            runner_at.1
        ));
    }
    if !enabled {
        problem = Some(format!(
            "it is disabled (`enabled: false` in {})",
            file.display()
        ));
    }
    Some(ActionMeta {
        reference,
        name,
        name_at,
        file,
        description,
        runner,
        entry_point,
        enabled,
        params,
        problem,
    })
}

/// `actions/ENTRY`, which must be a file inside the pack (symbolic links
/// followed).
fn resolve_entry_point(dir: &Path, entry: &str) -> Result<PathBuf, String> {
    let path = if Path::new(entry).is_absolute() {
        PathBuf::from(entry)
    } else {
        dir.join("actions").join(entry)
    };
    let real = path
        .canonicalize()
        .map_err(|e| format!("entry point `{entry}` ({}): {e}", path.display()))?;
    if !real.starts_with(dir) {
        return Err(format!(
            "entry point `{entry}` is outside the pack ({}): keep it in the pack's directory",
            real.display()
        ));
    }
    if !real.is_file() {
        return Err(format!(
            "entry point `{entry}` ({}) is not a file",
            real.display()
        ));
    }
    Ok(real)
}
