//! The store conformance suite against `PostgresStore`, each property in a
//! schema of its own (dropped afterwards).

use std::sync::Arc;

use weft_runtime::store::driver::conformance;
use weft_runtime::store::{Appended, Store, StoreError};
use weft_runtime::{RunId, RunStatus};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_suite() {
    with_postgres_schemas("conformance", async |_, schemas| {
        conformance::run_all(|| {
            let url = schemas.fresh_url();
            async move { Arc::new(PostgresStore::connect(&url).await.unwrap()) as Arc<dyn Store> }
        })
        .await;
    })
    .await;
}

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_datastore_conformance_suite() {
    with_postgres_schemas("kv", async |_, schemas| {
        conformance::kv_run_all(|| {
            let url = schemas.fresh_url();
            async move { Arc::new(PostgresStore::connect(&url).await.unwrap()) as Arc<dyn Store> }
        })
        .await;
    })
    .await;
}

/// Two processes opening a new schema at once: the migrations run once,
/// and both stores work.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opening_at_once_migrate_once() {
    with_postgres_schemas("migrate", async |url, schemas| {
        let schema = schemas.fresh();
        let options = PostgresOptions::new().schema(schema.clone());
        let opens = (0..4).map(|_| PostgresStore::connect_with(url, &options));
        let stores = futures::future::join_all(opens).await;
        for s in &stores {
            assert!(s.is_ok(), "{:?}", s.as_ref().err());
        }
        let store = stores.into_iter().next().unwrap().unwrap();
        conformance::append_then_load_interleaved_runs(&store).await;
        let conn = store.pool().get().await.unwrap();
        let v: i32 = conn
            .query_one(&format!("SELECT version FROM {schema}.weft_schema"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, weft_store_postgres::SCHEMA_VERSION);
        let rows = conn
            .query(&format!("SELECT version FROM {schema}.weft_schema"), &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "one version row");
    })
    .await;
}

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    with_postgres_schemas("newer", async |url, schemas| {
        let schema = schemas.fresh();
        let options = PostgresOptions::new().schema(schema.clone());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        let conn = store.pool().get().await.unwrap();
        conn.execute(
            &format!("UPDATE {schema}.weft_schema SET version = 99"),
            &[],
        )
        .await
        .unwrap();
        drop(conn);
        let e = PostgresStore::connect_with(url, &options)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("newer weft"), "{e}");
    })
    .await;
}

