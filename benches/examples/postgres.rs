//! Measures the Postgres store: how an append's rows go in (multi-row INSERTs from arrays, an INSERT per row, binary COPY), journaled task completions per second, short runs per second with one and two worker processes, and takeover time after a SIGKILL.
//!
//! ```sh
//! WEFT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release -p weft-benches --example postgres
//! ```
//!
//! Name sections to run only those: `layouts`, `completions`, `appends`,
//! `runs`, `takeover` (after `--`, e.g. `… --example postgres -- completions`).
//! `appends` is not run unless named: it profiles where an append's time
//! goes (a timeline of each append, the server backends' CPU time, the
//! client's), for `docs/performance.md`.
//!
//! `profile TASKS RUNS [ct|mt] [independent|chain] [wb|sync]` (on its own)
//! runs `RUNS` runs of `TASKS` no-op tasks (independent, the default, or a
//! chain), write-behind (the default) or sync, each to its journal
//! committed, on a current_thread runtime (`ct`, the default: the
//! runtime's thread is the main thread) or a multi_thread one of 2
//! workers, and prints the CPU time of the main thread, of the others, and
//! of the server's backends of the store's pool; for `valgrind
//! --tool=callgrind --separate-threads=yes`, the instructions per task of
//! each thread are (total at `RUNS` = 4 − total at `RUNS` = 1) / (3 ×
//! `TASKS`), and for `strace -f -c` the same difference of the calls
//! counts the round trips (`sendto`).
//!
//! (`WEFT_TEST_POSTGRES_URL` is used when `WEFT_BENCH_POSTGRES_URL` is not
//! set.) Everything happens in a schema of its own, dropped at the end. The
//! worker processes are this program again (`--worker`), each on a
//! multi_thread runtime with 2 workers; the database is whatever the URL
//! names (on the machine of docs/performance.md, the same 2 cores).

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use weft::postgres::{PostgresOptions, PostgresStore};
use weft::store::{Appended, Entry, StoreError};
use weft::{
    ActionInput, Durability, Executor, Plan, RunId, WorkerConfig, Workflow, WorkflowBuilder,
};
use weft_test_support::hooked::{AppendHook, Hooked};

#[path = "../common/mod.rs"]
mod common;

use common::{runtime_mt, weft_builder, Shape};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        worker_process(&args[2], args[3].parse().expect("lease in ms"));
        return;
    }
    let Some(url) = std::env::var("WEFT_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("WEFT_TEST_POSTGRES_URL"))
        .ok()
    else {
        eprintln!("set WEFT_BENCH_POSTGRES_URL (or WEFT_TEST_POSTGRES_URL) to a server's URL");
        std::process::exit(2);
    };
    let schema = format!("weft_bench_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}schema={schema}");
    if args.get(1).map(String::as_str) == Some("profile") {
        profile(&db, &schema, &args[2..]);
        return;
    }
    let rt = runtime_mt();
    let store = Arc::new(
        rt.block_on(PostgresStore::connect(&db))
            .expect("connect to the benchmark database"),
    );
    println!("# weft Postgres store, {}", store_describe(&store));
    // Sections named on the command line, or all of them.
    let only: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let wanted = |name: &str| only.is_empty() || only.contains(&name);
    if wanted("layouts") {
        append_layouts(&rt, &store);
    }
    if wanted("completions") {
        completions(&rt, &store);
    }
    if only.contains(&"appends") {
        appends(&rt, &store);
    }
    if wanted("runs") {
        runs_per_second(&rt, &store, &db);
    }
    if wanted("takeover") {
        takeover(&rt, &store, &db);
    }
    rt.block_on(async {
        let conn = store.pool().get().await.expect("connection");
        conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop the benchmark schema");
    });
}

