//! Events serialize as flat JSON objects with a wall-clock time, and
//! `TaskRetrying` says why the attempt before it failed.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use serde_json::{json, Value};
use weft_runtime::{Event, EventKind, Executor, RunOptions};

mod common;

/// Seconds since 1970 of an RFC 3339 UTC time as `Event` writes it.
fn unix_seconds(text: &str) -> f64 {
    let (date, time) = text.split_once('T').expect("a `T`");
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let t = time.strip_suffix('Z').expect("UTC");
    let (hms, frac) = t.split_once('.').expect("fraction");
    let hms: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    // Days from civil (the inverse of the writer's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hms[0] * 3_600 + hms[1] * 60 + hms[2];
    secs as f64 + format!("0.{frac}").parse::<f64>().unwrap()
}

#[tokio::test]
async fn events_serialize_with_time_kind_and_fields() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  f:\n    action: core.fail\n    input: {message: boom}\n    retry: {count: 1, delay: 0.01}\n",
    );
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events: Vec<Event> = run.events().collect().await;
    run.await.unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    let json: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let kinds: Vec<&str> = json.iter().map(|j| j["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "task_scheduled",
            "task_started",
            "task_retrying",
            "task_started",
            "task_failed",
            "run_ended"
        ]
    );
    let mut last = 0.0;
    for (e, j) in events.iter().zip(&json) {
        assert_eq!(j["run_id"], json!(e.run_id.to_string()));
        let t = unix_seconds(j["time"].as_str().unwrap());
        assert!((now - t).abs() < 60.0, "{j}");
        // `time` follows `at`: never more than a scheduler turn out of order.
        assert!(t >= last - 0.05, "{j}");
        last = t;
    }
    let retrying = &json[3];
    assert_eq!(retrying["task"], json!("f"));
    assert_eq!(retrying["attempt"], json!(2));
    assert_eq!(retrying["item"], Value::Null);
    assert_eq!(retrying["error"], json!("boom"));
    assert!((retrying["delay_ms"].as_f64().unwrap() - 10.0).abs() < 1e-6);
    assert_eq!(json[6]["status"], json!("failed"));
    assert_eq!(json[0]["workflow"], json!("workflow"));

    match &events[3].kind {
        EventKind::TaskRetrying { error, delay, .. } => {
            assert_eq!(error.as_deref(), Some("boom"));
            assert_eq!(*delay, Duration::from_millis(10));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_retry_after_success_has_no_error() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  s:\n    action: core.noop\n    retry: {when: '{{ succeeded() }}', count: 1}\n",
    );
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events: Vec<Event> = run.events().collect().await;
    run.await.unwrap();
    let retry = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::TaskRetrying { .. }))
        .expect("a retry");
    assert_eq!(serde_json::to_value(retry).unwrap()["error"], Value::Null);
}
