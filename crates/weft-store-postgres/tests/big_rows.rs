//! Appends whose journal rows are big (a run's records of a batch of tens
//! of kilobytes or more, which go in by an insert of their own) beside
//! small ones (which go in together): every record reads back in order,
//! an append is still all or nothing, and a fenced run's big row is not
//! written; a big commit of the journal (`append_owned`, encoded off the
//! runtime's threads) is kept, or given back whole.

use std::time::Duration;

use weft_runtime::store::driver::conformance::{self, entries};
use weft_runtime::store::{Appended, Entry, SharedStore, Store, StoreError};
use weft_runtime::{RunId, RunStatus};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

/// `n` attempt records from `first` on (each ~100 bytes of JSON: 500 of
/// them make a row of about 50 KB).
fn oks(first: u64, n: u64) -> Vec<weft_runtime::store::Record> {
    (first..first + n).map(conformance::ok).collect()
}

/// Interleaves the entries of several runs, as a batch of the journal
/// writer holds them.
fn interleave(runs: Vec<Vec<Entry>>) -> Vec<Entry> {
    let mut iters: Vec<_> = runs.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for it in &mut iters {
            out.extend(it.next());
        }
        if out.len() == before {
            return out;
        }
    }
}

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_and_small_rows_of_one_batch_read_back_in_order() {
    with_postgres_schemas("big_rows", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        // Two runs stored already, then a batch that continues both (one
        // with a big row, one small), starts a big one and a small one,
        // and ends the big continued run.
        let (big, small, big_new, small_new) =
            (RunId::new(), RunId::new(), RunId::new(), RunId::new());
        let first = interleave(vec![
            entries(big, 0, vec![conformance::started("big", None, 1)]),
            entries(small, 0, vec![conformance::started("small", None, 1)]),
        ]);
        assert_eq!(store.append(&first).await.unwrap(), Appended::all());
        let mut big_rest = oks(1, 500);
        big_rest.push(conformance::ended(RunStatus::Succeeded, 9));
        let mut big_new_records = vec![conformance::started("big_new", None, 2)];
        big_new_records.extend(oks(1, 400));
        let batch = interleave(vec![
            entries(big, 1, big_rest),
            entries(small, 1, oks(1, 2)),
            entries(big_new, 0, big_new_records),
            entries(small_new, 0, vec![conformance::started("s", None, 3)]),
        ]);
        assert_eq!(store.append(&batch).await.unwrap(), Appended::all());
        for run in [big, small, big_new, small_new] {
            let want: Vec<Entry> = first
                .iter()
                .chain(&batch)
                .filter(|e| e.run == run)
                .cloned()
                .collect();
            assert_eq!(store.load(run).await.unwrap(), want, "run {run}");
        }
        // The big run's end is in its summary; the others run on, and go
        // on from where the batch left them.
        let summary = store.get(big).await.unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Succeeded);
        assert_eq!(summary.ended_at, Some(9));
        assert_eq!(
            store.get(big_new).await.unwrap().unwrap().status,
            RunStatus::Running
        );
        assert_eq!(
            store
                .append(&entries(big_new, 401, oks(401, 300)))
                .await
                .unwrap(),
            Appended::all()
        );
        assert_eq!(store.load(big_new).await.unwrap().len(), 701);
    })
    .await;
}

/// A batch whose small row is refused (a second start of a stored run)
/// writes none of its rows, the big ones included.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_writes_no_big_row() {
    with_postgres_schemas("big_refused", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        let (stored, fresh) = (RunId::new(), RunId::new());
        let start = entries(stored, 0, vec![conformance::started("w", None, 1)]);
        store.append(&start).await.unwrap();
        // The stored run continued by a big row, a new run with a big row,
        // and the stored run started again.
        let mut fresh_records = vec![conformance::started("f", None, 2)];
        fresh_records.extend(oks(1, 500));
        let batch = interleave(vec![
            entries(stored, 1, oks(1, 500)),
            entries(fresh, 0, fresh_records),
        ]);
        store.append(&batch).await.unwrap();
        let again = interleave(vec![
            entries(fresh, 501, oks(501, 500)),
            entries(RunId::new(), 0, {
                let mut r = vec![conformance::started("g", None, 3)];
                r.extend(oks(1, 500));
                r
            }),
            entries(stored, 0, vec![conformance::started("w", None, 1)]),
        ]);
        let e = store.append(&again).await.unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        assert!(e.to_string().contains(&stored.to_string()), "{e}");
        // Nothing of it went in: the runs go on from where they were.
        assert_eq!(store.load(fresh).await.unwrap().len(), 501);
        assert_eq!(store.load(stored).await.unwrap().len(), 501);
        assert_eq!(
            store
                .append(&entries(fresh, 501, oks(501, 500)))
                .await
                .unwrap(),
            Appended::all()
        );
    })
    .await;
}

