//! An SSE client for tests: opens `GET /events` and yields parsed frames with a timeout.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;

type Frames = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// One parsed SSE frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// `id:` line; empty for ephemeral frames.
    pub id: String,
    pub event: String,
    pub data: Value,
}

pub struct EventStream {
    frames: Frames,
}

/// How to open a stream.
pub enum Credentials<'a> {
    Ticket(&'a str),
    Bearer(&'a str),
}

impl EventStream {
    /// Opens a stream; `position` goes in `Last-Event-ID` when `header` is true, else in
    /// `?last_event_id=`. Panics unless the server returns 200.
    pub async fn open(
        base: &str,
        credentials: Credentials<'_>,
        position: Option<u64>,
        header: bool,
    ) -> Self {
        match Self::try_open(base, credentials, position, header).await {
            Ok(stream) => stream,
            Err((status, body)) => panic!("opening the event stream failed: {status} {body}"),
        }
    }

    pub async fn try_open(
        base: &str,
        credentials: Credentials<'_>,
        position: Option<u64>,
        header: bool,
    ) -> Result<Self, (StatusCode, String)> {
        let mut url = reqwest::Url::parse(&format!("{base}/events")).expect("events url");
        let mut request = reqwest::Client::new().get(url.clone());
        match credentials {
            Credentials::Ticket(ticket) => {
                url.query_pairs_mut().append_pair("ticket", ticket);
            }
            Credentials::Bearer(token) => request = request.bearer_auth(token),
        }
        if let Some(position) = position {
            if header {
                request = request.header("Last-Event-ID", position.to_string());
            } else {
                url.query_pairs_mut()
                    .append_pair("last_event_id", &position.to_string());
            }
        }
        let request = request.build().map(|mut built| {
            *built.url_mut() = url;
            built
        });
        let response = reqwest::Client::new()
            .execute(request.expect("build request"))
            .await
            .expect("send stream request");
        let status = response.status();
        if status != StatusCode::OK {
            return Err((status, response.text().await.unwrap_or_default()));
        }
        Ok(Self {
            frames: Box::pin(response.bytes_stream().eventsource()),
        })
    }

    /// Returns the next frame, or `None` when none arrives within `wait` or the stream ends.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        match tokio::time::timeout(wait, self.frames.next()).await {
            Ok(Some(Ok(event))) => Some(Frame {
                id: event.id,
                event: event.event,
                data: serde_json::from_str(&event.data).unwrap_or(Value::Null),
            }),
            _ => None,
        }
    }

    /// Reads and drops frames until the server ends the stream; returns false if it is still open
    /// after `wait`.
    pub async fn wait_closed(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.frames.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Returns the next frame of kind `event`, skipping others. Panics after `wait`.
    pub async fn expect(&mut self, event: &str, wait: Duration) -> Frame {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(frame) if frame.event == event => return frame,
                Some(_) => continue,
                None => panic!("no {event} frame within {wait:?}"),
            }
        }
    }

    /// Stored-event frames (those with an id) received within `wait`, in order.
    pub async fn collect_events(&mut self, wait: Duration) -> Vec<Frame> {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return frames;
            }
            match self.next_within(left).await {
                Some(frame) if !frame.id.is_empty() => frames.push(frame),
                Some(_) => {}
                None => return frames,
            }
        }
    }
}
