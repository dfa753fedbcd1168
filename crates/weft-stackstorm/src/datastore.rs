//! What `st2kv` reads: the keys of a datastore ([`KvStore`]), loaded into
//! the process.
//!
//! Expression functions are synchronous and process-wide, and a store's
//! datastore is asynchronous and may be across a network, so `st2kv` reads
//! a copy of the keys that [`load_datastore`] takes (the `weft` command
//! takes it from `--db` when a command starts) or [`use_datastore`] sets.
//! A key set in the store after that is seen by the next load.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};
use weft_runtime::store::{KvEntry, KvStore, StoreError, KV_SCOPES};

type Keys = BTreeMap<(String, String), KvEntry>;

static KEYS: RwLock<Option<Arc<Keys>>> = RwLock::new(None);

/// Makes `entries` the keys `st2kv` reads, in place of any before.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_core::{Template, WorkflowContext};
/// use weft_runtime::store::KvEntry;
///
/// weft_stackstorm::install_functions()?;
/// weft_stackstorm::use_datastore([KvEntry::new("system", "region", "eu-west-1")]);
/// let ctx = WorkflowContext::new(json!({}), []);
/// let t = Template::compile("<% st2kv('system.region') %>")?;
/// assert_eq!(t.eval(&ctx)?, json!("eu-west-1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn use_datastore(entries: impl IntoIterator<Item = KvEntry>) {
    let keys: Keys = entries
        .into_iter()
        .map(|e| ((e.scope.clone(), e.name.clone()), e))
        .collect();
    *KEYS.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(keys));
}

/// Loads every key of `kv` (both scopes) as the keys `st2kv` reads, and
/// returns how many.
///
/// # Errors
///
/// The datastore cannot be read.
pub async fn load_datastore(kv: &dyn KvStore) -> Result<usize, StoreError> {
    let mut all = Vec::new();
    for scope in KV_SCOPES {
        all.extend(kv.kv_list(scope, "").await?);
    }
    let n = all.len();
    use_datastore(all);
    Ok(n)
}

/// The keys loaded, if any were.
fn keys() -> Option<Arc<Keys>> {
    KEYS.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The key `name` of `scope`; `Err` when no datastore was loaded.
pub(crate) fn get(scope: &str, name: &str) -> Result<Option<KvEntry>, ()> {
    let keys = keys().ok_or(())?;
    Ok(keys.get(&(scope.to_owned(), name.to_owned())).cloned())
}

/// `st2kv` as a parameter default's template reads it:
/// `{{ st2kv.system.name }}`, and `{{ st2kv.user.name }}` for `user`'s own
/// keys. A dotted name is reached both ways: `st2kv.system['a.b']` and
/// `st2kv.system.a.b` (unless `a` is a key of its own).
pub(crate) fn template_view(user: &str) -> Value {
    let mut system = Map::new();
    let mut mine = Map::new();
    let own = format!("{user}:");
    if let Some(keys) = keys() {
        for ((scope, name), e) in keys.iter() {
            let (map, name) = match scope.as_str() {
                "system" => (&mut system, name.as_str()),
                _ => match name.strip_prefix(&own) {
                    Some(n) => (&mut mine, n),
                    None => continue,
                },
            };
            map.insert(name.to_owned(), Value::String(e.value.clone()));
        }
    }
    nest(&mut system);
    nest(&mut mine);
    let mut view = Map::new();
    view.insert("system".into(), Value::Object(system));
    view.insert("user".into(), Value::Object(mine));
    Value::Object(view)
}

/// Adds the dotted names of `map` as nested maps too, where no key of the
/// same name is in the way.
fn nest(map: &mut Map<String, Value>) {
    let dotted: Vec<(String, Value)> = map
        .iter()
        .filter(|(k, _)| k.contains('.'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, value) in dotted {
        let parts: Vec<&str> = name.split('.').collect();
        insert_path(map, &parts, value);
    }
}

/// Puts `value` at `parts` in nested maps, unless a value is in the way.
fn insert_path(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            map.entry((*last).to_owned()).or_insert(value);
        }
        [first, rest @ ..] => {
            let slot = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = slot {
                insert_path(inner, rest, value);
            }
        }
    }
}