/// A schema written at version 2 (journal rows compressed the server's
/// default way): opening it brings it to the current version, its rows
/// read as before, and rows written from then on are compressed with LZ4
/// when the server has it.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_schema_is_upgraded_and_its_journal_still_reads() {
    with_postgres_schemas("upgrade", async |url, schemas| {
        let schema = schemas.fresh();
        let options = PostgresOptions::new().schema(schema.clone());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        // As version 2 left it.
        let conn = store.pool().get().await.unwrap();
        conn.batch_execute(&format!(
            "ALTER TABLE {schema}.journal ALTER COLUMN records SET COMPRESSION default;
             UPDATE {schema}.weft_schema SET version = 2;"
        ))
        .await
        .unwrap();
        drop(conn);
        // Big enough to be compressed and stored out of line.
        let old = RunId::new();
        let mut records = vec![conformance::started("w", None, 1)];
        records.extend((1..=2000).map(conformance::ok));
        let written = conformance::entries(old, 0, records);
        store.append(&written).await.unwrap();
        drop(store);

        let store = reopened_at_current_version(url, &options, &schema).await;
        let conn = store.pool().get().await.unwrap();
        let loaded = store.load(old).await.unwrap();
        assert_eq!(loaded, written);
        // Rows written now: LZ4 where the server has it.
        let new = RunId::new();
        let mut records = vec![conformance::started("w", None, 1)];
        records.extend((1..=2000).map(conformance::ok));
        store
            .append(&conformance::entries(new, 0, records))
            .await
            .unwrap();
        let methods: Vec<Option<String>> = conn
            .query(
                &format!(
                    "SELECT pg_column_compression(records) FROM {schema}.journal
                     WHERE run = ANY($1) ORDER BY run = $2"
                ),
                &[&vec![*old.as_uuid(), *new.as_uuid()], new.as_uuid()],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(methods.len(), 2, "{methods:?}");
        assert_eq!(methods[0].as_deref(), Some("pglz"), "{methods:?}");
        // The server has LZ4 when its setting can name it.
        let has_lz4: bool = conn
            .query_one(
                "SELECT coalesce(bool_or('lz4' = ANY(enumvals)), false) FROM pg_settings
                 WHERE name = 'default_toast_compression'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let expected = if has_lz4 { "lz4" } else { "pglz" };
        assert_eq!(methods[1].as_deref(), Some(expected), "{methods:?}");
        assert_eq!(
            store.load(new).await.unwrap().len(),
            2001,
            "the new run reads back"
        );
    })
    .await;
}

/// A schema written at version 3 (before the server checked an append of
/// runs already stored, `append_held`): opening it brings it to the
/// current version, and runs started then go on, end and read back.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_schema_is_upgraded_and_its_runs_go_on() {
    with_postgres_schemas("upgrade3", async |url, schemas| {
        let schema = schemas.fresh();
        let options = PostgresOptions::new().schema(schema.clone());
        let store = PostgresStore::connect_with(url, &options).await.unwrap();
        let old = RunId::new();
        let mut written = conformance::entries(old, 0, vec![conformance::started("w", None, 1)]);
        store.append(&written).await.unwrap();
        // As version 3 left it.
        let conn = store.pool().get().await.unwrap();
        conn.batch_execute(&format!(
            "DROP FUNCTION {schema}.append_held;
             UPDATE {schema}.weft_schema SET version = 3;"
        ))
        .await
        .unwrap();
        drop(conn);
        drop(store);

        let store = reopened_at_current_version(url, &options, &schema).await;
        assert_eq!(store.load(old).await.unwrap(), written);
        // A run started now goes on and ends.
        let run = RunId::new();
        let first = conformance::entries(run, 0, vec![conformance::started("w", None, 1)]);
        store.append(&first).await.unwrap();
        let next = conformance::entries(run, 1, (1..=3).map(conformance::ok).collect());
        assert_eq!(store.append(&next).await.unwrap(), Appended::all());
        let last = conformance::entries(run, 4, vec![conformance::ended(RunStatus::Succeeded, 99)]);
        assert_eq!(store.append(&last).await.unwrap(), Appended::all());
        written = [first, next, last].concat();
        assert_eq!(store.load(run).await.unwrap(), written);
        let summary = store.get(run).await.unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Succeeded);
        assert_eq!(summary.ended_at, Some(99));
    })
    .await;
}

#[tokio::test]
async fn a_bad_url_or_schema_is_refused_with_a_message() {
    let e = PostgresStore::connect("postgres://u:secret@127.0.0.1:notaport/db")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a Postgres URL") && !e.contains("secret"),
        "{e}"
    );
    let e = PostgresStore::connect("postgres://u@127.0.0.1/db?schema=Bad-Name")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("schema name"), "{e}");
}

/// A server that cannot be reached: the error says so, naming the
/// address, and keeps tokio-postgres's error as its source. Needs no
/// server (nothing listens on port 1).
#[tokio::test]
async fn an_unreachable_server_keeps_the_drivers_error_as_the_source() {
    let options = PostgresOptions::new().connect_timeout(std::time::Duration::from_secs(5));
    let e = PostgresStore::connect_with("postgres://u@127.0.0.1:1/db", &options)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    assert!(
        e.to_string().contains("127.0.0.1:1") && e.to_string().contains("cannot connect"),
        "{e}"
    );
    let source = std::error::Error::source(&e).unwrap_or_else(|| panic!("no source behind {e:?}"));
    assert!(
        source.downcast_ref::<tokio_postgres::Error>().is_some(),
        "the source is not tokio-postgres's error: {source:?}"
    );
}

#[test]
fn postgres_store_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<PostgresStore>();
    check::<PostgresOptions>();
}

/// Opens the store at `url` again (migrating its schema) and checks that
/// the schema is at this version's number.
async fn reopened_at_current_version(
    url: &str,
    options: &PostgresOptions,
    schema: &str,
) -> PostgresStore {
    let store = PostgresStore::connect_with(url, options).await.unwrap();
    let conn = store.pool().get().await.unwrap();
    let version: i32 = conn
        .query_one(&format!("SELECT version FROM {schema}.weft_schema"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, weft_store_postgres::SCHEMA_VERSION);
    drop(conn);
    store
}
