//! The pages a commit writes into SQLite's write-ahead log, and the table
//! or index each belongs to: a write-behind run's one commit, and a floor
//! commit (one record appended to a stored run), as `benches/durable.rs`
//! makes them; and the commits of a `Durability::Sync` run, counted by
//! the run.
//!
//! ```sh
//! cargo build --release -p weft-benches --example commit_pages
//! target/release/examples/commit_pages                # 2,000 runs first, then 100 of each
//! target/release/examples/commit_pages 2000 100 chain 100 /tmp/pages.db   # and keep the file
//! ```
//!
//! Arguments: runs stored before counting (so that the b-trees are as deep
//! as a benchmark's file), commits counted of each kind, shape and size of
//! the runs (`chain` of 100, as `durable_chain_100`), and a file to write
//! (a temporary one, removed, when not given). After each commit the log's
//! new frames are read from `<file>-wal` (each frame's header names its
//! page); at the end SQLite's `dbstat` table says which b-tree each page
//! is in. Counts, not times: they repeat from one machine to the next.
//!
//! With `COMMIT_PAGES_TIME=N` it then also times, N times in turn: a run
//! (start to its records committed) on a file of the schema this build writes, the
//! same on a second file without the five indexes of `runs` (dropped after
//! it was made: fewer pages a commit, nothing else changed; or without
//! those `COMMIT_PAGES_DROP` names, comma-separated, none when empty), and
//! a floor commit; and prints the medians. Wall clock, so as noisy as the
//! machine, but the three in turn in one process.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{runtime_ct, text_plan, Args, Shape};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use weft::store::{Command, Entry, Record, Store};
use weft::{ActionInput, Durability, Executor, Plan, RunId};
use weft_store_sqlite::SqliteStore;

/// The bytes of the log's header and of a frame's.
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// Where the reading of the log is: the generation (its header's salts)
/// and the next frame.
#[derive(Default)]
struct WalCursor {
    salts: [u8; 8],
    next: u64,
    /// Whether the log started over since the call before (the frames
    /// written before that are not counted).
    restarted: bool,
}

impl WalCursor {
    /// The pages of the frames added to the log since the last call (from
    /// its start when the log started over).
    fn new_frames(&mut self, wal: &Path) -> std::io::Result<Vec<u32>> {
        let bytes = std::fs::read(wal)?;
        if bytes.len() < WAL_HEADER as usize {
            return Ok(Vec::new());
        }
        let page_size = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64;
        let mut salts = [0u8; 8];
        salts.copy_from_slice(&bytes[16..24]);
        self.restarted = salts != self.salts && self.salts != [0; 8];
        if salts != self.salts {
            self.salts = salts;
            self.next = 0;
        }
        let mut pages = Vec::new();
        loop {
            let at = (WAL_HEADER + self.next * (FRAME_HEADER + page_size)) as usize;
            let Some(header) = bytes.get(at..at + FRAME_HEADER as usize) else {
                break;
            };
            // A frame of an earlier generation (the log is written over
            // from its start after a checkpoint) has other salts.
            if header[8..16] != salts || bytes.len() < at + (FRAME_HEADER + page_size) as usize {
                break;
            }
            pages.push(u32::from_be_bytes([
                header[0], header[1], header[2], header[3],
            ]));
            self.next += 1;
        }
        Ok(pages)
    }
}

/// The frames of the commits of one kind, and their pages.
#[derive(Default)]
struct Tally {
    frames: Vec<usize>,
    pages: Vec<u32>,
}

impl Tally {
    /// Counts the frames `cursor` finds after a commit.
    fn commit(&mut self, cursor: &mut WalCursor, wal: &Path) -> std::io::Result<()> {
        let pages = cursor.new_frames(wal)?;
        self.frames.push(pages.len());
        self.pages.extend(pages);
        Ok(())
    }
}