fn store_describe(store: &PostgresStore) -> String {
    weft::Store::describe(store)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

// ---- append layouts ----------------------------------------------------------

/// The ways one append's journal rows can go in, each in a transaction of
/// its own on one connection; `rows` rows of `per_row` records each.
#[derive(Clone, Copy)]
enum Layout {
    /// `INSERT … SELECT * FROM unnest($1::uuid[], …)`: a function in
    /// `FROM`, whose rows the server gathers in a tuple store first.
    UnnestFrom,
    /// `INSERT … SELECT unnest($1::uuid[]), …`: the arrays unrolled in the
    /// select list, row by row.
    UnnestSelect,
    /// `INSERT … VALUES ($1, $2, $3, $4)` once per row, pipelined.
    Values,
    /// `COPY … FROM STDIN BINARY`.
    Copy,
}

impl Layout {
    const ALL: [Layout; 4] = [
        Layout::UnnestFrom,
        Layout::UnnestSelect,
        Layout::Values,
        Layout::Copy,
    ];
}

/// Inserts the rows by `layout` and commits; the wall time and the CPU
/// time of the connection's backend (`pid`).
#[allow(clippy::too_many_arguments)]
async fn insert_rows(
    conn: &mut tokio_postgres::Client,
    pid: i32,
    s: &str,
    stmts: &[tokio_postgres::Statement; 3],
    layout: Layout,
    rows: usize,
    last: i64,
    body: &[u8],
) -> (Duration, Duration) {
    let ids: Vec<uuid::Uuid> = (0..rows).map(|_| *RunId::new().as_uuid()).collect();
    let firsts: Vec<i64> = vec![0; rows];
    let lasts: Vec<i64> = vec![last; rows];
    let bodies: Vec<&[u8]> = vec![body; rows];
    let cpu0 = cpu_ns(&format!("/proc/{pid}/schedstat"));
    let began = Instant::now();
    let tx = conn.transaction().await.expect("begin");
    match layout {
        Layout::UnnestFrom | Layout::UnnestSelect => {
            let stmt = &stmts[matches!(layout, Layout::UnnestSelect) as usize];
            tx.execute(stmt, &[&ids, &firsts, &lasts, &bodies])
                .await
                .expect("insert");
        }
        Layout::Values => {
            let params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 4]> = ids
                .iter()
                .map(|id| [id as _, &0i64 as _, &last as _, &body as _])
                .collect();
            let inserts = params.iter().map(|p| tx.execute(&stmts[2], p));
            futures::future::try_join_all(inserts)
                .await
                .expect("insert");
        }
        Layout::Copy => {
            let sink = tx
                .copy_in(&format!(
                    "COPY {s}.bench_journal (run, first_seq, last_seq, records) FROM STDIN BINARY"
                ))
                .await
                .expect("copy");
            let writer =
                BinaryCopyInWriter::new(sink, &[Type::UUID, Type::INT8, Type::INT8, Type::BYTEA]);
            futures::pin_mut!(writer);
            for id in &ids {
                writer
                    .as_mut()
                    .write(&[id, &0i64, &last, &body])
                    .await
                    .expect("row");
            }
            writer.finish().await.expect("finish");
        }
    }
    tx.commit().await.expect("commit");
    let wall = began.elapsed();
    let cpu = cpu_ns(&format!("/proc/{pid}/schedstat")).saturating_sub(cpu0);
    (wall, Duration::from_nanos(cpu))
}

