//! The connection that listens for the schema's notices (`LISTEN`), and
//! re-establishes itself when it drops (a database restart): after each
//! (re)connection it sends [`Notice::Missed`], so that whoever waits looks
//! again at what it may have missed.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};
use weft_runtime::store::Notice;
use weft_runtime::RunId;

/// The notice a payload names: `claim`, `cmd:<run>` or `end:<run>`.
pub(crate) fn parse(payload: &str) -> Notice {
    let run = |s: &str| s.parse::<RunId>().ok();
    match payload.split_once(':') {
        Some(("cmd", id)) => run(id).map_or(Notice::Missed, Notice::Command),
        Some(("end", id)) => run(id).map_or(Notice::Missed, Notice::Ended),
        _ if payload == "claim" => Notice::Claimable,
        _ => Notice::Missed,
    }
}

pub(crate) async fn listen_loop(
    config: tokio_postgres::Config,
    patience: Duration,
    channel: String,
    tx: broadcast::Sender<Notice>,
) {
    // While the server cannot be reached, try again less and less often.
    let mut pause = Duration::from_millis(250);
    loop {
        // A server that accepts and never answers must not hold this up:
        // `connect_timeout` bounds only the TCP connection.
        let connected = tokio::time::timeout(patience, config.connect(NoTls)).await;
        if let Ok(Ok((client, mut connection))) = connected {
            let forward = tx.clone();
            let driver = tokio::spawn(async move {
                let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(n) = message {
                        let _ = forward.send(parse(n.payload()));
                    }
                }
            });
            let listening =
                tokio::time::timeout(patience, client.batch_execute(&format!("LISTEN {channel}")))
                    .await;
            if matches!(listening, Ok(Ok(()))) {
                let _ = tx.send(Notice::Missed);
                // It was listening: the next drop starts the waits over.
                pause = Duration::from_millis(250);
                let _ = driver.await;
            } else {
                driver.abort();
            }
            drop(client);
        }
        let _ = tx.send(Notice::Missed);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}
