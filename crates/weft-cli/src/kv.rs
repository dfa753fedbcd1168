//! `weft kv set|get|list|delete --db …`: the key–value datastore that
//! workflows read with `st2kv`, kept in the store.

use serde_json::{json, Value};
use weft_runtime::store::KvEntry;

use crate::store::{self, Access};
use crate::Exit;

/// `weft kv`.
#[derive(clap::Args, Debug)]
pub(crate) struct KvArgs {
    #[command(subcommand)]
    command: KvCommand,
}

/// Where a key is: the store, the scope, the user.
#[derive(clap::Args, Debug)]
struct Place {
    /// The store: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// `system` (keys every workflow reads as `st2kv('system.NAME')`) or
    /// `user` (a user's own keys, read as `st2kv('NAME')`).
    #[arg(long, default_value = "system", value_parser = ["system", "user"])]
    scope: String,
    /// Whose keys, in the `user` scope (`ctx().st2.user` of the runs).
    #[arg(long, value_name = "USER", default_value = "stanley")]
    user: String,
}

impl Place {
    /// The name a key has in the store: a user's keys are `USER:NAME`.
    fn stored(&self, key: &str) -> String {
        match self.scope.as_str() {
            "user" => format!("{}:{key}", self.user),
            _ => key.to_owned(),
        }
    }

    /// The name a stored key is shown by.
    fn shown<'e>(&self, e: &'e KvEntry) -> &'e str {
        let own = format!("{}:", self.user);
        match self.scope.as_str() {
            "user" => e.name.strip_prefix(&own).unwrap_or(&e.name),
            _ => &e.name,
        }
    }
}

#[derive(clap::Subcommand, Debug)]
enum KvCommand {
    /// Set a key (replacing its value).
    Set {
        /// The key's name.
        key: String,
        /// Its value (text).
        value: String,
        /// Mark it secret: shown masked, and `st2kv` reads it only with
        /// decrypt=true. weft keeps the value in plain text.
        #[arg(long)]
        secret: bool,
        #[command(flatten)]
        place: Place,
    },
    /// Print a key's value.
    Get {
        /// The key's name.
        key: String,
        /// Show a secret value instead of `********`.
        #[arg(long)]
        decrypt: bool,
        /// Print the key as JSON (scope, name, value, secret, updated_at).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: Place,
    },
    /// List keys, by name.
    List {
        /// Only the keys whose name starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Show secret values instead of `********`.
        #[arg(long)]
        decrypt: bool,
        /// Print the keys as a JSON list.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: Place,
    },
    /// Delete a key.
    Delete {
        /// The key's name.
        key: String,
        #[command(flatten)]
        place: Place,
    },
}

const MASK: &str = "********";

fn entry_json(e: &KvEntry, name: &str, decrypt: bool) -> Value {
    json!({
        "scope": e.scope,
        "name": name,
        "value": if e.secret && !decrypt { MASK } else { e.value.as_str() },
        "secret": e.secret,
        "updated_at": e.updated_at,
    })
}

pub(crate) fn kv(args: KvArgs) -> Exit {
    let place = match &args.command {
        KvCommand::Set { place, .. }
        | KvCommand::Get { place, .. }
        | KvCommand::List { place, .. }
        | KvCommand::Delete { place, .. } => place,
    };
    let rt = match crate::durable::runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let writes = matches!(
        args.command,
        KvCommand::Set { .. } | KvCommand::Delete { .. }
    );
    let access = if writes { Access::Write } else { Access::Read };
    let store = match store::open(&rt, &place.db, access) {
        Ok(s) => s,
        Err(e) => return Exit::invalid(e),
    };
    let Some(kv) = store.kv() else {
        eprintln!("error: the store {} has no datastore", store.describe());
        return Exit::Invalid;
    };
    let failed = |e: weft_runtime::store::StoreError| {
        eprintln!("error: {e}");
        Exit::Failed
    };
    match &args.command {
        KvCommand::Set {
            key, value, secret, ..
        } => {
            let entry = KvEntry::new(place.scope.as_str(), place.stored(key), value.as_str())
                .secret(*secret);
            match rt.block_on(kv.kv_set(&entry)) {
                Ok(()) => Exit::Ok,
                Err(weft_runtime::store::StoreError::Conflict(m)) => {
                    eprintln!("error: {m}");
                    Exit::Invalid
                }
                Err(e) => failed(e),
            }
        }
        KvCommand::Get {
            key, decrypt, json, ..
        } => match rt.block_on(kv.kv_get(&place.scope, &place.stored(key))) {
            Ok(Some(e)) if *json => {
                crate::out!("{}", entry_json(&e, key, *decrypt));
                Exit::Ok
            }
            Ok(Some(e)) => {
                crate::out!("{}", if e.secret && !decrypt { MASK } else { &e.value });
                Exit::Ok
            }
            Ok(None) => {
                eprintln!(
                    "error: no key `{key}` in the {} scope of {}: list the keys with `weft kv list --db …`",
                    place.scope,
                    store.describe()
                );
                Exit::Failed
            }
            Err(e) => failed(e),
        },
        KvCommand::List {
            prefix,
            decrypt,
            json,
            ..
        } => match rt.block_on(kv.kv_list(&place.scope, &place.stored(prefix))) {
            Ok(list) if *json => {
                let items: Vec<Value> = list
                    .iter()
                    .map(|e| entry_json(e, place.shown(e), *decrypt))
                    .collect();
                crate::out!(
                    "{}",
                    serde_json::to_string_pretty(&items).unwrap_or_default()
                );
                Exit::Ok
            }
            Ok(list) => {
                for e in &list {
                    let value = if e.secret && !decrypt { MASK } else { &e.value };
                    let mark = if e.secret { " (secret)" } else { "" };
                    crate::out!("{} = {value}{mark}", place.shown(e));
                }
                Exit::Ok
            }
            Err(e) => failed(e),
        },
        KvCommand::Delete { key, .. } => {
            match rt.block_on(kv.kv_delete(&place.scope, &place.stored(key))) {
                Ok(true) => Exit::Ok,
                Ok(false) => {
                    eprintln!(
                        "error: no key `{key}` in the {} scope of {}",
                        place.scope,
                        store.describe()
                    );
                    Exit::Failed
                }
                Err(e) => failed(e),
            }
        }
    }
}
