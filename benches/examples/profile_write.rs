//! Write-behind runs of many independent tasks (or a chain), a few times,
//! for `valgrind --tool=callgrind` with every thread counted: the
//! scheduler's side and the SQLite store's writer thread. Instruction
//! counts repeat from run to run where wall-clock times on a shared
//! machine do not; the commits a run takes are counted and printed.
//!
//! ```sh
//! cargo build --release -p weft-benches --example profile_write
//! for n in 1 4; do valgrind --tool=callgrind --callgrind-out-file=/tmp/pw-$n.cg \
//!     target/release/examples/profile_write sqlite 10000 $n; done
//! target/release/examples/profile_write sqlite 100 10 chain   # commits of a short run
//! ```
//!
//! Arguments: store (`sqlite`, a write-behind SQLite journal in a temporary
//! file, or `memory`, no store), tasks, runs, shape (`independent`, the
//! default, or `chain`). Each run ends when the run has ended and its
//! records are committed (`Executor::flush`), as `durable_independent_10k`
//! and `durable_chain_100` in `benches/durable.rs`. Without
//! `--toggle-collect` the count includes building the executor and the
//! plan: instructions per task = (total of `runs` = 4 − total of `runs` =
//! 1) / (3 × tasks).

#[path = "../common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{runtime_ct, weft_builder, Shape};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use weft::store::{Appended, Entry, Store, StoreError};
use weft::{ActionInput, Executor, Workflow};
use weft_store_sqlite::SqliteStore;
use weft_test_support::hooked::{AppendHook, Hooked};

/// Counts the commits (appends) it passes on.
#[derive(Default)]
struct Counted {
    commits: AtomicUsize,
}

impl AppendHook for Counted {
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        inner.append(entries)
    }
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        inner.append_owned(entries)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = args.first().map_or("sqlite", String::as_str);
    let size: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let runs: u32 = args.get(2).map_or(Ok(2), |s| s.parse())?;
    let shape = match args.get(3).map_or("independent", String::as_str) {
        "independent" => Shape::independent("independent", size),
        "chain" => Shape::chain("chain", size),
        other => return Err(format!("`{other}`: expected `independent` or `chain`").into()),
    };
    let dir = tempfile::tempdir()?;
    let mut builder =
        Executor::builder().action("bench.noop", |_: ActionInput| async { Ok(Value::Null) });
    let counted = match store {
        "sqlite" => {
            let sqlite = Arc::new(SqliteStore::open(dir.path().join("wb.db"))?);
            let counted = Arc::new(Hooked::new(sqlite, Counted::default()));
            builder = builder.store(counted.clone());
            Some(counted)
        }
        "memory" => None,
        other => return Err(format!("`{other}`: expected `sqlite` or `memory`").into()),
    };
    let executor = builder.build();
    let text = weft_builder(&shape).build()?.to_yaml_string()?;
    let plan = Workflow::from_yaml_str(&text)?
        .with_name(shape.name)
        .compile(&executor)?;
    let rt = runtime_ct();
    for _ in 0..runs {
        rt.block_on(async {
            let out = executor.start(&plan, json!({}))?.await?;
            assert!(out.succeeded(), "{:?}", out.errors);
            executor.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
    }
    print!("{store}: {runs} runs of {size} tasks ({})", shape.name);
    match counted {
        Some(c) => println!(", {} commits", c.hook.commits.load(Ordering::Relaxed)),
        None => println!(),
    }
    Ok(())
}
