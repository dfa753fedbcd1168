//! How a [`PostgresStore`](crate::PostgresStore) connects, and how it
//! holds the runs it owns.

use std::time::Duration;

/// Options for [`PostgresStore::connect_with`](crate::PostgresStore::connect_with).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_store_postgres::PostgresOptions;
///
/// let options = PostgresOptions::new()
///     .lease(Duration::from_secs(10))
///     .heartbeat(Duration::from_secs(3));
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// How long a lease lasts without being renewed. Default 30 s. It is
    /// how long a crashed process's runs wait before another process takes
    /// them over; a shorter lease takes over sooner, and needs renewals
    /// (and a database that answers them) more often.
    pub lease: Duration,
    /// How often this process renews the leases of its runs (one `UPDATE`
    /// for all of them). Default 10 s; at most half the lease. A process
    /// whose renewals fail stops its runs once `lease - heartbeat / 2` has
    /// passed since its last renewal, before any other process may take
    /// them over.
    pub heartbeat: Duration,
    /// Connections in the pool. Default 8 (one more listens for notices).
    pub pool_size: usize,
    /// The schema the tables live in, instead of the URL's `?schema=` or
    /// `public`.
    pub schema: Option<String>,
    /// How long a statement may take before it fails (and its connection
    /// is dropped). Default 30 s; a URL's `statement_timeout=SECONDS`
    /// takes precedence.
    pub statement_timeout: Duration,
    /// How long making a connection may take: the TCP connection, the
    /// server's greeting and the login. Default 10 s; a URL's
    /// `connect_timeout=SECONDS` takes precedence.
    ///
    /// Every call of the store also waits at most `connect_timeout +
    /// statement_timeout` for the database to answer (it may need a new
    /// connection, then a statement), so a connection cut without a word
    /// (a network gone, a server frozen) fails the call with an error
    /// saying so instead of waiting until TCP gives up. Connections send
    /// TCP keepalives, so an idle connection that was cut is noticed too.
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            pool_size: 8,
            schema: None,
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresOptions {
    /// The defaults.
    pub fn new() -> PostgresOptions {
        PostgresOptions::default()
    }

    /// Sets [`PostgresOptions::lease`].
    #[must_use]
    pub fn lease(mut self, d: Duration) -> PostgresOptions {
        self.lease = d;
        self
    }

    /// Sets [`PostgresOptions::heartbeat`].
    #[must_use]
    pub fn heartbeat(mut self, d: Duration) -> PostgresOptions {
        self.heartbeat = d;
        self
    }

    /// Sets [`PostgresOptions::pool_size`] (at least 1).
    #[must_use]
    pub fn pool_size(mut self, n: usize) -> PostgresOptions {
        self.pool_size = n.max(1);
        self
    }

    /// Sets [`PostgresOptions::schema`].
    #[must_use]
    pub fn schema(mut self, name: impl Into<String>) -> PostgresOptions {
        self.schema = Some(name.into());
        self
    }

    /// Sets [`PostgresOptions::statement_timeout`].
    #[must_use]
    pub fn statement_timeout(mut self, d: Duration) -> PostgresOptions {
        self.statement_timeout = d;
        self
    }

    /// Sets [`PostgresOptions::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> PostgresOptions {
        self.connect_timeout = d;
        self
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.lease < Duration::from_millis(100) {
            return Err(format!(
                "a lease of {:?} is too short: give at least 100 ms",
                self.lease
            ));
        }
        if self.heartbeat.is_zero() || self.heartbeat * 2 > self.lease {
            return Err(format!(
                "a heartbeat of {:?} with a lease of {:?}: the heartbeat must be more \
                 than zero and at most half the lease",
                self.heartbeat, self.lease
            ));
        }
        Ok(())
    }
}

/// A URL split into what tokio-postgres reads and weft's own `schema`.
pub(crate) struct Url {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) schema: Option<String>,
    /// weft's `statement_timeout=SECONDS`, if given.
    pub(crate) statement_timeout: Option<Duration>,
    /// `host:port/db`, without credentials, for messages.
    pub(crate) display: String,
}

