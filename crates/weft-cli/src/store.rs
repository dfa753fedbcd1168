//! Opening the store a `--db` names: a SQLite file, or a Postgres URL.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_runtime::store::KvStore;
use weft_runtime::Store;
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_store_sqlite::SqliteStore;

/// How a command uses the store.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// It runs (or purges) runs: it writes, and no other process may.
    Write,
    /// It only reads: another process may be writing at the same time.
    Read,
}

/// Whether `db` is a Postgres URL rather than a SQLite path.
pub(crate) fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Opens the store `db` names: a Postgres URL
/// (`postgres://USER@HOST:PORT/DB[?schema=NAME]`), whose store runs its
/// background tasks on `runtime`, or a SQLite file (made if missing, for
/// writing).
///
/// # Errors
///
/// The message to print: the server cannot be reached, the file cannot be
/// opened, is not a weft database, or is in use by another writing process.
pub(crate) fn open(
    runtime: &tokio::runtime::Runtime,
    db: &str,
    access: Access,
) -> Result<Arc<dyn Store>, String> {
    open_with(runtime, db, access, &PostgresOptions::default())
}

/// As [`open`], with the options of a Postgres store.
/// As [`open`], with the options of a Postgres store. A store opened to
/// run workflows (for writing) has its datastore loaded for `st2kv`.
pub(crate) fn open_with(
    runtime: &tokio::runtime::Runtime,
    db: &str,
    access: Access,
    options: &PostgresOptions,
) -> Result<Arc<dyn Store>, String> {
    let store = open_store(runtime, db, access, options)?;
    if access == Access::Write {
        if let Some(kv) = store.kv() {
            load_datastore(runtime, kv)?;
        }
    }
    Ok(store)
}

/// Loads the datastore of `kv` for `st2kv`.
fn load_datastore(rt: &tokio::runtime::Runtime, kv: &dyn KvStore) -> Result<(), String> {
    rt.block_on(weft_stackstorm::load_datastore(kv))
        .map(|_| ())
        .map_err(|e| format!("error: cannot read the datastore: {e}"))
}

fn open_store(
    runtime: &tokio::runtime::Runtime,
    db: &str,
    access: Access,
    options: &PostgresOptions,
) -> Result<Arc<dyn Store>, String> {
    if is_postgres(db) {
        // Several processes share a Postgres store: it has no read-only
        // mode to ask for.
        return runtime
            .block_on(PostgresStore::connect_with(db, options))
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("error: {e}"));
    }
    let path = Path::new(db);
    let store = match access {
        Access::Write => SqliteStore::open(path),
        Access::Read => SqliteStore::open_read_only(path),
    };
    store
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|e| format!("error: {e}"))
}

/// Asks whether a process writes a SQLite file now (holds its lock): a
/// run the file says is going on while none does was interrupted.
pub(crate) struct WriterProbe(Option<SqliteStore>);

impl WriterProbe {
    /// For `db`; a Postgres database has no such answer.
    pub(crate) fn new(db: &str) -> WriterProbe {
        WriterProbe(
            (!is_postgres(db))
                .then(|| SqliteStore::open_read_only(db).ok())
                .flatten(),
        )
    }

    /// `None` for Postgres, or when it cannot be told.
    pub(crate) fn has_writer(&self) -> Option<bool> {
        self.0.as_ref().and_then(SqliteStore::has_writer)
    }
}

/// Parses a duration such as `30d`, `12h`, `45m`, `90s`, `500ms` or `2w`.
///
/// # Errors
///
/// The message to print.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        format!(
            "`{text}` is not a duration: write a number and a unit, such as 30d, 12h, 45m or 90s"
        )
    })?;
    if unit == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`: use ms, s, m, h, d or w (such as 30d)"
            ))
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_their_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("12").unwrap_err().contains("unit"));
        assert!(parse_duration("h").unwrap_err().contains("not a duration"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
