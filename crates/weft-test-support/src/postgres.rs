//! The Postgres tests' server and schemas: the server's URL, a schema per
//! test, and dropping the schemas afterwards, whether the test passed or
//! not.
//!
//! A test that needs the server is ignored, not passed, when
//! `WEFT_TEST_POSTGRES_URL` was not set as it was built: its crate's
//! `build.rs` sets `cfg(weft_postgres_tests)` then, and the test carries
//! `#[cfg_attr(not(weft_postgres_tests), ignore = "…")]`.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use futures::FutureExt;

/// The test server's URL, from `WEFT_TEST_POSTGRES_URL`.
///
/// # Panics
///
/// When it is not set (the tests that call it are ignored then, unless run
/// with `--ignored`).
pub fn url() -> String {
    match std::env::var("WEFT_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "WEFT_TEST_POSTGRES_URL is not set: set it to a server's URL, such as \
             postgres://postgres@127.0.0.1:5432/test, to run the Postgres tests"
        ),
    }
}

/// The schemas made by one test, dropped by [`Schemas::drop_all`].
pub struct Schemas {
    url: String,
    names: Mutex<Vec<String>>,
    n: AtomicUsize,
    tag: String,
}

impl Schemas {
    /// Schemas on the server at `url` for the test `test`: their names
    /// start with `wt_`, a part of the test's name and a tag of this call.
    pub fn new(url: &str, test: &str) -> Schemas {
        let tag: String = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
        let test: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect::<String>()
            .to_ascii_lowercase();
        Schemas {
            url: url.to_owned(),
            names: Mutex::new(Vec::new()),
            n: AtomicUsize::new(0),
            tag: format!("wt_{test}_{tag}"),
        }
    }

    /// The server's URL (without a schema).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new schema name, remembered to be dropped.
    pub fn fresh(&self) -> String {
        let name = format!("{}_{}", self.tag, self.n.fetch_add(1, Ordering::SeqCst));
        self.names.lock().unwrap().push(name.clone());
        name
    }

    /// A URL with a new schema.
    pub fn fresh_url(&self) -> String {
        with_schema(&self.url, &self.fresh())
    }

    /// Drops every schema handed out.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or a schema cannot be dropped.
    pub async fn drop_all(&self) {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to drop the test schemas");
        let driver = tokio::spawn(conn);
        let names = std::mem::take(&mut *self.names.lock().unwrap());
        for name in names {
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await
                .expect("drop a test schema");
        }
        drop(client);
        let _ = driver.await;
    }

    /// Runs `test`, then drops the schemas whether it passed or not.
    pub async fn run<F: Future<Output = ()>>(&self, test: F) {
        let result = std::panic::AssertUnwindSafe(test).catch_unwind().await;
        self.drop_all().await;
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}

/// `url` with `?schema=NAME` (or `&schema=NAME`) added.
pub fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}")
}

/// Runs the Postgres test `name`: `test` gets the server's URL and the
/// test's [`Schemas`] (a new schema from [`Schemas::fresh`] or
/// [`Schemas::fresh_url`]); the schemas are dropped afterwards, whether the
/// test passed or not.
///
/// # Panics
///
/// When `WEFT_TEST_POSTGRES_URL` is not set (see [`url`]), and when `test`
/// panics (after the schemas are dropped).
pub async fn with_postgres_schemas(name: &str, test: impl AsyncFnOnce(&str, &Schemas)) {
    let url = url();
    let schemas = Schemas::new(&url, name);
    schemas.run(test(&url, &schemas)).await;
}
