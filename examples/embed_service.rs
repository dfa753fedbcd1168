//! weft inside a long-lived tokio service: many concurrent runs on one executor, their events forwarded to `tracing`, its metrics on a Prometheus endpoint, and one run canceled.
//!
//! ```sh
//! cargo run --release --example embed_service
//! RUST_LOG=debug cargo run --release --example embed_service   # every event
//! WEFT_METRICS_ADDR=127.0.0.1:9464 WEFT_LINGER=60 \
//!     cargo run --release --example embed_service            # scrape it meanwhile
//! ```
//!
//! The service compiles its workflow once and starts one run per incoming
//! order on a shared executor. Each run gets a small driver task that
//! forwards the run's events to `tracing` and waits for the outcome, or for
//! a cancel request. The library itself only emits spans (`run`, `task`);
//! installing a subscriber is the program's job, done here in `main`.
//!
//! Metrics work the same way: weft records them through the `metrics`
//! facade, and does nothing with them unless the program installs a
//! recorder. `main` installs `metrics-exporter-prometheus` with its HTTP
//! listener, so `curl http://127.0.0.1:9464/metrics` shows them (see
//! docs/observability.md for the list).

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use futures::StreamExt;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};
use weft::prelude::*;
use weft::{EventKind, EventStream};

/// One order: reserve each SKU (one at a time), then confirm.
pub(crate) const WORKFLOW: &str = r#"
version: 1.0
description: reserve every item of an order, then confirm it
input:
  - order_id
  - skus
tasks:
  reserve:
    with: {items: "{{ parameters.skus }}", concurrency: 1}
    action: shop.reserve
    input: {order: "{{ parameters.order_id }}", sku: "{{ item }}"}
    next:
      - when: "{{ succeeded() }}"
        do: confirm
  confirm:
    action: shop.confirm
    input: {order: "{{ parameters.order_id }}", count: "{{ parameters.skus | length }}"}
output:
  - order_id: "{{ parameters.order_id }}"
  - confirmation: "{{ task.confirm.confirmation }}"
"#;

/// The service: one executor, one plan, any number of runs at once.
pub(crate) struct Service {
    executor: Executor,
    plan: Plan,
    done: mpsc::UnboundedSender<RunOutcome>,
}

/// What the service keeps of a run it started: a way to cancel it.
pub(crate) struct Ticket {
    cancel: oneshot::Sender<()>,
}

impl Ticket {
    /// Asks the run to stop: nothing new starts, the running action finishes.
    pub(crate) fn cancel(self) {
        let _ = self.cancel.send(());
    }
}

impl Service {
    /// Builds the executor and compiles the workflow once. Outcomes are
    /// sent to `done` as runs end.
    pub(crate) fn new(done: mpsc::UnboundedSender<RunOutcome>) -> Result<Service, weft::Error> {
        let executor = Executor::builder()
            .action("shop.reserve", |input: ActionInput| async move {
                let sku = input.require_str("sku")?;
                // Stands in for a call to the inventory service.
                tokio::time::sleep(Duration::from_millis(10)).await;
                // Logged inside the library's `run` and `task` spans.
                debug!(sku, "reserved");
                Ok(json!({ "sku": sku, "reserved": true }))
            })
            .action("shop.confirm", |input: ActionInput| async move {
                let order = input.require_str("order")?;
                let count = input.get("count").cloned().unwrap_or_default();
                info!(order, %count, "order confirmed");
                Ok(json!({ "confirmation": format!("{order}-OK") }))
            })
            // A cap shared by every run of this executor.
            .max_actions_in_flight(16)
            .build();
        let plan = Workflow::from_yaml_str(WORKFLOW)?
            .with_name("order")
            .compile(&executor)?;
        Ok(Service {
            executor,
            plan,
            done,
        })
    }

    /// Starts a run for one order and returns at once. A driver task
    /// forwards the run's events to `tracing`, and sends the outcome to
    /// `done` when the run ends.
    pub(crate) fn submit(&self, order_id: &str, skus: &[&str]) -> Result<Ticket, weft::StartError> {
        let inputs = json!({ "order_id": order_id, "skus": skus });
        let mut run =
            self.executor
                .start_with(&self.plan, inputs, RunOptions::new().with_events())?;
        let events = run.events();
        let (cancel, mut canceled) = oneshot::channel::<()>();
        let done = self.done.clone();
        tokio::spawn(async move {
            let outcome = async {
                // Awaiting `&mut run` is cancel safe: when the select drops
                // it, the run goes on and can still be awaited.
                tokio::select! {
                    outcome = &mut run => outcome,
                    Ok(()) = &mut canceled => {
                        run.cancel();
                        run.await
                    }
                }
            };
            let ((), outcome) = tokio::join!(forward_events(events), outcome);
            match outcome {
                Ok(outcome) => {
                    let _ = done.send(outcome);
                }
                Err(lost) => warn!(error = %lost, "a run was lost"),
            }
        });
        Ok(Ticket { cancel })
    }
}

