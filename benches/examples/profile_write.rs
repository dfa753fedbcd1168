//! Write-behind runs of many independent tasks, a few times, for
//! `valgrind --tool=callgrind` with every thread counted: the scheduler's
//! side and the SQLite store's writer thread. Instruction counts repeat
//! from run to run where wall-clock times on a shared machine do not.
//!
//! ```sh
//! cargo build --release -p weft-benches --example profile_write
//! for n in 1 4; do valgrind --tool=callgrind --callgrind-out-file=/tmp/pw-$n.cg \
//!     target/release/examples/profile_write sqlite 10000 $n; done
//! ```
//!
//! Arguments: store (`sqlite`, a write-behind SQLite journal in a temporary
//! file, or `memory`, no store), tasks, runs. Each run ends when the run
//! has ended and its records are committed (`Executor::flush`), as
//! `durable_independent_10k` in `benches/durable.rs`. Without
//! `--toggle-collect` the count includes building the executor and the
//! plan: instructions per task = (total of `runs` = 4 − total of `runs` =
//! 1) / (3 × tasks).

#[path = "../common/mod.rs"]
mod common;

use std::sync::Arc;

use common::{runtime_ct, weft_builder, Shape};
use serde_json::{json, Value};
use weft::{ActionInput, Executor, Workflow};
use weft_store_sqlite::SqliteStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = args.first().map_or("sqlite", String::as_str);
    let size: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let runs: u32 = args.get(2).map_or(Ok(2), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let mut builder =
        Executor::builder().action("bench.noop", |_: ActionInput| async { Ok(Value::Null) });
    match store {
        "sqlite" => {
            builder = builder.store(Arc::new(SqliteStore::open(dir.path().join("wb.db"))?));
        }
        "memory" => {}
        other => return Err(format!("`{other}`: expected `sqlite` or `memory`").into()),
    }
    let executor = builder.build();
    let shape = Shape::independent("independent", size);
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
    println!("{store}: {runs} runs of {size} tasks");
    Ok(())
}
