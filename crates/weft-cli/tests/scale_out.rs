//! Scale-out from the command line, against a real Postgres server: three
//! `weft worker` processes share 200 submitted runs while one of them is
//! killed with SIGKILL three times in the middle of its runs and started
//! again, while the runs arrive at 20 a second. Every run must end exactly once with the reference output, no
//! journal write of a fenced owner may be accepted, actions may run more
//! than once only where a worker that had them in flight was killed or
//! lost its lease (at least once, as docs/scale-out.md promises), and the killed
//! worker's runs must be taken over within the lease plus one second.
//!
//! A parent whose sub-workflow runs in a worker killed mid-child is taken
//! over, with its child, by another worker.
//!
//! Needs `WEFT_TEST_POSTGRES_URL` (`.ci/run` sets it); without it the tests
//! are ignored (`build.rs`).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::store::Record;
use weft_runtime::{Executor, RunId, RunStatus, Store};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::{url, with_schema, Schemas};

const RUNS: usize = 200;
const LEASE: Duration = Duration::from_secs(2);

/// A worker process, its name as the owner of leases, the line it prints
/// when it stops (with what it claimed and lost), and the runs it said it
/// lost as it lost them.
struct Worker {
    child: Child,
    owner: String,
    stopped: mpsc::Receiver<String>,
    lost_runs: mpsc::Receiver<String>,
}

impl Worker {
    /// The runs the worker said it lost (once it has stopped).
    fn lost_runs(&self) -> HashSet<String> {
        self.lost_runs.try_iter().collect()
    }

