//! A key–value datastore kept by a store ([`KvStore`]): StackStorm's
//! datastore, which workflows read with `st2kv('system.name')`.
//!
//! Keys live in a *scope*: `system` for keys every workflow shares, or
//! `user` for a user's own keys (StackStorm names those `USER:NAME`).
//! Values are text, as in StackStorm. A key may be marked *secret*; weft
//! keeps the mark, and the value in plain text (see docs/stackstorm.md).
//!
//! The datastore is its own trait beside [`Store`](super::Store), in a
//! table of its own in each store (created when first written): a store
//! offers it through [`Store::kv`](super::Store::kv).
//!
//! # Examples
//!
//! ```
//! use weft_runtime::store::{KvEntry, KvStore};
//! use weft_runtime::MemoryStore;
//!
//! # futures::executor::block_on(async {
//! let store = MemoryStore::new();
//! store.kv_set(&KvEntry::new("system", "api_token", "s3cret").secret(true)).await?;
//! let got = store.kv_get("system", "api_token").await?.unwrap();
//! assert_eq!(got.value, "s3cret");
//! assert!(got.secret);
//! # Ok::<(), weft_runtime::store::StoreError>(())
//! # }).unwrap();
//! ```

use futures::future::BoxFuture;

use super::{Millis, StoreError};

/// The scopes a key may live in, as StackStorm names them.
pub const KV_SCOPES: [&str; 2] = ["system", "user"];

/// One key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvEntry {
    /// `system` or `user` (see [`KV_SCOPES`]).
    pub scope: String,
    /// The key's name (a user's keys: `USER:NAME`).
    pub name: String,
    /// The value, as text.
    pub value: String,
    /// Marked secret: shown masked, read by `st2kv` only with `decrypt`.
    pub secret: bool,
    /// When it was last set (milliseconds since the Unix epoch); set by
    /// [`KvStore::kv_set`].
    pub updated_at: Millis,
}

impl KvEntry {
    /// `name` in `scope`, with `value`, not secret.
    pub fn new(
        scope: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> KvEntry {
        KvEntry {
            scope: scope.into(),
            name: name.into(),
            value: value.into(),
            secret: false,
            updated_at: 0,
        }
    }

    /// The same entry, marked secret or not.
    #[must_use]
    pub fn secret(mut self, secret: bool) -> KvEntry {
        self.secret = secret;
        self
    }
}

/// Checks a scope and a name before they are stored.
///
/// # Errors
///
/// [`StoreError::Conflict`] naming what is wrong: a scope other than
/// `system` or `user`, or an empty name.
pub fn check_key(scope: &str, name: &str) -> Result<(), StoreError> {
    if !KV_SCOPES.contains(&scope) {
        return Err(StoreError::Conflict(format!(
            "unknown datastore scope `{scope}`: use `system` or `user`"
        )));
    }
    if name.is_empty() {
        return Err(StoreError::Conflict(
            "a datastore key needs a name".to_owned(),
        ));
    }
    Ok(())
}

/// A key–value datastore (see the module docs). The same conformance
/// tests run against every store that has one
/// (`driver::conformance::kv_run_all`, feature `conformance`).
pub trait KvStore: Send + Sync {
    /// Sets `entry` (its scope and name), replacing a value there, and
    /// stamps it with the time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] for a bad scope or name (see
    /// [`check_key`](super::driver::check_key));
    /// [`StoreError::Unavailable`] when the store cannot be
    /// written.
    fn kv_set<'a>(&'a self, entry: &'a KvEntry) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The key `name` of `scope`, if it is set.
    ///
    /// # Errors
    ///
    /// The store cannot be read.
    fn kv_get<'a>(
        &'a self,
        scope: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<KvEntry>, StoreError>>;

    /// The keys of `scope` whose name starts with `prefix`, by name.
    ///
    /// # Errors
    ///
    /// The store cannot be read.
    fn kv_list<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<KvEntry>, StoreError>>;

    /// Deletes the key `name` of `scope`; true when it was set.
    ///
    /// # Errors
    ///
    /// The store cannot be written.
    fn kv_delete<'a>(
        &'a self,
        scope: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}
