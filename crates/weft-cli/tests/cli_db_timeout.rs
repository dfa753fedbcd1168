//! A Postgres address that accepts connections and never answers (a
//! frozen server, a half-open network path): every command that uses it
//! fails within its timeouts, with a message that says so, instead of
//! waiting until TCP gives up.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A listener that accepts every connection and never writes a byte; the
/// connections are kept open.
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    port
}

/// Runs `weft ARGS`; fails the test should it take longer than `within`.
fn weft_within(args: &[&str], within: Duration) -> (Output, Duration) {
    let began = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if began.elapsed() > within {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`weft {}` still waits after {within:?}; stderr: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), began.elapsed())
}

#[test]
fn commands_on_a_database_that_never_answers_fail_in_bounded_time() {
    let port = silent_server();
    let db =
        format!("postgres://postgres@127.0.0.1:{port}/test?connect_timeout=1&statement_timeout=1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.yaml");
    std::fs::write(
        &file,
        "tasks:\n  a: {action: core.echo, input: {message: hi}}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let id = "0193a0c4-5e1f-7d2a-9c3b-8f4e6a2b1c0d";
    for args in [
        vec!["submit", file, "--db", &db],
        vec!["show", "--wait", "--db", &db, id],
        vec!["runs", "--db", &db],
    ] {
        let (out, took) = weft_within(&args, Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&out.stderr);
        // connect_timeout (1 s) + statement_timeout (1 s), and the start.
        assert!(took < Duration::from_secs(8), "{args:?} took {took:?}");
        assert!(
            stderr.contains("no answer from the database within 2.0 s"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("is down or cut"), "{args:?}: {stderr}");
        // docs/cli.md: a database that cannot be reached or opened is 2.
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    }
}

/// A proxy to `upstream` whose connections go silent (nothing is passed
/// on any more, in either direction, and nothing is closed) once `cut` is
/// set: a network path that broke without a word.
fn cutting_proxy(upstream: String, cut: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let cut = cut.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if !cut.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        }
    });
    port
}

/// `weft show --wait` on a run no worker takes, when the network to the
/// database is cut in the middle of the wait: it fails within its
/// timeouts (exit code 1, a store that failed in the middle of the
/// command), rather than waiting until TCP gives up.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn show_wait_fails_in_bounded_time_when_the_connection_is_cut() {
    let url = std::env::var("WEFT_TEST_POSTGRES_URL").expect("WEFT_TEST_POSTGRES_URL");
    // postgres://USER@HOST:PORT/DB[?…]
    let (user, rest) = url.split_once('@').expect("a URL with a user");
    let (address, db) = rest.split_once('/').expect("a URL with a database");
    let db = db.split('?').next().unwrap_or(db);
    let schema = format!(
        "wt_cut_{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let direct = format!("{user}@{address}/{db}?schema={schema}");
    let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let proxy = cutting_proxy(address.to_owned(), cut.clone());
    let through = format!(
        "{user}@127.0.0.1:{proxy}/{db}?schema={schema}&connect_timeout=1&statement_timeout=1"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.yaml");
    std::fs::write(
        &file,
        "tasks:\n  a: {action: core.echo, input: {message: hi}}\n",
    )
    .unwrap();
    let (out, _) = weft_within(
        &["submit", file.to_str().unwrap(), "--db", &direct],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let waiting = std::thread::spawn({
        let through = through.clone();
        let id = id.clone();
        move || {
            weft_within(
                &["show", "--wait", "--db", &through, &id],
                Duration::from_secs(30),
            )
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    cut.store(true, std::sync::atomic::Ordering::SeqCst);
    let cut_at = Instant::now();
    let (out, _) = waiting.join().unwrap();
    let took = cut_at.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The wait looks again within 5 s, and that look waits 2 s at most.
    assert!(took < Duration::from_secs(12), "took {took:?}: {stderr}");
    assert!(stderr.contains("no answer from the database"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Tidy up, directly.
    let (out, _) = weft_within(&["runs", "--db", &direct], Duration::from_secs(30));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = weft_store_postgres::PostgresStore::connect(&direct)
            .await
            .unwrap();
        let conn = store.pool().get().await.unwrap();
        conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
    });
}
