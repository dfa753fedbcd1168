//! How a [`SqliteStore`](crate::SqliteStore) opens its file.

/// When SQLite waits for the disk (its `synchronous` setting, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit is synced to the disk before `append` returns: a commit
    /// survives a crash of the process *and* of the machine (power loss).
    /// This is what [`Durability::Sync`](weft_runtime::Durability::Sync)
    /// promises, and the default.
    #[default]
    Full,
    /// Commits are synced only when the write-ahead log is copied into the
    /// database (a checkpoint): a commit survives a crash of the process,
    /// but a power loss or a crash of the machine may lose the last
    /// commits (the file stays consistent). Faster where a sync is slow.
    Normal,
}

impl Synchronous {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Options for [`SqliteStore::open_with`](crate::SqliteStore::open_with).
///
/// # Examples
///
/// ```
/// use weft_store_sqlite::{SqliteOptions, Synchronous};
///
/// let options = SqliteOptions::new()
///     .synchronous(Synchronous::Normal)
///     .max_size(1 << 30);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// When commits wait for the disk. Default [`Synchronous::Full`].
    pub synchronous: Synchronous,
    /// The most bytes the database may take; an append that would go over
    /// fails as a full disk does. Default: no limit but the disk's.
    pub max_size: Option<u64>,
    /// The page size of a file this opening makes (a power of two from 512
    /// to 65,536 bytes); a file that exists keeps its own. Default: 16 KB,
    /// which suits the journal's large rows (a write-behind run's records
    /// of a batch in one row). Every commit writes the pages it changed
    /// whole, so where most commits hold one record (`sync` runs of short
    /// steps) 4 KB pages write fewer bytes a sync: about 33 KB a commit
    /// against 93 KB with 16 KB pages (docs/performance.md, "SQLite pages
    /// of 16 KB").
    pub page_size: Option<u32>,
    /// For tests only, not a setting: how many new runs wait in `runs_new`
    /// before the writer moves them into `runs` (default 64; at least 1).
    /// Tests set it low so that the paths of moved runs are run with few
    /// runs. May change or go without notice.
    #[doc(hidden)]
    pub move_batch: Option<usize>,
}

impl SqliteOptions {
    /// The defaults.
    pub fn new() -> SqliteOptions {
        SqliteOptions::default()
    }

    /// Sets [`SqliteOptions::synchronous`].
    #[must_use]
    pub fn synchronous(mut self, synchronous: Synchronous) -> SqliteOptions {
        self.synchronous = synchronous;
        self
    }

    /// Sets [`SqliteOptions::page_size`], in bytes, for a file this
    /// opening makes.
    #[must_use]
    pub fn page_size(mut self, bytes: u32) -> SqliteOptions {
        self.page_size = Some(bytes);
        self
    }

    /// Sets [`SqliteOptions::max_size`], in bytes (rounded down to whole
    /// database pages: 16 KB in a file made by this version, 4 KB in
    /// older ones). The tables alone take several pages: a size too small
    /// for them fails the opening of a new file, saying so.
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> SqliteOptions {
        self.max_size = Some(bytes);
        self
    }

    /// Sets [`SqliteOptions::move_batch`]: for tests only.
    #[doc(hidden)]
    #[must_use]
    pub fn move_batch(mut self, runs: usize) -> SqliteOptions {
        self.move_batch = Some(runs);
        self
    }
}