/// Journal rows the way an append writes them (one per run per batch),
/// through the ways Postgres takes many rows in one transaction, taken in
/// turn so that each sees the same machine.
fn append_layouts(rt: &Runtime, store: &PostgresStore) {
    const ITERS: usize = 15;
    let s = store.schema().to_owned();
    rt.block_on(async {
        let conn = store.pool().get().await.expect("connection");
        // As the store's journal table is (its compression included).
        conn.batch_execute(&format!(
            "CREATE TABLE {s}.bench_journal (LIKE {s}.journal INCLUDING ALL)"
        ))
        .await
        .expect("scratch table");
    });
    println!();
    println!(
        "## One append's journal rows, four ways (median of {ITERS}; CPU: the server backend's)"
    );
    println!(
        "| rows × records per row | unnest in FROM | unnest in SELECT | VALUES per row | COPY |"
    );
    println!("|---|---|---|---|---|");
    let record = serde_json::to_vec(&json!({"attempt": {"step": 1, "instance": 1, "item": null,
        "attempt": 1, "outcome": {"ok": {"result": null}}, "started_at": 1_700_000_000_000u64,
        "ended_at": 1_700_000_000_001u64}}))
    .expect("json");
    for (rows, per_row) in [
        (1usize, 8192usize),
        (1, 2048),
        (64, 128),
        (1000, 1),
        (8192, 1),
    ] {
        let mut body = vec![b'['];
        for i in 0..per_row {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&record);
        }
        body.push(b']');
        let mut walls = vec![Vec::new(); Layout::ALL.len()];
        let mut cpus = vec![Vec::new(); Layout::ALL.len()];
        rt.block_on(async {
            let mut conn = store.pool().get().await.expect("connection");
            let pid: i32 = conn
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .expect("pid")
                .get(0);
            let insert =
                format!("INSERT INTO {s}.bench_journal (run, first_seq, last_seq, records)");
            let stmts = [
                format!(
                    "{insert} SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::bytea[])"
                ),
                format!(
                    "{insert} SELECT unnest($1::uuid[]), unnest($2::int8[]), unnest($3::int8[]), \
                     unnest($4::bytea[])"
                ),
                format!("{insert} VALUES ($1, $2, $3, $4)"),
            ];
            let mut prepared = Vec::new();
            for sql in &stmts {
                prepared.push(conn.prepare(sql).await.expect("prepare"));
            }
            let stmts: [tokio_postgres::Statement; 3] =
                prepared.try_into().expect("three statements");
            let last = per_row as i64 - 1;
            for _ in 0..ITERS {
                for (i, layout) in Layout::ALL.into_iter().enumerate() {
                    let (wall, cpu) =
                        insert_rows(&mut conn, pid, &s, &stmts, layout, rows, last, &body).await;
                    walls[i].push(wall);
                    cpus[i].push(cpu);
                }
            }
        });
        let cells: Vec<String> = walls
            .into_iter()
            .zip(cpus)
            .map(|(w, c)| {
                let (w, c) = (median(w), median(c));
                format!(
                    "{:.0} records/s ({:.2} ms, CPU {:.2} ms)",
                    (rows * per_row) as f64 / w.as_secs_f64(),
                    w.as_secs_f64() * 1e3,
                    c.as_secs_f64() * 1e3
                )
            })
            .collect();
        println!("| {rows} × {per_row} | {} |", cells.join(" | "));
    }
    // Keep the server's cache for what follows.
    rt.block_on(async {
        let conn = store.pool().get().await.expect("connection");
        let _ = conn
            .batch_execute(&format!("DROP TABLE {s}.bench_journal"))
            .await;
    });
}

// ---- journaled completions ------------------------------------------------

fn plan(shape: &Shape, ex: &Executor) -> Plan {
    let text = weft_builder(shape)
        .build()
        .and_then(|w| w.to_yaml_string())
        .expect("benchmark workflow");
    Workflow::from_yaml_str(&text)
        .and_then(|w| w.with_name(shape.name).compile(ex))
        .expect("benchmark workflow compiles")
}

fn noop_builder() -> weft::ExecutorBuilder {
    Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .action("bench.hold", |_: ActionInput| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Value::Null)
        })
}

/// One run of each shape per iteration, the journal flushed before the
/// clock stops: journaled task completions per second, end to end.
fn completions(rt: &Runtime, store: &Arc<PostgresStore>) {
    println!();
    println!("## Journaled task completions per second, one process (median)");
    println!("| shape | memory | postgres write-behind | postgres sync |");
    println!("|---|---|---|---|");
    for (shape, iters) in [
        (Shape::independent("independent_10k", 10_000), 7),
        (Shape::chain("chain_100", 100), 7),
    ] {
        let memory = noop_builder().build();
        let wb = noop_builder().store(store.clone()).build();
        let sync = noop_builder()
            .store(store.clone())
            .durability(Durability::Sync)
            .build();
        let mut cells = Vec::new();
        for ex in [&memory, &wb, &sync] {
            let p = plan(&shape, ex);
            let mut times = Vec::new();
            for _ in 0..iters {
                times.push(rt.block_on(async {
                    let began = Instant::now();
                    let out = ex.start(&p, json!({})).expect("start").await.expect("run");
                    assert!(out.succeeded(), "{:?}", out.errors);
                    ex.flush().await.expect("journal committed");
                    began.elapsed()
                }));
            }
            let m = median(times);
            cells.push(format!(
                "{:.0} tasks/s ({:.1} ms)",
                shape.len() as f64 / m.as_secs_f64(),
                m.as_secs_f64() * 1e3
            ));
        }
        println!(
            "| {} | {} | {} | {} |",
            shape.name, cells[0], cells[1], cells[2]
        );
    }
}

// ---- the client's threads, for callgrind ------------------------------------

