//! What the Postgres tests share: the server's URL, a schema per test, and
//! dropping the schemas afterwards.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use futures::FutureExt;

/// The test server's URL. The tests that call it are ignored unless
/// `WEFT_TEST_POSTGRES_URL` was set when they were built (see `build.rs`),
/// so it is missing here only when they are run with `--ignored`.
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

    /// A new schema name, remembered to be dropped.
    pub fn fresh(&self) -> String {
        let name = format!("{}_{}", self.tag, self.n.fetch_add(1, Ordering::SeqCst));
        self.names.lock().unwrap().push(name.clone());
        name
    }

    /// A URL with a new schema.
    pub fn fresh_url(&self) -> String {
        let s = self.fresh();
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={s}", self.url)
    }

    /// Drops every schema handed out.
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