/// `<file>-wal`.
fn wal_of(file: &Path) -> PathBuf {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// The b-tree (table or index) and kind of each page of `file`, by SQLite's
/// `dbstat`, and the levels below each b-tree's root.
type Owners = (BTreeMap<u32, (String, String)>, Vec<(String, i64)>, u64);

fn owners(file: &Path) -> rusqlite::Result<Owners> {
    let conn =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let mut owner = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT pageno, name, pagetype FROM dbstat")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get(1)?, r.get(2)?)))?;
    for row in rows {
        let (page, name, kind) = row?;
        owner.insert(page, (name, kind));
    }
    let levels = conn
        .prepare(
            "SELECT name, max(length(path) - length(replace(path, '/', ''))) - 1 FROM dbstat
             GROUP BY name ORDER BY name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok((owner, levels, page_size as u64))
}

/// Prints the frames of each sample (`unit`: a commit, or a run), and by
/// b-tree.
fn report(name: &str, unit: &str, tally: &Tally, (owner, _, page_size): &Owners) {
    let n = tally.frames.len().max(1) as f64;
    let total: usize = tally.frames.iter().sum();
    let min = tally.frames.iter().min().copied().unwrap_or(0);
    let max = tally.frames.iter().max().copied().unwrap_or(0);
    println!(
        "\n{name}: {:.2} frames {unit} (min {min}, max {max}), {:.0} bytes of log",
        total as f64 / n,
        total as f64 * (page_size + FRAME_HEADER) as f64 / n
    );
    let mut by_tree: BTreeMap<String, usize> = BTreeMap::new();
    for page in &tally.pages {
        let key = match owner.get(page) {
            Some((name, kind)) if *page == 1 => format!("{name} (page 1, {kind})"),
            Some((name, kind)) => format!("{name} ({kind})"),
            None => "(free list)".to_owned(),
        };
        *by_tree.entry(key).or_default() += 1;
    }
    for (tree, count) in by_tree {
        println!("  {:>6.2}  {tree}", count as f64 / n);
    }
}

/// An executor of no-op actions journaling into `store`.
fn executor(store: Arc<SqliteStore>) -> Executor {
    Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .store(store)
        .build()
}

/// A run of `plan` to its end and its records' commit, timed in ms.
fn one_run(rt: &Runtime, ex: &Executor, plan: &Plan) -> Result<f64, Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    rt.block_on(async {
        let out = ex.start(plan, json!({}))?.await?;
        assert!(out.succeeded(), "{:?}", out.errors);
        ex.flush().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

/// `sqlite_commit_floor`'s run: its `Started` record, then one record a
/// commit.
struct Floor {
    store: Arc<SqliteStore>,
    run: RunId,
    seq: u64,
}

impl Floor {
    fn new(rt: &Runtime, store: Arc<SqliteStore>) -> Result<Floor, Box<dyn std::error::Error>> {
        let run = RunId::new();
        let record = common::floor_start();
        rt.block_on(store.append(&[Entry {
            run,
            seq: 0,
            record,
        }]))?;
        Ok(Floor { store, run, seq: 1 })
    }

    /// One record appended and committed, timed in ms.
    fn commit(&mut self, rt: &Runtime) -> Result<f64, Box<dyn std::error::Error>> {
        let t0 = Instant::now();
        let record = Record::Command {
            step: self.seq,
            command: Command::Resume,
        };
        rt.block_on(self.store.append(&[Entry {
            run: self.run,
            seq: self.seq,
            record,
        }]))?;
        self.seq += 1;
        Ok(t0.elapsed().as_secs_f64() * 1e3)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let warm: u32 = args.parse(0, 2_000)?;
    let counted: u32 = args.parse(1, 100)?;
    let shape = Shape::by_name(args.text(2, "chain"), args.parse(3, 100)?)?;
    let dir = tempfile::tempdir()?;
    let file: PathBuf = match args.parse_opt::<String>(4)? {
        Some(p) => p.into(),
        None => dir.path().join("pages.db"),
    };
    let rt = runtime_ct();

    let store = Arc::new(SqliteStore::open(&file)?);
    let ex = executor(store.clone());
    let plan = text_plan(&shape, &ex)?;
    for _ in 0..warm {
        one_run(&rt, &ex, &plan)?;
    }
    let wal = wal_of(&file);
    let mut cursor = WalCursor::default();
    cursor.new_frames(&wal)?;
    let mut runs = Tally::default();
    for _ in 0..counted {
        one_run(&rt, &ex, &plan)?;
        runs.commit(&mut cursor, &wal)?;
    }

    // On a file of its own, as in `benches/durable.rs`.
    let floor_file = dir.path().join("floor.db");
    let mut floor = Floor::new(&rt, Arc::new(SqliteStore::open(&floor_file)?))?;
    let floor_wal = wal_of(&floor_file);
    let mut floor_cursor = WalCursor::default();
    floor_cursor.new_frames(&floor_wal)?;
    let mut floor_tally = Tally::default();
    for _ in 0..counted {
        floor.commit(&rt)?;
        floor_tally.commit(&mut floor_cursor, &floor_wal)?;
    }

    // `Durability::Sync` runs: a commit a step, counted by the run (the
    // runs during which the log started over are left out).
    let sync_file = dir.path().join("sync.db");
    let sync_ex = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .store(Arc::new(SqliteStore::open(&sync_file)?))
        .durability(Durability::Sync)
        .build();
    let sync_plan = text_plan(&shape, &sync_ex)?;
    let sync_wal = wal_of(&sync_file);
    let mut sync_cursor = WalCursor::default();
    let mut sync_tally = Tally::default();
    for _ in 0..counted.min(20) {
        one_run(&rt, &sync_ex, &sync_plan)?;
        let pages = sync_cursor.new_frames(&sync_wal)?;
        if !sync_cursor.restarted {
            sync_tally.frames.push(pages.len());
            sync_tally.pages.extend(pages);
        }
    }

    // Read while the logs still hold the pages; a page keeps its b-tree
    // (nothing was deleted).
    let owned = owners(&file)?;
    let floor_owned = owners(&floor_file)?;
    let sync_owned = owners(&sync_file)?;
    println!(
        "{} pages of {} bytes; {} runs of {} tasks ({}) in the file",
        owned.0.len(),
        owned.2,
        warm + counted,
        shape.len(),
        shape.name
    );
    report("a write-behind run's commit", "a commit", &runs, &owned);
    report(
        "a floor commit (one record appended to a stored run)",
        "a commit",
        &floor_tally,
        &floor_owned,
    );
    report(
        "a sync run (a commit a step)",
        "a run",
        &sync_tally,
        &sync_owned,
    );
    println!("\nlevels of each b-tree below its root:");
    for (name, depth) in &owned.1 {
        println!("  {depth}  {name}");
    }

    if let Ok(rounds) = std::env::var("COMMIT_PAGES_TIME") {
        time_in_turn(
            &rt,
            &shape,
            &ex,
            &mut floor,
            warm,
            rounds.parse()?,
            dir.path(),
        )?;
    }
    Ok(())
}

/// The indexes of `runs` (schema versions 3 to 6).
const RUNS_INDEXES: [&str; 5] = [
    "runs_by_status",
    "runs_by_end",
    "runs_by_workflow",
    "runs_top_level",
    "runs_by_text",
];

/// Times, in turn: a run on `ex` (this build's schema), a run on a file
/// without `runs`' indexes, and a floor commit.
fn time_in_turn(
    rt: &Runtime,
    shape: &Shape,
    ex: &Executor,
    floor: &mut Floor,
    warm: u32,
    rounds: usize,
    dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let dropped: Vec<String> = match std::env::var("COMMIT_PAGES_DROP") {
        Ok(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Err(_) => RUNS_INDEXES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let bare = dir.join("bare.db");
    drop(SqliteStore::open(&bare)?);
    let conn = rusqlite::Connection::open(&bare)?;
    for index in &dropped {
        conn.execute_batch(&format!("DROP INDEX {index}"))?;
    }
    drop(conn);
    let bare_ex = executor(Arc::new(SqliteStore::open(&bare)?));
    let plan = text_plan(shape, ex)?;
    let bare_plan = text_plan(shape, &bare_ex)?;
    for _ in 0..warm {
        one_run(rt, &bare_ex, &bare_plan)?;
    }
    // Before each, a pause of 0 to 5 ms (untimed), so that none of the
    // three sits at a fixed place after the commit before it (an fsync
    // right after another waits longer).
    let mut lcg: u64 = 0x2545_f491_4f6c_dd1d;
    let mut pause = || {
        lcg = lcg
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_micros((lcg >> 33) % 5_000));
    };
    let (mut full, mut without, mut floors) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        pause();
        full.push(one_run(rt, ex, &plan)?);
        pause();
        without.push(one_run(rt, &bare_ex, &bare_plan)?);
        pause();
        floors.push(floor.commit(rt)?);
    }
    println!("\nwall clock, {rounds} of each in turn (ms):");
    println!("   median     mean      p25      p75  over 2 ms");
    for (name, v) in [
        ("a run, this build's schema", &mut full),
        (
            &format!("a run, without {}", dropped.join(", ")),
            &mut without,
        ),
        ("a floor commit", &mut floors),
    ] {
        let name: &str = name;
        v.sort_by(f64::total_cmp);
        let n = v.len().max(1);
        let mean = v.iter().sum::<f64>() / n as f64;
        let at = |q: usize| v.get(n * q / 4).copied().unwrap_or(0.0);
        let slow = v.iter().filter(|t| **t > 2.0).count();
        println!(
            "  {:7.3}  {mean:7.3}  {:7.3}  {:7.3}  {:>8}  {name}",
            at(2),
            at(1),
            at(3),
            format!("{:.0}%", 100.0 * slow as f64 / n as f64)
        );
    }
    Ok(())
}