/// `profile TASKS RUNS [ct|mt]`: see the module's docs.
fn profile(db: &str, schema: &str, args: &[String]) {
    let arg = |i: usize, default: usize| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a whole number"))
    };
    let (tasks, runs) = (arg(0, 10_000), arg(1, 2));
    let rt = match args.get(2).map_or("ct", String::as_str) {
        "ct" => common::runtime_ct(),
        "mt" => runtime_mt(),
        other => panic!("`{other}`: expected `ct` or `mt`"),
    };
    let store = Arc::new(
        rt.block_on(PostgresStore::connect(db))
            .expect("connect to the benchmark database"),
    );
    let shape = match args.get(3).map_or("independent", String::as_str) {
        "independent" => Shape::independent("independent", tasks),
        "chain" => Shape::chain("chain", tasks),
        other => panic!("`{other}`: expected `independent` or `chain`"),
    };
    let durability = match args.get(4).map_or("wb", String::as_str) {
        "wb" => Durability::WriteBehind,
        "sync" => Durability::Sync,
        other => panic!("`{other}`: expected `wb` or `sync`"),
    };
    let ex = noop_builder()
        .store(store.clone())
        .durability(durability)
        .build();
    let p = plan(&shape, &ex);
    let backends = rt.block_on(pool_backends(&store));
    let server_ns = || -> u64 {
        backends
            .iter()
            .map(|pid| cpu_ns(&format!("/proc/{pid}/schedstat")))
            .sum()
    };
    let main_thread = format!("/proc/self/task/{}/schedstat", std::process::id());
    let (main0, all0, server0) = (cpu_ns(&main_thread), client_cpu_ns(), server_ns());
    let mut walls = Vec::new();
    for _ in 0..runs {
        walls.push(rt.block_on(async {
            let began = Instant::now();
            let out = ex.start(&p, json!({})).expect("start").await.expect("run");
            assert!(out.succeeded(), "{:?}", out.errors);
            ex.flush().await.expect("journal committed");
            began.elapsed()
        }));
    }
    let main = cpu_ns(&main_thread) - main0;
    let others = (client_cpu_ns() - all0).saturating_sub(main);
    let server = server_ns() - server0;
    let per_task = |ns: u64| ns as f64 / (runs as f64 * tasks as f64);
    println!(
        "{runs} runs of {tasks} tasks: median {:.2} ms; CPU a task: main thread {:.0} ns, \
         other threads {:.0} ns, server backends {:.0} ns",
        median(walls).as_secs_f64() * 1e3,
        per_task(main),
        per_task(others),
        per_task(server)
    );
    rt.block_on(async {
        let conn = store.pool().get().await.expect("connection");
        conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop the benchmark schema");
    });
}

// ---- where an append's time goes ---------------------------------------

/// Times each append of the store it wraps.
#[derive(Default)]
struct Timed {
    /// Each append: when it began, how long it took, its records.
    log: std::sync::Mutex<Vec<(Instant, Duration, usize)>>,
}

impl Timed {
    fn note(&self, began: Instant, records: usize) {
        self.log
            .lock()
            .expect("log")
            .push((began, began.elapsed(), records));
    }
}

impl AppendHook for Timed {
    fn append<'a>(
        &'a self,
        inner: &'a dyn weft::Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        Box::pin(async move {
            let began = Instant::now();
            let out = inner.append(entries).await;
            self.note(began, entries.len());
            out
        })
    }

    /// The journal's commits: the store's own `append_owned`.
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn weft::Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        Box::pin(async move {
            let (began, records) = (Instant::now(), entries.len());
            let out = inner.append_owned(entries).await;
            self.note(began, records);
            out
        })
    }
}

/// Nanoseconds a process (or thread) has run on a CPU, from
/// `/proc/…/schedstat` (0 when it cannot be read).
fn cpu_ns(schedstat: &str) -> u64 {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The server processes of every connection of `store`'s pool, so that
/// every backend an append can use is counted.
async fn pool_backends(store: &PostgresStore) -> Vec<i32> {
    let mut conns = Vec::new();
    for _ in 0..store.pool().status().max_size {
        conns.push(store.pool().get().await.expect("connection"));
    }
    let mut pids = Vec::new();
    for c in &conns {
        pids.push(
            c.query_one("SELECT pg_backend_pid()", &[])
                .await
                .expect("pid")
                .get(0),
        );
    }
    pids
}

/// CPU time of this process's threads, in ns.
fn client_cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .map(|t| cpu_ns(&format!("{}/schedstat", t.path().display())))
                .sum()
        })
        .unwrap_or(0)
}

