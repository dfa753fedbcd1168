//! Nothing is lost across crashes: a child process runs 50 durable
//! workflows on a SQLite file, and is killed with SIGKILL at random moments
//! (at least 20 times), then restarted, each time resuming what was
//! interrupted with `Executor::recover`. The actions write every execution
//! to a file, with the generation of the process that ran it.
//!
//! At the end every run has succeeded with the output of an uninterrupted
//! run, and:
//! * no attempt ran twice in one process;
//! * an attempt ran again in a later process only if its outcome was not in
//!   the journal when the process that ran it was killed (it was in flight);
//!   an attempt whose outcome was journaled never ran again.
//!
//! The test re-runs its own binary as the child (`WEFT_CRASH_DIR` set).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_core::Workflow;
use weft_runtime::store::{Record, RunFilter, Store};
use weft_runtime::{ActionError, ActionInput, Executor, ExecutorBuilder, RunStatus};
use weft_store_sqlite::SqliteStore;

const DIR: &str = "WEFT_CRASH_DIR";
const GEN: &str = "WEFT_CRASH_GEN";
const RUNS: u64 = 50;
const KILLS: usize = 20;

const WORKFLOW: &str = "
input: [i]
tasks:
  first:
    action: count
    input: {n: '{{ parameters.i }}'}
    next: [{do: [fan, side]}]
  fan:
    with: {items: '{{ range(8) | list }}', concurrency: 2}
    action: count
    input: {n: '{{ parameters.i * 10 + item }}'}
    retry: {count: 2}
    next: [{when: '{{ succeeded() }}', do: last}]
  side:
    action: count
    input: {n: 1000}
    next: [{do: last}]
  last:
    join: all
    action: count
    input: {n: '{{ task.fan | length }}', gate: true}
output:
  - fan: '{{ task.fan }}'
  - side: '{{ task.side }}'
  - last: '{{ task.last }}'
";

/// A small, deterministic pseudo-random number from a text.
fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The counting action: notes the execution, waits a while, and gives a
/// result that depends only on its input; attempt 1 fails when n % 3 == 0.
/// An attempt with `gate: true` waits (in the child) until the parent
/// opens the gate, so that the runs are still going at every kill.
fn builder(log: Option<(PathBuf, u32)>) -> ExecutorBuilder {
    Executor::builder().action("count", move |input: ActionInput| {
        let log = log.clone();
        async move {
            let key = format!(
                "{}/{}/{}/{}",
                input.run_id,
                input.instance,
                input.index.map_or("-".to_owned(), |i| i.to_string()),
                input.attempt
            );
            if let Some((path, gen)) = &log {
                if input.get("gate").is_some() {
                    let gate = path.with_file_name("gate-open");
                    while !gate.exists() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| ActionError::new(e.to_string()))?;
                f.write_all(format!("{gen} {key}\n").as_bytes())
                    .map_err(|e| ActionError::new(e.to_string()))?;
                tokio::time::sleep(Duration::from_millis(10 + hash(&key) % 40)).await;
            }
            let n = input.get("n").and_then(Value::as_u64).unwrap_or(0);
            if n.is_multiple_of(3) && input.attempt == 1 {
                return Err(ActionError::new(format!("{n} fails once")));
            }
            Ok(json!({"n": n, "twice": n * 2}))
        }
    })
}

/// The child: resumes what was interrupted, starts the runs not yet in the
/// store, and waits for all of them.
fn child(dir: &Path, gen: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = loop {
            // The killed process's lock is released by the system at once.
            match SqliteStore::open(dir.join("runs.db")) {
                Ok(s) => break Arc::new(s),
                Err(e) if e.to_string().contains("in use") => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        let ex = builder(Some((dir.join("executions"), gen)))
            .store(store.clone())
            .build();
        let recovered = ex.recover().await.unwrap();
        assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
        let mut runs = recovered.runs;
        let mut present = BTreeSet::new();
        for r in store.list(&RunFilter::all()).await.unwrap() {
            let entries = store.load(r.id).await.unwrap();
            if let Record::Started(start) = &entries[0].record {
                present.insert(start.inputs["i"].as_u64().unwrap());
            }
        }
        let plan = Workflow::from_yaml_str(WORKFLOW)
            .unwrap()
            .compile(&ex)
            .unwrap();
        for i in 0..RUNS {
            if !present.contains(&i) {
                runs.push(ex.start(&plan, json!({ "i": i })).unwrap());
            }
        }
        for run in runs {
            let out = run.await.unwrap();
            assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        }
        ex.flush().await.unwrap();
    });
}