/// A run taken over by another process: its old owner's big row is
/// refused (fenced) while the old owner's other run's big row goes in.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_run_big_row_is_not_written() {
    with_postgres_schemas("big_fenced", async |url, schemas| {
        let options = PostgresOptions::new()
            .schema(schemas.fresh())
            .lease(Duration::from_millis(1000))
            .heartbeat(Duration::from_millis(250));
        let a = PostgresStore::connect_with(url, &options).await.unwrap();
        let b = PostgresStore::connect_with(url, &options).await.unwrap();
        let (lost, kept) = (RunId::new(), RunId::new());
        let first = interleave(vec![
            entries(lost, 0, vec![conformance::started("lost", None, 1)]),
            entries(kept, 0, vec![conformance::started("kept", None, 1)]),
        ]);
        a.append(&first).await.unwrap();
        // B takes `lost` over (as after A stalled past its lease).
        let conn = a.pool().get().await.unwrap();
        conn.execute(
            &format!(
                "UPDATE {}.runs SET lease_until = now() - interval '1 second' WHERE id = $1",
                a.schema()
            ),
            &[lost.as_uuid()],
        )
        .await
        .unwrap();
        drop(conn);
        b.acquire(lost).await.unwrap();
        let batch = interleave(vec![
            entries(lost, 1, oks(1, 500)),
            entries(kept, 1, oks(1, 500)),
        ]);
        assert_eq!(a.append(&batch).await.unwrap().fenced, vec![lost]);
        assert_eq!(a.load(lost).await.unwrap().len(), 1);
        assert_eq!(a.load(kept).await.unwrap().len(), 501);
        assert_eq!(SharedStore::owned(&a), vec![kept]);
        // B goes on from the run's first record.
        assert_eq!(
            b.append(&entries(lost, 1, oks(1, 500))).await.unwrap(),
            Appended::all()
        );
    })
    .await;
}

/// A batch of many runs with big rows (more than go into one turn of a
/// `FuturesOrdered`): every row is in, the summaries say where each run
/// goes on from.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_big_rows_in_one_batch_all_go_in() {
    with_postgres_schemas("big_many", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        let runs: Vec<RunId> = (0..40).map(|_| RunId::new()).collect();
        let batch = interleave(
            runs.iter()
                .enumerate()
                .map(|(i, run)| {
                    let mut r = vec![conformance::started(&format!("w{i}"), None, 1)];
                    r.extend(oks(1, 200));
                    entries(*run, 0, r)
                })
                .collect(),
        );
        assert_eq!(store.append(&batch).await.unwrap(), Appended::all());
        let next = interleave(
            runs.iter()
                .map(|run| entries(*run, 201, oks(201, 200)))
                .collect(),
        );
        assert_eq!(store.append(&next).await.unwrap(), Appended::all());
        for run in &runs {
            let journal = store.load(*run).await.unwrap();
            assert_eq!(journal.len(), 401, "run {run}");
            assert!(journal.iter().enumerate().all(|(i, e)| e.seq == i as u64));
        }
    })
    .await;
}

/// The journal's commits of many entries (`append_owned`, encoded off the
/// runtime's threads): a batch is kept as `append` keeps it, and one the
/// store refuses comes back whole, with nothing of it stored.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_owned_append_is_kept_or_given_back_whole() {
    with_postgres_schemas("big_owned", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        let (a, b) = (RunId::new(), RunId::new());
        let mut a_records = vec![conformance::started("a", None, 1)];
        a_records.extend(oks(1, 600));
        let mut b_records = vec![conformance::started("b", None, 2)];
        b_records.extend(oks(1, 3));
        let ja = entries(a, 0, a_records);
        let jb = entries(b, 0, b_records);
        let batch = interleave(vec![ja.clone(), jb.clone()]);
        assert!(batch.len() >= 600);
        assert_eq!(store.append_owned(batch).await.unwrap(), Appended::all());
        assert_eq!(store.load(a).await.unwrap(), ja);
        assert_eq!(store.load(b).await.unwrap(), jb);
        // A new run of many records, and a record of `a` that skips a
        // number: refused, and given back as it was handed over.
        let c = RunId::new();
        let mut c_records = vec![conformance::started("c", None, 3)];
        c_records.extend(oks(1, 600));
        let mut refused = entries(c, 0, c_records);
        refused.extend(entries(a, 602, oks(602, 1)));
        match store.append_owned(refused.clone()).await {
            Err((StoreError::Conflict(_), back)) => {
                assert!(back == refused, "not given back whole")
            }
            other => panic!("expected a conflict, got {:?}", other.map_err(|(e, _)| e)),
        }
        assert_eq!(store.get(c).await.unwrap(), None);
        assert_eq!(store.load(a).await.unwrap(), ja);
    })
    .await;
}