/// `independent_10k` write-behind through a store that times its appends:
/// per run, the timeline (the appends, the run's end, the flush), the CPU
/// time the server's backends of the store's pool spent (the server is on
/// this machine: `/proc/<pid>/schedstat` of each backend), and the
/// client's; then the medians over the runs.
fn appends(rt: &Runtime, store: &Arc<PostgresStore>) {
    const ITERS: usize = 9;
    let backends = rt.block_on(pool_backends(store));
    let server_ns = || -> u64 {
        backends
            .iter()
            .map(|pid| cpu_ns(&format!("/proc/{pid}/schedstat")))
            .sum()
    };
    let timed = Arc::new(Hooked::new(store.clone(), Timed::default()));
    let ex = noop_builder().store(timed.clone()).build();
    let memory = noop_builder().build();
    let shape = Shape::independent("independent_10k", 10_000);
    let p = plan(&shape, &ex);
    let pm = plan(&shape, &memory);
    println!();
    println!(
        "## Where an independent_10k write-behind run's time goes ({ITERS} runs; {} backends)",
        backends.len()
    );
    println!("| run | appends: start+time ms (records) | run ended ms | flushed ms | server CPU ms | client CPU ms | memory run: wall / client CPU ms |");
    println!("|---|---|---|---|---|---|---|");
    let (mut walls, mut servers, mut clients, mut mem_clients) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..ITERS {
        let (mem_wall, mem_cpu) = rt.block_on(async {
            let c0 = client_cpu_ns();
            let began = Instant::now();
            let out = memory
                .start(&pm, json!({}))
                .expect("start")
                .await
                .expect("run");
            assert!(out.succeeded());
            (began.elapsed(), client_cpu_ns() - c0)
        });
        timed.hook.log.lock().expect("log").clear();
        let (s0, c0) = (server_ns(), client_cpu_ns());
        let (began, ended, flushed) = rt.block_on(async {
            let began = Instant::now();
            let out = ex.start(&p, json!({})).expect("start").await.expect("run");
            let ended = began.elapsed();
            assert!(out.succeeded(), "{:?}", out.errors);
            ex.flush().await.expect("journal committed");
            (began, ended, began.elapsed())
        });
        let (server, client) = (server_ns() - s0, client_cpu_ns() - c0);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let shown: Vec<String> = timed
            .hook
            .log
            .lock()
            .expect("log")
            .iter()
            .map(|(at, took, n)| {
                format!(
                    "{:.1}+{:.1} ({n})",
                    ms(at.saturating_duration_since(began)),
                    ms(*took)
                )
            })
            .collect();
        println!(
            "| {i} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} |",
            shown.join(", "),
            ms(ended),
            ms(flushed),
            server as f64 / 1e6,
            client as f64 / 1e6,
            ms(mem_wall),
            mem_cpu as f64 / 1e6
        );
        walls.push(flushed);
        servers.push(Duration::from_nanos(server));
        clients.push(Duration::from_nanos(client));
        mem_clients.push(Duration::from_nanos(mem_cpu));
    }
    let m = |v: Vec<Duration>| median(v).as_secs_f64() * 1e3;
    let wall = m(walls);
    println!(
        "median: flushed {wall:.1} ms ({:.0} tasks/s), server CPU {:.1} ms, client CPU {:.1} ms (memory run {:.1} ms)",
        shape.len() as f64 / (wall / 1e3),
        m(servers),
        m(clients),
        m(mem_clients)
    );
}

// ---- worker processes -------------------------------------------------------

/// This program as a worker: claims and runs until its stdin closes.
fn worker_process(db: &str, lease_ms: u64) {
    let rt = runtime_mt();
    rt.block_on(async {
        let lease = Duration::from_millis(lease_ms);
        let options = PostgresOptions::new().lease(lease).heartbeat(lease / 4);
        let store = Arc::new(
            PostgresStore::connect_with(db, &options)
                .await
                .expect("worker connects"),
        );
        let owner = store.owner().to_owned();
        let ex = noop_builder().store(store).build();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            let _ = tx.send(());
        });
        println!("ready {owner}");
        let _ = std::io::stdout().flush();
        let _ = ex
            .worker(WorkerConfig::new().max_runs(256).claim_batch(64))
            .run(async {
                let _ = rx.await;
            })
            .await;
    });
}

struct Child2 {
    child: Child,
    owner: String,
}

