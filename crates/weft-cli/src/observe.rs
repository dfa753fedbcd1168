//! `--metrics-addr` and `--log-format`: what `docs/scale-out.md` calls
//! "what to monitor", for a user of the command line. weft's metrics go to
//! a Prometheus endpoint, and its logs (tracing events and the spans of
//! runs and task attempts) to stderr, filtered by `RUST_LOG`.

use std::net::SocketAddr;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// `--metrics-addr`, `--log-format`: on the commands that run workflows.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ObserveArgs {
    /// Serve weft's metrics for Prometheus at http://ADDR/metrics while
    /// the command runs (127.0.0.1:9464; 0.0.0.0:9464 for every address).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// How logs are written to stderr: text, or json (one JSON object per
    /// line). RUST_LOG says which (default: warn; info adds a line per
    /// task attempt and per run as each ends).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Buckets of the histograms in seconds: from 50 µs (a dispatch) to 10 s
/// (an action).
const SECONDS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 10.0,
];

impl ObserveArgs {
    /// Installs the log subscriber, and the metrics exporter when asked for
    /// (before any run starts: runs see a recorder only if it is installed
    /// when they begin).
    ///
    /// # Errors
    ///
    /// The message to print: `RUST_LOG` cannot be read, or the metrics
    /// address cannot be listened on.
    pub(crate) fn install(&self) -> Result<(), String> {
        let filter = match std::env::var("RUST_LOG") {
            Ok(text) if !text.trim().is_empty() => EnvFilter::try_new(&text).map_err(|e| {
                format!("error: RUST_LOG=`{text}` cannot be read ({e}): write a level (warn, info, debug) or directives such as weft_runtime=debug")
            })?,
            _ => EnvFilter::new("warn"),
        };
        let fmt = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_span_events(FmtSpan::CLOSE);
        let installed = match self.log_format {
            LogFormat::Text => fmt
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .try_init(),
            LogFormat::Json => fmt.json().with_ansi(false).try_init(),
        };
        installed.map_err(|e| format!("error: cannot set up logging: {e}"))?;
        if let Some(addr) = self.metrics_addr {
            PrometheusBuilder::new()
                .with_http_listener(addr)
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS)
                .and_then(|b| b.install())
                .map_err(|e| {
                    format!(
                        "error: cannot serve metrics at {addr} ({e}): give a free address, such \
                         as 127.0.0.1:9464"
                    )
                })?;
            weft_runtime::telemetry::describe();
        }
        Ok(())
    }
}
