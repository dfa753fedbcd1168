//! Secret inputs at rest in Postgres: the journal rows of a run with
//! secret inputs never hold the secret's text, in its inputs or in the
//! results that contain it, and the run still reads back whole with the
//! key.

use std::sync::Arc;

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::{Executor, RunStatus, SecretKey};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

const SECRET: &str = "pg-secret-value-9d2e";
const NOTE: &str = "pg-plain-note-51c7";

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_rows_never_hold_a_secret() {
    with_postgres_schemas("secrets", async |url, schemas| {
        let schema = schemas.fresh();
        let store = Arc::new(
            PostgresStore::connect_with(url, &PostgresOptions::new().schema(&schema))
                .await
                .unwrap(),
        );
        let key = SecretKey::from_bytes([3; 32]);
        let ex = Executor::builder()
            .store(store.clone())
            .secret_key(key.clone())
            .build();
        let plan = Workflow::from_yaml_str(
            r#"
input:
  - {name: token, secret: true}
  - note
tasks:
  a:
    action: core.echo
    input: {message: "{{ ctx().token }} {{ ctx().note }}"}
output:
  - said: "{{ task.a }}"
"#,
        )
        .unwrap()
        .compile(&ex)
        .unwrap();
        let outcome = ex
            .start(&plan, json!({"token": SECRET, "note": NOTE}))
            .unwrap()
            .await
            .unwrap();
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);
        ex.flush().await.unwrap();

        let conn = store.pool().get().await.unwrap();
        let rows = conn
            .query(
                &format!("SELECT records FROM {schema}.journal WHERE run = $1"),
                &[outcome.run_id.as_uuid()],
            )
            .await
            .unwrap();
        let bytes: Vec<u8> = rows.iter().flat_map(|r| r.get::<_, Vec<u8>>(0)).collect();
        let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!rows.is_empty());
        assert!(has(NOTE), "what is not secret is kept as it was");
        assert!(!has(SECRET), "a journal row holds the secret");

        // Read back with the key: whole (the output is masked, as the
        // run gave it).
        let shown = ex.inspect(outcome.run_id).await.unwrap();
        assert_eq!(shown.status, RunStatus::Succeeded);
        assert_eq!(shown.output, outcome.output);
        let other = Executor::builder()
            .store(store.clone())
            .secret_key(SecretKey::from_bytes([4; 32]))
            .build();
        let e = other.inspect(outcome.run_id).await.expect_err("wrong key");
        assert!(
            e.to_string()
                .contains("not the key the run was started with"),
            "{e}"
        );
    })
    .await;
}