fn spawn_worker(db: &str, lease_ms: u64) -> Child2 {
    let mut child = Command::new(std::env::current_exe().expect("this program"))
        .args(["--worker", db, &lease_ms.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a worker");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("the worker says it is ready");
    let owner = line.trim().strip_prefix("ready ").unwrap_or("").to_owned();
    Child2 { child, owner }
}

fn stop(mut w: Child2) {
    drop(w.child.stdin.take());
    let _ = w.child.wait();
}

async fn count_active(store: &PostgresStore) -> i64 {
    let conn = store.pool().get().await.expect("connection");
    conn.query_one(
        &format!(
            "SELECT count(*) FROM {}.runs WHERE status IN ('queued','running','pausing','paused','canceling')",
            store.schema()
        ),
        &[],
    )
    .await
    .expect("count")
    .get(0)
}

/// Short runs (three no-op tasks in a chain) submitted ahead, then worked
/// off by 1 and by 2 worker processes: runs per second from the workers'
/// start to the last run's end.
fn runs_per_second(rt: &Runtime, store: &Arc<PostgresStore>, db: &str) {
    const N: usize = 3000;
    println!();
    println!("## Short runs (3 tasks) per second, {N} submitted ahead");
    println!("| worker processes | runs/s | tasks/s | wall |");
    println!("|---|---|---|---|");
    let ex = noop_builder().store(store.clone()).build();
    let text = WorkflowBuilder::new("short")
        .task("a", |t| t.action("bench.noop"))
        .task("b", |t| t.action("bench.noop").after(["a"]))
        .task("c", |t| t.action("bench.noop").after(["b"]))
        .build()
        .and_then(|w| w.to_yaml_string())
        .expect("short workflow");
    let plan = Workflow::from_yaml_str(&text)
        .and_then(|w| w.with_name("short").compile(&ex))
        .expect("compiles");
    for workers in [1usize, 2] {
        rt.block_on(async {
            for _ in 0..N {
                ex.submit(&plan, json!({})).await.expect("submit");
            }
        });
        let began = Instant::now();
        let children: Vec<Child2> = (0..workers).map(|_| spawn_worker(db, 30_000)).collect();
        rt.block_on(async {
            while count_active(store).await > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let wall = began.elapsed();
        for c in children {
            stop(c);
        }
        println!(
            "| {workers} | {:.0} | {:.0} | {:.2} s |",
            N as f64 / wall.as_secs_f64(),
            3.0 * N as f64 / wall.as_secs_f64(),
            wall.as_secs_f64()
        );
    }
}

/// A worker holding a run is SIGKILLed; another is waiting. Time from the
/// kill to the run's new owner.
fn takeover(rt: &Runtime, store: &Arc<PostgresStore>, db: &str) {
    println!();
    println!("## Takeover after SIGKILL (heartbeat = lease / 4; 3 kills each)");
    println!("| lease | takeover times | lease + 1 s |");
    println!("|---|---|---|");
    let ex = noop_builder().store(store.clone()).build();
    let plan = Workflow::from_yaml_str("tasks:\n  hold: {action: bench.hold}\n")
        .and_then(|w| w.with_name("hold").compile(&ex))
        .expect("compiles");
    for lease_ms in [2_000u64, 5_000] {
        let mut times = Vec::new();
        for _ in 0..3 {
            let mut a = spawn_worker(db, lease_ms);
            let run = rt.block_on(ex.submit(&plan, json!({}))).expect("submit");
            let owner_of = |run: RunId| {
                rt.block_on(async {
                    let conn = store.pool().get().await.expect("connection");
                    let row = conn
                        .query_one(
                            &format!("SELECT owner FROM {}.runs WHERE id = $1", store.schema()),
                            &[run.as_uuid()],
                        )
                        .await
                        .expect("owner");
                    row.get::<_, Option<String>>(0)
                })
            };
            while owner_of(run).as_deref() != Some(a.owner.as_str()) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let b = spawn_worker(db, lease_ms);
            a.child.kill().expect("SIGKILL");
            let killed = Instant::now();
            let _ = a.child.wait();
            while owner_of(run).as_deref() != Some(b.owner.as_str()) {
                std::thread::sleep(Duration::from_millis(5));
            }
            times.push(killed.elapsed());
            rt.block_on(ex.command(run, weft::store::Command::Abort))
                .expect("abort");
            stop(b);
        }
        let shown: Vec<String> = times
            .iter()
            .map(|t| format!("{:.2} s", t.as_secs_f64()))
            .collect();
        println!(
            "| {:.0} s | {} | {:.0} s |",
            lease_ms as f64 / 1e3,
            shown.join(", "),
            lease_ms as f64 / 1e3 + 1.0
        );
    }
}
