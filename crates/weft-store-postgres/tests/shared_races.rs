//! Races between processes on one schema: a purge racing a re-run's
//! append.

use std::sync::Arc;
use std::time::Duration;

use weft_runtime::store::driver::conformance;
use weft_runtime::store::Store;
use weft_runtime::{RunId, RunStatus};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

/// A purge that meets a re-run holding one of the runs it would delete
/// waits for it, and never holds a run that re-run still has to lock: an
/// append locks its runs in id order, and so does a purge. Here the
/// re-run's append is played by hand, one lock at a time (run `x`, then run
/// `y`, as an append of both takes them), with the purge started between
/// the two; `y` is stored first, so that a purge taking the rows in the
/// order it finds them would take `y` before `x`.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_racing_a_rerun_does_not_deadlock() {
    with_postgres_schemas("purgerace", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let (x, y) = {
            let a = RunId::new();
            let b = RunId::new();
            if a < b {
                (a, b)
            } else {
                (b, a)
            }
        };
        for run in [y, x] {
            store
                .append(&conformance::entries(
                    run,
                    0,
                    vec![
                        conformance::started("w", None, 1),
                        conformance::ended(RunStatus::Succeeded, 2),
                    ],
                ))
                .await
                .unwrap();
        }
        let s = store.schema().to_owned();
        let mut rerun = store.pool().get().await.unwrap();
        let tx = rerun.transaction().await.unwrap();
        let lock = format!("SELECT id FROM {s}.runs WHERE id = $1 FOR UPDATE");
        tx.query_one(&lock, &[x.as_uuid()]).await.unwrap();
        // Purge everything that ended before now.
        let purging = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .purge(std::time::SystemTime::now() + Duration::from_secs(3600))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The re-run's second lock, then what it writes: both runs go
        // on again.
        tokio::time::timeout(Duration::from_secs(5), tx.query_one(&lock, &[y.as_uuid()]))
            .await
            .expect("the re-run waits for the purge")
            .expect("the re-run's lock");
        tx.execute(
            &format!(
                "UPDATE {s}.runs SET status = 'running', ended_at = NULL
                     WHERE id = ANY($1)"
            ),
            &[&vec![*x.as_uuid(), *y.as_uuid()]],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let purged = tokio::time::timeout(Duration::from_secs(5), purging)
            .await
            .expect("the purge ends")
            .unwrap()
            .expect("the purge did not fail");
        assert_eq!(purged, 0, "the runs re-run meanwhile stay");
        for run in [x, y] {
            assert!(store.get(run).await.unwrap().is_some());
        }
    })
    .await;
}
