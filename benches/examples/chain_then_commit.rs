//! `durable_chain_100`'s write-behind run against the in-memory run and
//! one commit of its journal (`memory_then_commit` in
//! `benches/durable.rs`), timed in turn round by round rather than a
//! criterion group after another: the `fsync` of a shared disk drifts by
//! tens of percent between groups measured seconds apart, and a round's
//! three take a millisecond or two together.
//!
//! ```sh
//! cargo build --release -p weft-benches --example chain_then_commit
//! target/release/examples/chain_then_commit 3000        # 16 KB pages
//! target/release/examples/chain_then_commit 3000 4k     # 4 KB pages
//! ```
//!
//! Arguments: rounds (after a tenth as many more as a warm-up), and the
//! page size of the three files (`16k`, new files' default, or `4k`). On a
//! multi_thread runtime with 2 workers, as the bench, each round times, in
//! an order that turns from round to round:
//!
//! * `write-behind`: a chain of `size` no-op tasks (100, as the bench) on
//!   a write-behind SQLite executor, from `start` until `Executor::flush`
//!   has returned;
//! * `memory + commit`: the same run on an executor without a store (and
//!   its flush), then one `Store::append` of the journal a write-behind
//!   run of the shape makes (read back once from a first run), under a
//!   fresh `RunId`, on a file of its own; the copy is made before the
//!   clock starts;
//! * `memory + one record`: the same run, then one `Store::append` of a
//!   single record to a stored run (a floor commit, alone rather than one
//!   of a loop), on a third file.
//!
//! It prints each one's median and the median (and quartiles) of the
//! round's differences write-behind − (memory + commit) and
//! (memory + commit) − (memory + one record).

#[path = "../common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rekeyed, runtime_mt, text_plan, Args, Shape};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use weft::store::{Command, Entry, Record, Store};
use weft::{ActionInput, Executor, Plan, RunId};
use weft_store_sqlite::{SqliteOptions, SqliteStore};

fn builder() -> weft::ExecutorBuilder {
    Executor::builder().action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
}

/// A run of `plan` to its end and its flush.
async fn run(ex: &Executor, plan: &Plan) -> Result<RunId, Box<dyn std::error::Error>> {
    let out = ex.start(plan, json!({}))?.await?;
    if !out.succeeded() {
        return Err(format!("the run failed: {:?}", out.errors).into());
    }
    ex.flush().await?;
    Ok(out.run_id)
}

/// The `(q1, median, q3)` of `v`, in µs.
fn quartiles(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: usize| v.get(v.len() * q / 4).copied().unwrap_or(f64::NAN);
    (at(1), at(2), at(3))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let rounds: usize = args.parse(0, 3_000)?;
    let options = match args.text(1, "16k") {
        "16k" => SqliteOptions::new(),
        "4k" => SqliteOptions::new().page_size(4096),
        other => return Err(format!("`{other}`: expected `16k` or `4k`").into()),
    };
    if rounds == 0 {
        return Err("at least one round".into());
    }
    let shape = Shape::chain("chain_100", 100);
    let dir = tempfile::tempdir()?;
    let open = |name: &str| -> Result<Arc<SqliteStore>, Box<dyn std::error::Error>> {
        Ok(Arc::new(SqliteStore::open_with(
            dir.path().join(name),
            &options,
        )?))
    };
    let rt: Runtime = runtime_mt();
    let wb_store = open("wb.db")?;
    let write_behind = builder().store(wb_store.clone()).build();
    let memory = builder().build();
    let wb_plan = text_plan(&shape, &write_behind)?;
    let memory_plan = text_plan(&shape, &memory)?;
    let then = open("then.db")?;
    let one = open("one.db")?;
    let floor_run = RunId::new();
    let mut floor_seq = 0u64;
    let journal = rt.block_on(async {
        let id = run(&write_behind, &wb_plan).await?;
        let journal = wb_store.load(id).await?;
        one.append(&[Entry {
            run: floor_run,
            seq: 0,
            record: common::floor_start(),
        }])
        .await?;
        Ok::<_, Box<dyn std::error::Error>>(journal)
    })?;
    floor_seq += 1;
    let warm = rounds / 10;
    let (mut wb, mut mtc, mut mt1) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds + warm {
        let mut times = [Duration::ZERO; 3];
        for k in 0..3 {
            let which = (round + k) % 3;
            let entries = rekeyed(&journal);
            let record = [Entry {
                run: floor_run,
                seq: floor_seq,
                record: Record::Command {
                    step: floor_seq,
                    command: Command::Resume,
                },
            }];
            let t0 = Instant::now();
            rt.block_on(async {
                match which {
                    0 => {
                        run(&write_behind, &wb_plan).await?;
                    }
                    1 => {
                        run(&memory, &memory_plan).await?;
                        then.append(&entries).await?;
                    }
                    _ => {
                        run(&memory, &memory_plan).await?;
                        one.append(&record).await?;
                    }
                }
                Ok::<_, Box<dyn std::error::Error>>(())
            })?;
            times[which] = t0.elapsed();
            if which == 2 {
                floor_seq += 1;
            }
            drop(entries);
        }
        if round >= warm {
            wb.push(micros(times[0]));
            mtc.push(micros(times[1]));
            mt1.push(micros(times[2]));
        }
    }
    let mut over: Vec<f64> = wb.iter().zip(&mtc).map(|(a, b)| a - b).collect();
    let mut records: Vec<f64> = mtc.iter().zip(&mt1).map(|(a, b)| a - b).collect();
    let above = over.iter().filter(|d| **d > 0.0).count();
    let (_, wb_m, _) = quartiles(&mut wb);
    let (_, mtc_m, _) = quartiles(&mut mtc);
    let (_, mt1_m, _) = quartiles(&mut mt1);
    let (o1, om, o3) = quartiles(&mut over);
    let (r1, rm, r3) = quartiles(&mut records);
    println!(
        "{rounds} rounds, {} pages, {} records a run's journal: medians (µs): write-behind \
         {wb_m:.1}, memory + commit {mtc_m:.1}, memory + one record {mt1_m:.1}; a round's \
         write-behind − (memory + commit): median {om:+.1} (quartiles {o1:+.1}, {o3:+.1}; over \
         in {above} of {rounds}); (memory + commit) − (memory + one record): median {rm:+.1} \
         (quartiles {r1:+.1}, {r3:+.1})",
        args.text(1, "16k"),
        journal.len(),
    );
    Ok(())
}
