//! One SSE listener per replay user: records every `message.created` frame with its receive
//! instant, and reopens a dropped stream with a fresh ticket and `last_event_id`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::{Mutex, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::account::{Account, Api};

/// Maximum silence on a stream before the listener treats it as dead and reopens it. The
/// notify_server sends a heartbeat comment every 15 s by default (`delivery.heartbeat_secs`).
const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(45);

/// First and last wait between two failed attempts to open a stream; it doubles in between.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// One `message.created` frame as one user received it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub user_id: i64,
    pub message_id: i64,
    pub received_at: Instant,
    /// `message.content` of the frame.
    pub content: Option<String>,
}

/// Everything the listeners of a run received, shared between them and the run.
#[derive(Debug, Default)]
pub struct DeliveryLog {
    pub deliveries: Vec<Delivery>,
    /// Streams opened again after an earlier stream of the same user ended or failed.
    pub reconnects: u64,
    /// Number of frames per (user id, message id) pair.
    counts: HashMap<(i64, i64), u32>,
}

impl DeliveryLog {
    fn record(&mut self, delivery: Delivery) {
        *self
            .counts
            .entry((delivery.user_id, delivery.message_id))
            .or_default() += 1;
        self.deliveries.push(delivery);
    }

    /// Returns whether `user_id` received `message_id` at least once.
    pub fn received(&self, user_id: i64, message_id: i64) -> bool {
        self.counts.contains_key(&(user_id, message_id))
    }

    /// Number of frames per (user id, message id) pair.
    pub fn counts(&self) -> &HashMap<(i64, i64), u32> {
        &self.counts
    }
}

/// What a listener task needs; one per user.
pub struct Listener {
    pub api: Arc<Api>,
    pub http: reqwest::Client,
    /// Base URL of notify_server, such as `http://127.0.0.1:6687`.
    pub events_base: String,
    pub account: Arc<Account>,
    pub log: Arc<Mutex<DeliveryLog>>,
    /// Completed when the first stream sent its `ready` frame.
    pub ready: oneshot::Sender<()>,
    /// Turns true when the run needs no more frames.
    pub stop: watch::Receiver<bool>,
}

/// Builds the HTTP client for event streams, which needs a read timeout but no total timeout.
pub fn stream_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(STREAM_READ_TIMEOUT)
        .build()
        .context("failed to build the HTTP client for event streams")
}

impl Listener {
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.listen())
    }

    async fn listen(mut self) {
        let user_id = self.account.user_id;
        let mut ready = Some(self.ready);
        let mut last_event_id: Option<u64> = None;
        let mut opened_before = false;
        let mut retry_delay = FIRST_RETRY_DELAY;
        loop {
            if *self.stop.borrow() {
                return;
            }
            let response = match open_stream(
                &self.api,
                &self.http,
                &self.events_base,
                &self.account,
                last_event_id,
            )
            .await
            {
                Ok(response) => response,
                Err(err) => {
                    tracing::warn!(
                        user_id,
                        error = format!("{err:#}"),
                        ?retry_delay,
                        "failed to open the event stream; retrying"
                    );
                    if sleep_or_stop(&mut self.stop, retry_delay).await {
                        return;
                    }
                    retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
                    continue;
                }
            };
            if opened_before {
                self.log.lock().await.reconnects += 1;
                tracing::info!(user_id, ?last_event_id, "event stream reopened");
            }
            opened_before = true;
            retry_delay = FIRST_RETRY_DELAY;

            let mut frames = response.bytes_stream().eventsource();
            let ended = loop {
                let next = tokio::select! {
                    next = frames.next() => next,
                    _ = self.stop.changed() => return,
                };
                match next {
                    Some(Ok(event)) => {
                        if event.event == "ready"
                            && let Some(ready) = ready.take()
                        {
                            let _ = ready.send(());
                        }
                        handle_frame(&self.log, user_id, event, &mut last_event_id).await;
                    }
                    Some(Err(err)) => break format!("stream failed: {err}"),
                    None => break "server closed the stream".to_owned(),
                }
            };
            if *self.stop.borrow() {
                return;
            }
            tracing::warn!(
                user_id,
                reason = ended,
                ?last_event_id,
                "event stream dropped; reopening"
            );
        }
    }
}

/// Records a `message.created` frame and advances `last_event_id` past any frame with an id.
async fn handle_frame(
    log: &Mutex<DeliveryLog>,
    user_id: i64,
    event: Event,
    last_event_id: &mut Option<u64>,
) {
    if !event.id.is_empty() {
        match event.id.parse::<u64>() {
            Ok(id) => *last_event_id = Some(last_event_id.map_or(id, |last| last.max(id))),
            Err(_) => tracing::warn!(user_id, id = event.id, "ignored a non-numeric event id"),
        }
    }
    match event.event.as_str() {
        "message.created" => {
            let received_at = Instant::now();
            let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            let Some(message_id) = data["message"]["id"].as_i64() else {
                tracing::warn!(
                    user_id,
                    data = event.data,
                    "message.created frame without message.id"
                );
                return;
            };
            let content = data["message"]["content"].as_str().map(str::to_owned);
            log.lock().await.record(Delivery {
                user_id,
                message_id,
                received_at,
                content,
            });
        }
        "resync" => {
            tracing::warn!(
                user_id,
                data = event.data,
                "server sent resync: events after the resume position cannot be replayed"
            );
        }
        _ => {}
    }
}

/// Opens `GET /events` with a fresh ticket, resuming after `last_event_id` when given.
async fn open_stream(
    api: &Api,
    http: &reqwest::Client,
    events_base: &str,
    account: &Account,
    last_event_id: Option<u64>,
) -> anyhow::Result<reqwest::Response> {
    let ticket = api.ticket(account).await?;
    let url = format!("{}/events", events_base.trim_end_matches('/'));
    let mut query = vec![("ticket", ticket)];
    if let Some(id) = last_event_id {
        query.push(("last_event_id", id.to_string()));
    }
    let response = http
        .get(&url)
        .query(&query)
        .send()
        .await
        .with_context(|| format!("GET {url} failed"))?;
    let status = response.status();
    if status != StatusCode::OK {
        let body = response.text().await.unwrap_or_default();
        bail!("GET {url} returned status {status} with body {body}");
    }
    Ok(response)
}

/// Sleeps for `delay`; returns true when `stop` turned true first.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
