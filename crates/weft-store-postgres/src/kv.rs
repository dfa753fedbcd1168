//! The key–value datastore ([`KvStore`]) in the store's schema: a table of
//! its own, `kv`, made when the first key is set (a schema without it has
//! no keys), so that it takes no migration of the run tables.

use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio_postgres::Row;
use weft_runtime::store::driver::check_key;
use weft_runtime::store::{KvEntry, KvStore, StoreError};

use crate::inner::Inner;
use crate::store::PostgresStore;

/// True when `e` says the `kv` table is not there (no key was ever set).
fn no_table(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
}

fn entry(row: &Row) -> KvEntry {
    let mut e = KvEntry::new(
        row.get::<_, String>(0),
        row.get::<_, String>(1),
        row.get::<_, String>(2),
    )
    .secret(row.get::<_, bool>(3));
    e.updated_at = u64::try_from(row.get::<_, i64>(4)).unwrap_or(0);
    e
}

impl Inner {
    async fn kv_set(&self, e: KvEntry) -> Result<(), StoreError> {
        check_key(&e.scope, &e.name)?;
        let doing = "cannot set a key";
        let fail = self.fail(doing);
        let conn = self.conn(doing).await?;
        let s = &self.schema;
        conn.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {s}.kv (
                scope text NOT NULL,
                name text NOT NULL,
                value text NOT NULL,
                secret boolean NOT NULL,
                updated_at bigint NOT NULL,
                PRIMARY KEY (scope, name)
            )"
        ))
        .await
        .map_err(fail)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        conn.execute(
            &format!(
                "INSERT INTO {s}.kv (scope, name, value, secret, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value,
                     secret = excluded.secret, updated_at = excluded.updated_at"
            ),
            &[&e.scope, &e.name, &e.value, &e.secret, &now],
        )
        .await
        .map_err(fail)?;
        Ok(())
    }

    async fn kv_query(
        &self,
        doing: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<KvEntry>, StoreError> {
        let conn = self.conn(doing).await?;
        match conn.query(sql, params).await {
            Ok(rows) => Ok(rows.iter().map(entry).collect()),
            Err(e) if no_table(&e) => Ok(Vec::new()),
            Err(e) => Err(self.fail(doing)(e)),
        }
    }

    async fn kv_delete(&self, scope: &str, name: &str) -> Result<bool, StoreError> {
        let doing = "cannot delete a key";
        let conn = self.conn(doing).await?;
        let sql = format!(
            "DELETE FROM {s}.kv WHERE scope = $1 AND name = $2",
            s = self.schema
        );
        match conn.execute(&sql, &[&scope, &name]).await {
            Ok(n) => Ok(n > 0),
            Err(e) if no_table(&e) => Ok(false),
            Err(e) => Err(self.fail(doing)(e)),
        }
    }
}

const COLUMNS: &str = "scope, name, value, secret, updated_at";

impl KvStore for PostgresStore {
    fn kv_set<'a>(&'a self, entry: &'a KvEntry) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.kv_set(entry.clone()).boxed()
    }

    fn kv_get<'a>(
        &'a self,
        scope: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<KvEntry>, StoreError>> {
        async move {
            let sql = format!(
                "SELECT {COLUMNS} FROM {s}.kv WHERE scope = $1 AND name = $2",
                s = self.inner.schema
            );
            let found = self
                .inner
                .kv_query("cannot read a key", &sql, &[&scope, &name])
                .await?;
            Ok(found.into_iter().next())
        }
        .boxed()
    }

    fn kv_list<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<KvEntry>, StoreError>> {
        async move {
            // `left`, not `LIKE`: `_` and `%` in a prefix are plain.
            let sql = format!(
                "SELECT {COLUMNS} FROM {s}.kv
                 WHERE scope = $1 AND left(name, char_length($2)) = $2 ORDER BY name COLLATE \"C\"",
                s = self.inner.schema
            );
            self.inner
                .kv_query("cannot list keys", &sql, &[&scope, &prefix])
                .await
        }
        .boxed()
    }

    fn kv_delete<'a>(
        &'a self,
        scope: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.kv_delete(scope, name).boxed()
    }
}