    /// How many runs the worker lost (taken over, or a lease it could not
    /// renew in time), from the line it printed as it stopped.
    fn lost(&self) -> usize {
        let line = self
            .stopped
            .recv_timeout(Duration::from_secs(10))
            .expect("the worker says what it did as it stops");
        // "worker OWNER: stopped; C runs claimed, E ended here, L lost, …"
        line.split(", ")
            .find_map(|part| part.strip_suffix(" lost"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected last line: {line}"))
    }
}

fn start_worker(db: &str) -> Worker {
    start_worker_with(db, &[])
}

/// [`start_worker`], with more arguments.
fn start_worker_with(db: &str, more: &[&str]) -> Worker {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "worker",
            "--db",
            db,
            "--max-runs",
            "20",
            "--claim-batch",
            "5",
        ])
        .args(["--lease", "2s", "--heartbeat", "500ms"])
        .args(more)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weft worker");
    let stderr = child.stderr.take().expect("the worker's stderr");
    let (tx, rx) = mpsc::channel();
    let (stopped_tx, stopped) = mpsc::channel();
    let (lost_tx, lost_runs) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = true;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if first {
                let _ = tx.send(line.clone());
                first = false;
            } else if line.contains(": stopped; ") {
                let _ = stopped_tx.send(line);
            } else if line.contains("lost the run") {
                // "… WARN weft_runtime::worker: lost the run: … run_id=ID"
                let id = line
                    .split("run_id=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap_or_else(|| panic!("no run id in: {line}"));
                let _ = lost_tx.send(id.to_owned());
            } else if line.contains("error") || line.contains("panicked") {
                eprintln!("worker: {line}");
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker says who it is");
    // "worker OWNER: running up to …"
    let owner = line
        .strip_prefix("worker ")
        .and_then(|l| l.split(": ").next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    Worker {
        child,
        owner,
        stopped,
        lost_runs,
    }
}

fn flow(log: &Path) -> String {
    let log = log.display();
    let task = |t: &str, next: &str| {
        format!(
            "  {t}:\n    action: core.local\n    input:\n      cmd: >-\n        echo \"start {{{{ parameters.k }}}} {t} $PPID\" >> {log};\n        sleep 0.3;\n        echo \"end {{{{ parameters.k }}}} {t} $PPID\" >> {log};\n        echo {t}{{{{ parameters.k }}}}\n{next}"
        )
    };
    format!(
        "input: [k]\ntasks:\n{}{}{}output:\n  - got: \"{{{{ task.a.stdout | trim }}}}-{{{{ task.b.stdout | trim }}}}-{{{{ task.c.stdout | trim }}}}\"\n",
        task("a", "    next: [{do: b}]\n"),
        task("b", "    next: [{do: c}]\n"),
        task("c", ""),
    )
}

async fn active_owned_by(store: &PostgresStore, owner: &str) -> i64 {
    let conn = store.pool().get().await.unwrap();
    conn.query_one(
        &format!(
            "SELECT count(*) FROM {}.runs WHERE owner = $1 AND status IN \
             ('running', 'pausing', 'paused', 'canceling')",
            store.schema()
        ),
        &[&owner],
    )
    .await
    .unwrap()
    .get(0)
}

async fn active(store: &PostgresStore) -> i64 {
    let conn = store.pool().get().await.unwrap();
    conn.query_one(
        &format!(
            "SELECT count(*) FROM {}.runs WHERE status IN \
             ('queued', 'running', 'pausing', 'paused', 'canceling')",
            store.schema()
        ),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn workers_killed_mid_run_lose_nothing_and_finish_nothing_twice() {
    let schemas = Schemas::new(&url(), "scaleout");
    let db = schemas.fresh_url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("executions.log");
    let file = dir.path().join("flow.yaml");
    std::fs::write(&file, flow(&log)).unwrap();

    let store = std::sync::Arc::new(
        rt.block_on(PostgresStore::connect_with(&db, &PostgresOptions::new()))
            .unwrap(),
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&rt, &store, &db, &file, &log)
    }));
    // Drop the schema whatever happened.
    rt.block_on(schemas.drop_all());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn scenario(
    rt: &tokio::runtime::Runtime,
    store: &std::sync::Arc<PostgresStore>,
    db: &str,
    file: &Path,
    log: &Path,
) {
    let began = Instant::now();
    let executor = Executor::builder().store(store.clone()).build();
    let text = std::fs::read_to_string(file).unwrap();
    let plan = Workflow::from_yaml_str(&text)
        .unwrap()
        .with_name("flow")
        .compile(&executor)
        .unwrap();
    // A few through `weft submit`, the rest through the library.
    let mut runs: Vec<(RunId, usize)> = Vec::new();
    for k in 0..5 {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["submit", "--db", db, "-i", &format!("k={k}")])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id: RunId = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        runs.push((id, k));
    }
    let mut workers: Vec<Worker> = (0..3).map(|_| start_worker(db)).collect();
    // Every worker's pid, to tell a shell's parent: a worker killed between
    // starting a task's shell and the shell reading its parent leaves an
    // orphan, whose `$PPID` is init's (or a subreaper's), no worker's.
    let mut worker_pids: HashSet<u32> = workers.iter().map(|w| w.child.id()).collect();
    // The rest arrive at 20 a second, under what the workers can run, so
    // that a takeover measures the lease and the claim, not a queue.
    let submitting = {
        let executor = executor.clone();
        let plan = plan.clone();
        rt.spawn(async move {
            let mut out = Vec::new();
            for k in 5..RUNS {
                let id = executor.submit(&plan, json!({"k": k})).await.unwrap();
                out.push((id, k));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            out
        })
    };
    let mut killed_pids: HashSet<u32> = HashSet::new();
    let mut takeovers = Vec::new();
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(if round == 0 { 1500 } else { 500 }));
        let victim = &mut workers[0];
        // A worker just started (rounds 1 and 2) may not have claimed yet
        // on a loaded machine: wait for it to hold a run, within bounds.
        let owned_at_kill = rt.block_on(async {
            let waiting = Instant::now();
            loop {
                let owned = active_owned_by(store, &victim.owner).await;
                if owned > 0 || waiting.elapsed() > Duration::from_secs(5) {
                    return owned;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        assert!(
            owned_at_kill > 0,
            "round {round}: the victim owned no run to lose within 5 s; the scenario is too short"
        );
        killed_pids.insert(victim.child.id());
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();
        let killed_at = Instant::now();
        let owner = victim.owner.clone();
        workers[0] = start_worker(db);
        worker_pids.insert(workers[0].child.id());
        let taken = rt.block_on(async {
            loop {
                if active_owned_by(store, &owner).await == 0 {
                    return killed_at.elapsed();
                }
                assert!(
                    killed_at.elapsed() < Duration::from_secs(15),
                    "round {round}: the killed worker's runs were not taken over in 15 s"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        eprintln!("round {round}: {owned_at_kill} runs taken over in {taken:?}");
        takeovers.push(taken);
    }
    runs.extend(rt.block_on(submitting).unwrap());
    rt.block_on(async {
        while active(store).await > 0 {
            assert!(
                began.elapsed() < Duration::from_secs(90),
                "runs still going after 90 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    for w in &mut workers {
        let status = Command::new("kill")
            .args(["-TERM", &w.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    // The runs that the workers that were not killed lost all the same (a
    // lease they could not renew in time on a loaded machine, a commit
    // refused because another worker had taken the run over), by pid: each
    // says so as it loses one, and counts them in the line it prints as it
    // stops.
    let mut lost_by: HashMap<u32, HashSet<String>> = HashMap::new();
    for w in &mut workers {
        let status = w.child.wait().unwrap();
        assert!(status.success(), "a worker stopped with {status}");
        let counted = w.lost();
        let named = w.lost_runs();
        assert!(
            named.len() <= counted,
            "worker {} named {} lost runs, and counted {counted}",
            w.owner,
            named.len()
        );
        lost_by.insert(w.child.id(), named);
    }
    let run_of: HashMap<String, String> = runs
        .iter()
        .map(|(id, k)| (k.to_string(), id.to_string()))
        .collect();

    // Every run ended once, with the reference output; its journal has
    // one record per attempt (a fenced owner's write would repeat one).
    rt.block_on(async {
        for (id, k) in &runs {
            let journal = store.load(*id).await.unwrap();
            let ends = journal
                .iter()
                .filter(|e| matches!(e.record, Record::Ended(_)))
                .count();
            assert_eq!(ends, 1, "run {id} (k={k}) ended {ends} times");
            assert!(matches!(journal.last().unwrap().record, Record::Ended(_)));
            let mut attempts = HashSet::new();
            for e in &journal {
                if let Record::Attempt(a) = &e.record {
                    assert!(
                        attempts.insert((a.instance, a.item, a.attempt)),
                        "run {id}: attempt {} of instance {} recorded twice",
                        a.attempt,
                        a.instance
                    );
                }
            }
            let outcome = executor.inspect(*id).await.unwrap();
            assert_eq!(
                outcome.status,
                RunStatus::Succeeded,
                "run {id}: {:?}",
                outcome.errors
            );
            assert_eq!(outcome.output["got"], json!(format!("a{k}-b{k}-c{k}")));
        }
    });

    // Executions: once per task, except where a worker that was running it
    // died or lost its lease. Actions run at least once (docs/scale-out.md):
    // an attempt in flight when its worker lost the run runs again in the
    // run's next owner, whether that worker was killed or only too slow to
    // renew; what the journal recorded never runs again (checked above:
    // no attempt is recorded twice, and replay skips recorded ones). So a
    // task runs twice in workers that were not killed only when the
    // earlier of them lost that run.
    let text = std::fs::read_to_string(log).unwrap();
    let mut starts: HashMap<(String, String), Vec<u32>> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 4 && f[0] == "start" {
            starts
                .entry((f[1].to_owned(), f[2].to_owned()))
                .or_default()
                .push(f[3].parse().unwrap());
        }
    }
    assert_eq!(starts.len(), RUNS * 3, "every task of every run ran");
    let mut again = 0;
    for ((k, t), pids) in &starts {
        // A pid that is no worker's is an orphan's: its worker was killed.
        let survivors: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| worker_pids.contains(p) && !killed_pids.contains(p))
            .collect();
        // Every execution by a survivor but the last was cut short by the
        // run's loss in that worker.
        let run = &run_of[k];
        let unexplained: Vec<u32> = survivors
            .iter()
            .take(survivors.len().saturating_sub(1))
            .copied()
            .filter(|p| !lost_by.get(p).is_some_and(|lost| lost.contains(run)))
            .collect();
        assert!(
            unexplained.is_empty(),
            "task {t} of run k={k} ({run}) ran {} times in workers that were not killed \
             (pids {survivors:?}), though {unexplained:?} did not lose the run",
            survivors.len()
        );
        again += pids.len() - 1;
    }
    eprintln!(
        "{} runs in {:?}; {again} actions ran again after kills and lost runs \
         (live workers lost {} runs); takeovers {takeovers:?}",
        runs.len(),
        began.elapsed(),
        lost_by.values().map(HashSet::len).sum::<usize>()
    );
    for t in &takeovers {
        assert!(
            *t <= LEASE + Duration::from_secs(1),
            "a takeover took {t:?}, over the lease ({LEASE:?}) + 1 s"
        );
    }
}

/// `weft submit`, `weft worker`, `weft show --wait --json`, and `weft
/// resume` of a run that a worker holds paused (the resume goes through the
/// database to the worker).
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn submit_worker_show_wait_and_resume_through_the_database() {
    let schemas = Schemas::new(&url(), "cliflow");
    let db = schemas.fresh_url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The same workflow, its first task sleeping 0.5 s (a run waited for)
    // or 5 s (a run paused while that task runs: the pause must reach the
    // worker before the task ends, however loaded the machine).
    let workflow = |seconds: &str| {
        let file = dir.path().join(format!("two-{seconds}.yaml"));
        std::fs::write(
            &file,
            format!(
                "input: [k]\ntasks:\n  a:\n    action: core.sleep\n    input: {{seconds: {seconds}}}\n    next: [{{do: b}}]\n  b: {{action: core.echo, input: {{message: 'done {{{{ parameters.k }}}}'}}}}\noutput:\n  - said: '{{{{ task.b.message }}}}'\n"
            ),
        )
        .unwrap();
        file
    };
    let (quick, slow) = (workflow("0.5"), workflow("5"));
    let store = std::sync::Arc::new(
        rt.block_on(PostgresStore::connect_with(&db, &PostgresOptions::new()))
            .unwrap(),
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let submit = |k: &str, file: &std::path::Path| -> RunId {
            let out = Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(["submit", "--db", &db, "-i", &format!("k={k}")])
                .arg(file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let first = submit("one", &quick);
        // No worker yet: queued, owned by nobody.
        let runs = |status: &str| -> String {
            let out = Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(["runs", "--db", &db, "--status", status])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let listed = runs("queued");
        assert!(listed.contains(&first.to_string()), "{listed}");
        assert!(
            listed.lines().next().unwrap().ends_with("OWNER"),
            "{listed}"
        );
        assert!(!runs("running").contains(&first.to_string()));
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["show", "--json", "--db", &db, &first.to_string()])
            .output()
            .unwrap();
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["status"], "queued");
        assert_eq!(shown["owner"], serde_json::Value::Null);
        let mut worker = start_worker(&db);
        // show --wait: the same JSON as `weft run --json`.
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["show", "--wait", "--json", "--db", &db, &first.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["status"], "succeeded");
        assert_eq!(shown["output"]["said"], "done one");
        assert_eq!(shown["run_id"], first.to_string());
        // A run the worker holds, paused from here.
        let second = submit("two", &slow);
        let executor = Executor::builder().store(store.clone()).build();
        rt.block_on(async {
            executor
                .command(second, weft_runtime::store::Command::Pause)
                .await
                .unwrap();
            let began = Instant::now();
            loop {
                let s = store.get(second).await.unwrap().unwrap().status;
                if s == RunStatus::Paused {
                    break;
                }
                assert!(!s.is_terminal(), "ended ({s}) instead of pausing");
                assert!(began.elapsed() < Duration::from_secs(10), "not paused: {s}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        // Held by the worker: `runs` and `show` name it.
        let line = runs("paused")
            .lines()
            .find(|l| l.starts_with(&second.to_string()))
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(line.ends_with(&worker.owner), "{line}");
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["show", "--db", &db, &second.to_string()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("is paused, owned by {}", worker.owner)),
            "{stderr}"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["resume", "--json", "--db", &db, &second.to_string()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("held by another process"), "{stderr}");
        let resumed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(resumed["status"], "succeeded");
        assert_eq!(resumed["output"]["said"], "done two");
        // SIGTERM: the worker stops cleanly.
        let status = Command::new("kill")
            .args(["-TERM", &worker.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(worker.child.wait().unwrap().success());
    }));
    rt.block_on(schemas.drop_all());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// `weft resume RUN_ID` of a run whose holder died, with no worker
/// running: once the lease lapses, the command resumes the run itself
/// instead of waiting forever for a worker.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn resume_of_a_run_whose_holder_died_runs_it_once_the_lease_lapses() {
    let schemas = Schemas::new(&url(), "cliorphan");
    let schema = schemas.fresh();
    let db = with_schema(schemas.url(), &schema);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.yaml");
    std::fs::write(
        &file,
        "input: [k]\ntasks:\n  b: {action: core.echo, input: {message: 'done {{ parameters.k }}'}}\noutput:\n  - said: '{{ task.b.message }}'\n",
    )
    .unwrap();
    let store = std::sync::Arc::new(
        rt.block_on(PostgresStore::connect_with(&db, &PostgresOptions::new()))
            .unwrap(),
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["submit", "--db", &db, "-i", "k=orphan"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run: RunId = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // A process claimed it and died: its lease runs for 2 s more.
        rt.block_on(async {
            let conn = store.pool().get().await.unwrap();
            conn.execute(
                &format!(
                    "UPDATE {schema}.runs SET owner = 'gone', epoch = epoch + 1,
                            lease_until = now() + interval '2 seconds'"
                ),
                &[],
            )
            .await
            .unwrap();
        });
        let began = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["resume", "--json", "--db", &db, &run.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if began.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("weft resume still waits 20 s later, with the lease long lapsed");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("held by another process"), "{stderr}");
        assert!(began.elapsed() >= Duration::from_millis(1500), "{stderr}");
        let resumed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(resumed["status"], "succeeded");
        assert_eq!(resumed["output"]["said"], "done orphan");
    }));
    rt.block_on(schemas.drop_all());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// A parent whose sub-workflow runs on worker A; A is killed with SIGKILL
/// in the middle of the child's second task. Worker B takes both over
/// (the child goes with its parent) and finishes them: what A completed
/// and committed does not run again, and each run ends once.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn a_sub_workflow_is_taken_over_with_its_parent_after_a_kill() {
    let schemas = Schemas::new(&url(), "clisub");
    let db = schemas.fresh_url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("executions.log");
    let lib = dir.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    let logged = |t: &str, sleep: &str, next: &str| {
        format!(
            "  {t}:\n    action: core.local\n    input:\n      cmd: >-\n        echo \"start {t} $PPID\" >> {log};\n        sleep {sleep};\n        echo \"end {t} $PPID\" >> {log};\n        echo {t}\n{next}",
            log = log.display()
        )
    };
    std::fs::write(
        lib.join("child.yaml"),
        format!(
            "tasks:\n{}{}{}",
            logged("c1", "0.2", "    next: [{do: c2}]\n"),
            logged("c2", "3", "    next: [{do: c3}]\n"),
            logged("c3", "0.1", ""),
        ),
    )
    .unwrap();
    let file = dir.path().join("parent.yaml");
    std::fs::write(
        &file,
        format!(
            "tasks:\n{}  sub:\n    action: child\n    next: [{{do: p2}}]\n{}",
            logged("p1", "0.1", "    next: [{do: sub}]\n"),
            logged("p2", "0.1", ""),
        ),
    )
    .unwrap();
    let store = std::sync::Arc::new(
        rt.block_on(PostgresStore::connect_with(&db, &PostgresOptions::new()))
            .unwrap(),
    );
    let lib_arg = lib.to_str().unwrap().to_owned();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut a = start_worker_with(&db, &["--workflows", &lib_arg]);
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["submit", "--db", &db, "--workflows", &lib_arg])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let parent: RunId = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // Wait until A is in the middle of the child's second task.
        let began = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("start c2")
        {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "the child's second task did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        let killed = a.child.id();
        a.child.kill().unwrap();
        a.child.wait().unwrap();
        let mut b = start_worker_with(&db, &["--workflows", &lib_arg]);
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["show", "--wait", "--json", "--db", &db, &parent.to_string()])
            .output()
            .unwrap();
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(shown["status"], "succeeded", "{shown}");
        rt.block_on(async {
            let all = store
                .list(&weft_runtime::store::RunFilter::all())
                .await
                .unwrap();
            let children: Vec<_> = all.iter().filter(|r| r.parent == Some(parent)).collect();
            assert_eq!(children.len(), 1, "{all:?}");
            assert_eq!(children[0].status, RunStatus::Succeeded);
            for id in [parent, children[0].id] {
                let journal = store.load(id).await.unwrap();
                let ends = journal
                    .iter()
                    .filter(|e| matches!(e.record, Record::Ended(_)))
                    .count();
                assert_eq!(ends, 1, "run {id} ended {ends} times");
                let mut attempts = HashSet::new();
                for e in &journal {
                    if let Record::Attempt(at) = &e.record {
                        assert!(
                            attempts.insert((at.instance, at.item, at.attempt)),
                            "run {id}: an attempt recorded twice"
                        );
                    }
                }
            }
        });
        let status = Command::new("kill")
            .args(["-TERM", &b.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(b.child.wait().unwrap().success());
        // Executions: what A completed (p1, c1) once; c2 was in flight in
        // A, and runs again in B; the rest once, in B.
        let text = std::fs::read_to_string(&log).unwrap();
        let starts = |t: &str| -> Vec<u32> {
            text.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.len() == 3 && f[0] == "start" && f[1] == t).then(|| f[2].parse().unwrap())
                })
                .collect()
        };
        assert_eq!(starts("p1"), [killed], "{text}");
        assert_eq!(starts("c1"), [killed], "{text}");
        let c2 = starts("c2");
        assert_eq!(c2.len(), 2, "{text}");
        assert_eq!(c2[0], killed, "{text}");
        assert_ne!(c2[1], killed, "{text}");
        for t in ["c3", "p2"] {
            let s = starts(t);
            assert_eq!(s.len(), 1, "{t}: {text}");
            assert_ne!(s[0], killed, "{t}: {text}");
        }
        // A's copy of c2 died with A (its parent-death signal).
        assert!(!text.contains(&format!("end c2 {killed}")), "{text}");
    }));
    rt.block_on(schemas.drop_all());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// A worker stopped (SIGSTOP) past its lease while its action runs, then
/// continued (SIGCONT): another worker has taken the run over meanwhile and
/// runs the action again. The stalled worker must count the run as lost
/// (and say which), whichever it hears of first as it wakes: its deadline,
/// a renewal that finds the run taken over, or a commit refused as fenced.
#[cfg(unix)]
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn a_worker_stalled_past_its_lease_counts_the_run_it_lost() {
    let schemas = Schemas::new(&url(), "clistall");
    let db = schemas.fresh_url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("executions.log");
    let file = dir.path().join("flow.yaml");
    std::fs::write(&file, flow(&log)).unwrap();
    let store = std::sync::Arc::new(
        rt.block_on(PostgresStore::connect_with(&db, &PostgresOptions::new()))
            .unwrap(),
    );
    let signal = |sig: &str, pid: u32| {
        let status = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {sig} {pid}");
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut a = start_worker(&db);
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["submit", "--db", &db, "-i", "k=7"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run: RunId = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let began = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("start 7 a")
        {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "task a did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // A stalls (its action goes on and ends meanwhile); B takes the run
        // over once A's lease lapses in the database, and runs a again.
        signal("-STOP", a.child.id());
        let mut b = start_worker(&db);
        let b_pid = b.child.id().to_string();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(&format!("start 7 a {b_pid}"))
        {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "B did not take the run over"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        signal("-CONT", a.child.id());
        rt.block_on(async {
            loop {
                let s = store.get(run).await.unwrap().unwrap().status;
                if s.is_terminal() {
                    assert_eq!(s, RunStatus::Succeeded);
                    break;
                }
                assert!(began.elapsed() < Duration::from_secs(60), "not ended: {s}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        // Let A hear of it, whichever way, before it stops.
        std::thread::sleep(Duration::from_millis(1000));
        for w in [&mut a, &mut b] {
            signal("-TERM", w.child.id());
            assert!(w.child.wait().unwrap().success());
        }
        assert!(a.lost() >= 1, "A lost the run and did not count it");
        assert_eq!(a.lost_runs(), HashSet::from([run.to_string()]));
        assert_eq!(b.lost(), 0);
        assert!(b.lost_runs().is_empty());
        let journal = rt.block_on(store.load(run)).unwrap();
        let ends = journal
            .iter()
            .filter(|e| matches!(e.record, Record::Ended(_)))
            .count();
        assert_eq!(ends, 1);
    }));
    rt.block_on(schemas.drop_all());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