/// Forwards a run's events to `tracing`: starts and task progress at
/// `debug`, ends at `info`, failures at `warn`.
async fn forward_events(mut events: EventStream) {
    while let Some(event) = events.next().await {
        let run_id = event.run_id;
        match event.kind {
            EventKind::RunEnded { status } => info!(%run_id, %status, "run ended"),
            EventKind::TaskFailed { task, error, .. } => {
                warn!(%run_id, %task, %error, "task failed");
            }
            EventKind::TaskSkipped { task, reason, .. } => {
                info!(%run_id, %task, %reason, "task stopped");
            }
            other => debug!(%run_id, event = ?other),
        }
    }
}

/// Serves `orders` orders arriving a few milliseconds apart, plus one
/// large order that is canceled shortly after it starts. Returns every
/// outcome, in the order the runs ended.
pub(crate) async fn serve(orders: usize) -> Result<Vec<RunOutcome>, Box<dyn Error>> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let service = Service::new(done_tx)?;

    const SKUS: [&str; 4] = ["apple", "bread", "cheese", "dates"];
    let big: Vec<String> = (0..50).map(|i| format!("bulk-{i:02}")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();

    let big_order = service.submit("order-big", &big)?;
    for i in 0..orders {
        let id = format!("order-{i:03}");
        let skus = &SKUS[..1 + i % SKUS.len()];
        // This service never cancels ordinary orders, so it drops their
        // tickets; dropping a ticket (or a `Run`) does not stop a run.
        drop(service.submit(&id, skus)?);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The large order takes 50 × 10 ms; the customer gives up sooner.
    tokio::time::sleep(Duration::from_millis(60)).await;
    info!("canceling order-big");
    big_order.cancel();

    // A real service would run until shut down; this one stops when every
    // run it started has ended.
    drop(service);
    let mut outcomes = Vec::with_capacity(orders + 1);
    while let Some(outcome) = done_rx.recv().await {
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Installs the Prometheus exporter as the process's metrics recorder,
/// serving `/metrics` on `addr`. Durations get histogram buckets from
/// 50 µs to 10 s (without buckets the exporter reports summaries).
///
/// Call it from inside the tokio runtime: the listener is a task on it.
pub(crate) fn install_metrics(addr: SocketAddr) -> Result<(), Box<dyn Error>> {
    const SECONDS: [f64; 12] = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 10.0,
    ];
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS)?
        .install()?;
    weft::telemetry::describe();
    Ok(())
}

/// Fetches `http://{addr}/metrics`: what a Prometheus server would see.
pub(crate) async fn scrape(addr: SocketAddr) -> Result<String, Box<dyn Error>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        return Err(format!("not an HTTP response: {response:?}").into());
    };
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("the scrape failed: {head}").into());
    }
    Ok(body.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    // Logs go to stderr, the summary to stdout.
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let addr: SocketAddr = std::env::var("WEFT_METRICS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:9464".to_owned())
        .parse()?;
    install_metrics(addr)?;
    info!("metrics on http://{addr}/metrics");

    let outcomes = serve(20).await?;

    let count = |s: RunStatus| outcomes.iter().filter(|o| o.status == s).count();
    println!(
        "{} runs on one executor: {} succeeded, {} canceled, {} failed",
        outcomes.len(),
        count(RunStatus::Succeeded),
        count(RunStatus::Canceled),
        count(RunStatus::Failed),
    );
    for o in outcomes.iter().filter(|o| !o.succeeded()) {
        let reserve = o.task("reserve").next();
        let reserved = reserve
            .and_then(|t| t.result.as_deref())
            .and_then(|r| r.as_array())
            .map_or(0, |items| items.iter().filter(|i| !i.is_null()).count());
        println!(
            "run {} ({}): {} after {:.0} ms, {reserved} of {} items reserved; {}",
            o.run_id,
            o.workflow,
            o.status,
            o.stats.duration.as_secs_f64() * 1000.0,
            reserve.and_then(|t| t.items).unwrap_or(0),
            reserve.and_then(|t| t.error.as_deref()).unwrap_or("-"),
        );
    }

    // What a scrape shows now: the run counters.
    let metrics = scrape(addr).await?;
    println!("from http://{addr}/metrics:");
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("weft_runs_") && !l.starts_with("weft_runs_active"))
    {
        println!("  {line}");
    }
    // Leave the endpoint up for a while, to scrape it by hand.
    if let Some(secs) = std::env::var("WEFT_LINGER")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        info!("serving metrics for {secs} s more");
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    Ok(())
}