/// Parses `postgres://user[:password]@host[:port]/db[?schema=NAME&…]`; the
/// database is required.
pub(crate) fn parse_url(url: &str) -> Result<Url, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut schema = None;
    let mut statement_timeout = None;
    let mut rest = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("schema", name)) => schema = Some(name.to_owned()),
            Some(("statement_timeout", secs)) => {
                let secs: f64 = secs
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .ok_or_else(|| {
                        format!(
                            "`statement_timeout={secs}` in `{}` is not a number of seconds: \
                             write statement_timeout=30",
                            redact(url)
                        )
                    })?;
                statement_timeout = Some(Duration::from_secs_f64(secs));
            }
            _ if pair.is_empty() => {}
            _ => rest.push(pair),
        }
    }
    let text = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let config: tokio_postgres::Config = text.parse().map_err(|e| {
        format!(
            "`{}` is not a Postgres URL ({e}): write postgres://USER@HOST:PORT/DATABASE, \
             with ?schema=NAME to keep the tables in a schema of their own",
            redact(url)
        )
    })?;
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    // Without a database, the server would pick one named after the user
    // (`postgres`, usually), and weft's tables would land beside whatever
    // else lives there: the database is asked for, never guessed.
    let Some(db) = config.get_dbname().map(str::to_owned) else {
        let shown = redact(base);
        return Err(format!(
            "`{}` names no database: add one after the port, as in {}/DATABASE \
             (weft does not pick one: it would put its tables in the database named \
             after the user)",
            redact(url),
            shown.trim_end_matches('/')
        ));
    };
    Ok(Url {
        config,
        schema,
        statement_timeout,
        display: format!("{host}:{port}/{db}"),
    })
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// A schema name weft accepts: a plain lowercase identifier, so that it
/// needs no quoting anywhere (and fits a notification channel's name).
pub(crate) fn check_schema(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a schema name weft uses: write 1 to 40 lowercase letters, \
             digits or underscores, starting with a letter or underscore"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_taken_out_of_the_url() {
        let u = parse_url("postgres://postgres:secret@127.0.0.1:5433/test?schema=weft_a").unwrap();
        assert_eq!(u.schema.as_deref(), Some("weft_a"));
        assert_eq!(u.display, "127.0.0.1:5433/test");
        assert_eq!(u.config.get_dbname(), Some("test"));
        let u = parse_url("postgres://postgres@localhost/test?connect_timeout=3&schema=s").unwrap();
        assert_eq!(u.schema.as_deref(), Some("s"));
        assert_eq!(u.statement_timeout, None);
        let u = parse_url("postgres://u@h/test?statement_timeout=2.5&connect_timeout=1").unwrap();
        assert_eq!(u.statement_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            u.config.get_connect_timeout(),
            Some(&Duration::from_secs(1))
        );
        let e = parse_url("postgres://u:secret@h/test?statement_timeout=soon")
            .err()
            .unwrap();
        assert!(e.contains("not a number of seconds"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        assert!(parse_url("mysql:/x").is_err());
    }

    #[test]
    fn a_url_without_a_database_is_refused() {
        for url in [
            "postgres://postgres@127.0.0.1:5432",
            "postgres://postgres@127.0.0.1:5432/",
            "postgres://postgres:secret@127.0.0.1:5432?schema=s",
        ] {
            let e = parse_url(url).err().unwrap();
            assert!(e.contains("names no database"), "{url}: {e}");
            assert!(
                e.contains("postgres://postgres@127.0.0.1:5432/DATABASE"),
                "{url}: {e}"
            );
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://u:secret@h/db"),
            "postgres://u@h/db".to_owned()
        );
        let e = parse_url("postgres://u:secret@h:notaport/db")
            .err()
            .unwrap();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema("weft_test_1").is_ok());
        assert!(check_schema("Weft").is_err());
        assert!(check_schema("a;drop").is_err());
        assert!(check_schema("").is_err());
    }

    #[test]
    fn the_heartbeat_fits_in_the_lease() {
        assert!(PostgresOptions::new().check().is_ok());
        let o = PostgresOptions::new()
            .lease(Duration::from_secs(2))
            .heartbeat(Duration::from_secs(2));
        assert!(o.check().unwrap_err().contains("half the lease"));
    }
}
