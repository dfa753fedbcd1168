//! Bytes of SQLite file per journal record: appends small records in
//! batches as the journal writer does, closes the store and divides.
//!
//! `cargo run --release -p weft-store-sqlite --example file_size [records]`

use std::time::Instant;

use weft_runtime::store::driver::conformance::{ok, started};
use weft_runtime::store::{Entry, Store};
use weft_runtime::RunId;
use weft_store_sqlite::SqliteStore;

const RUNS: usize = 64;
const BATCH: usize = 8192;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1 << 20,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("size.db");
    let store = SqliteStore::open(&path)?;
    let mut runs: Vec<(RunId, u64)> = (0..RUNS).map(|_| (RunId::new(), 0)).collect();
    let mut json_bytes = 0usize;
    let mut written = 0usize;
    let t0 = Instant::now();
    while written < total {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH.min(total - written) {
            let (run, seq) = &mut runs[batch.len() % RUNS];
            let record = if *seq == 0 {
                started("size", None, 1)
            } else {
                ok(*seq)
            };
            json_bytes += serde_json::to_vec(&record)?.len();
            batch.push(Entry {
                run: *run,
                seq: *seq,
                record,
            });
            *seq += 1;
        }
        written += batch.len();
        futures::executor::block_on(store.append(&batch))?;
    }
    let elapsed = t0.elapsed();
    drop(store);
    let mut bytes = 0u64;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        bytes += std::fs::metadata(&name).map(|m| m.len()).unwrap_or(0);
    }
    println!("records:              {written}");
    println!("file bytes:           {bytes}");
    println!("file bytes / record:  {:.1}", bytes as f64 / written as f64);
    println!(
        "JSON bytes / record:  {:.1}",
        json_bytes as f64 / written as f64
    );
    println!(
        "appended at:          {:.0} records/s (JSON sizing included)",
        written as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
