//! The key–value datastore ([`KvStore`]) in the store's file: a table of
//! its own, `kv`, made when the first key is set (a file without it has
//! no keys). Each call opens a connection of its own on a thread of its
//! own: the datastore is read and written seldom (a command, a run's
//! start), and its work never waits behind the journal's.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::FutureExt;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use weft_runtime::store::driver::check_key;
use weft_runtime::store::{KvEntry, KvStore, StoreError};

use crate::error;
use crate::store::SqliteStore;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS kv (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    secret INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
) WITHOUT ROWID";

/// Runs `job` on a connection to `path` opened on a thread of its own.
fn on_connection<T: Send + 'static>(
    path: PathBuf,
    name: String,
    write: bool,
    job: impl FnOnce(&mut Connection, &str) -> Result<T, StoreError> + Send + 'static,
) -> BoxFuture<'static, Result<T, StoreError>> {
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("weft-sqlite-kv".to_owned())
        .spawn(move || {
            let flags = if write {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
            } else {
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
            };
            let result = Connection::open_with_flags(&path, flags)
                .map_err(|e| error::sql(&name, "cannot open the datastore", e))
                .and_then(|mut conn| {
                    conn.busy_timeout(Duration::from_secs(10))
                        .map_err(|e| error::sql(&name, "cannot open the datastore", e))?;
                    job(&mut conn, &name)
                });
            let _ = tx.send(result);
        });
    async move {
        spawned
            .map_err(|e| StoreError::unavailable_from(format!("cannot start a thread: {e}"), e))?;
        rx.await
            .map_err(|_| StoreError::unavailable("the datastore thread stopped"))?
    }
    .boxed()
}

/// True when `e` says the `kv` table is not there (no key was ever set).
fn no_table(e: &rusqlite::Error) -> bool {
    e.to_string().contains("no such table")
}

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<KvEntry> {
    let mut e = KvEntry::new(
        row.get::<_, String>(0)?,
        row.get::<_, String>(1)?,
        row.get::<_, String>(2)?,
    )
    .secret(row.get::<_, i64>(3)? != 0);
    e.updated_at = u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0);
    Ok(e)
}

impl KvStore for SqliteStore {
    fn kv_set<'a>(&'a self, entry: &'a KvEntry) -> BoxFuture<'a, Result<(), StoreError>> {
        if let Err(e) = check_key(&entry.scope, &entry.name) {
            return async move { Err(e) }.boxed();
        }
        if self.is_read_only() {
            let name = self.describe_path();
            return async move {
                Err(error::other(
                    &name,
                    "was opened read-only: open it with SqliteStore::open to set keys",
                ))
            }
            .boxed();
        }
        let e = entry.clone();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        on_connection(
            self.path().to_path_buf(),
            self.describe_path(),
            true,
            move |conn, name| {
                let tx = conn
                    .transaction()
                    .map_err(|x| error::sql(name, "cannot set a key", x))?;
                tx.execute(CREATE, [])
                    .map_err(|x| error::sql(name, "cannot make the datastore's table", x))?;
                tx.execute(
                "INSERT INTO kv (scope, name, value, secret, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value,
                     secret = excluded.secret, updated_at = excluded.updated_at",
                params![e.scope, e.name, e.value, i64::from(e.secret), now],
            )
            .map_err(|x| error::sql(name, "cannot set a key", x))?;
                tx.commit()
                    .map_err(|x| error::sql(name, "cannot set a key", x))
            },
        )
    }

    fn kv_get<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<KvEntry>, StoreError>> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        on_connection(
            self.path().to_path_buf(),
            self.describe_path(),
            false,
            move |conn, name| {
                match conn
                .query_row(
                    "SELECT scope, name, value, secret, updated_at FROM kv WHERE scope = ?1 AND name = ?2",
                    params![scope, key],
                    entry,
                )
                .optional()
            {
                Ok(found) => Ok(found),
                Err(e) if no_table(&e) => Ok(None),
                Err(e) => Err(error::sql(name, "cannot read a key", e)),
            }
            },
        )
    }

    fn kv_list<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<KvEntry>, StoreError>> {
        let (scope, prefix) = (scope.to_owned(), prefix.to_owned());
        on_connection(
            self.path().to_path_buf(),
            self.describe_path(),
            false,
            move |conn, name| {
                let read = || -> rusqlite::Result<Vec<KvEntry>> {
                    // `substr`, not `LIKE`: `_` and `%` in a prefix are plain.
                    let mut stmt = conn.prepare(
                        "SELECT scope, name, value, secret, updated_at FROM kv
                     WHERE scope = ?1 AND substr(name, 1, length(?2)) = ?2 ORDER BY name",
                    )?;
                    let rows = stmt.query_map(params![scope, prefix], entry)?;
                    rows.collect()
                };
                match read() {
                    Ok(v) => Ok(v),
                    Err(e) if no_table(&e) => Ok(Vec::new()),
                    Err(e) => Err(error::sql(name, "cannot list keys", e)),
                }
            },
        )
    }

    fn kv_delete<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        if self.is_read_only() {
            let name = self.describe_path();
            return async move {
                Err(error::other(
                    &name,
                    "was opened read-only: open it with SqliteStore::open to delete keys",
                ))
            }
            .boxed();
        }
        let (scope, key) = (scope.to_owned(), key.to_owned());
        on_connection(
            self.path().to_path_buf(),
            self.describe_path(),
            true,
            move |conn, name| match conn.execute(
                "DELETE FROM kv WHERE scope = ?1 AND name = ?2",
                params![scope, key],
            ) {
                Ok(n) => Ok(n > 0),
                Err(e) if no_table(&e) => Ok(false),
                Err(e) => Err(error::sql(name, "cannot delete a key", e)),
            },
        )
    }
}