/// The keys of every attempt whose outcome the store's journals hold.
///
/// A generation killed before its process made the store (a slow start
/// on a loaded machine) leaves no file, or one not set up yet: nothing
/// is journaled then. Once a store has been read (`seen`), it must open.
fn journaled(dir: &Path, seen: &mut bool) -> BTreeSet<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = match SqliteStore::open_read_only(dir.join("runs.db")) {
            Ok(store) => store,
            Err(e) if !*seen => {
                eprintln!("no store yet at this kill ({e})");
                return BTreeSet::new();
            }
            Err(e) => panic!("the store no longer opens: {e}"),
        };
        *seen = true;
        let mut keys = BTreeSet::new();
        for r in store.list(&RunFilter::all()).await.unwrap() {
            for e in store.load(r.id).await.unwrap() {
                if let Record::Attempt(a) = &e.record {
                    keys.insert(format!(
                        "{}/{}/{}/{}",
                        e.run,
                        a.instance,
                        a.item.map_or("-".to_owned(), |i| i.to_string()),
                        a.attempt
                    ));
                }
            }
        }
        keys
    })
}

#[test]
fn fifty_runs_survive_twenty_kills_without_losing_or_repeating_recorded_work() {
    if let Some(dir) = std::env::var_os(DIR) {
        let gen: u32 = std::env::var(GEN).unwrap().parse().unwrap();
        child(Path::new(&dir), gen);
        return;
    }
    if !cfg!(unix) {
        eprintln!("skipped: SIGKILL needs a unix system");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut kills = 0usize;
    // After the kill of generation g, the attempts journaled by then.
    let mut journaled_at_kill: Vec<BTreeSet<String>> = Vec::new();
    let mut store_seen = false;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let t0 = Instant::now();
    let mut gen = 0u32;
    loop {
        let mut c = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "fifty_runs_survive_twenty_kills_without_losing_or_repeating_recorded_work",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR, dir.path())
            .env(GEN, gen.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if kills == KILLS {
            std::fs::write(dir.path().join("gate-open"), b"").unwrap();
        }
        if kills < KILLS {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            std::thread::sleep(Duration::from_millis(30 + rng % 150));
            if c.try_wait().unwrap().is_none() {
                c.kill().unwrap();
                c.wait().unwrap();
                kills += 1;
                journaled_at_kill.push(journaled(dir.path(), &mut store_seen));
                gen += 1;
                continue;
            }
        }
        let status = c.wait().unwrap();
        assert!(status.success(), "generation {gen} failed");
        break;
    }
    assert_eq!(kills, KILLS);
    assert!(t0.elapsed() < Duration::from_secs(300));

    // Every run succeeded, with the output of a run that was never
    // interrupted.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reference = rt.block_on(async {
        let ex = builder(None).build();
        let plan = Workflow::from_yaml_str(WORKFLOW)
            .unwrap()
            .compile(&ex)
            .unwrap();
        let mut out = HashMap::new();
        for i in 0..RUNS {
            out.insert(
                i,
                ex.start(&plan, json!({ "i": i }))
                    .unwrap()
                    .await
                    .unwrap()
                    .output,
            );
        }
        out
    });
    let ex = Executor::builder()
        .store(Arc::new(
            SqliteStore::open_read_only(dir.path().join("runs.db")).unwrap(),
        ))
        .build();
    let summaries = rt
        .block_on(ex.store().unwrap().list(&RunFilter::all()))
        .unwrap();
    assert_eq!(summaries.len(), RUNS as usize);
    for s in &summaries {
        assert_eq!(s.status, RunStatus::Succeeded, "run {}", s.id);
        let seen = rt.block_on(ex.inspect(s.id)).unwrap();
        let entries = rt.block_on(ex.store().unwrap().load(s.id)).unwrap();
        let Record::Started(start) = &entries[0].record else {
            panic!("no start")
        };
        let i = start.inputs["i"].as_u64().unwrap();
        assert_eq!(seen.output, reference[&i], "run {} (i = {i})", s.id);
        // One start, one end, at the end; sequence numbers without gaps.
        assert_eq!(
            entries
                .iter()
                .filter(|e| matches!(e.record, Record::Started(_)))
                .count(),
            1
        );
        assert!(matches!(entries.last().unwrap().record, Record::Ended(_)));
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(e.seq, k as u64);
        }
    }

    // Executions: by key, the generations that ran it.
    let log = std::fs::read_to_string(dir.path().join("executions")).unwrap();
    let mut ran: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for line in log.lines() {
        let (g, key) = line.split_once(' ').unwrap();
        ran.entry(key.to_owned())
            .or_default()
            .push(g.parse().unwrap());
    }
    let mut extra = 0;
    for (key, gens) in &ran {
        for w in gens.windows(2) {
            assert_ne!(w[0], w[1], "{key} ran twice in generation {}", w[0]);
            // It ran again after the kill of generation w[0]: its outcome
            // must not have been journaled by then.
            let g = w[0] as usize;
            assert!(
                g < journaled_at_kill.len() && !journaled_at_kill[g].contains(key),
                "{key} ran again in generation {} although its outcome was journaled when generation {g} was killed",
                w[1]
            );
            extra += 1;
        }
    }
    // Every journaled attempt ran at least once.
    let finally = journaled(dir.path(), &mut true);
    for key in &finally {
        assert!(ran.contains_key(key), "{key} is journaled but never ran");
    }
    eprintln!(
        "{kills} kills, {} attempts journaled, {} executions, {extra} beyond one per attempt (in flight at a kill)",
        finally.len(),
        log.lines().count()
    );
}
