//! Reading the event stream: one ordered consumer per instance feeds the hub, short-lived ones
//! replay older ranges for reconnects, and a core NATS subscription carries ephemeral signals.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use fechatter_core::events::{SIGNAL_PRESENCE, SIGNAL_TYPING, event_json, signal_subjects};
use fechatter_core::stream::ensure_event_stream;
use fechatter_protos::v1;
use futures::StreamExt;
use prost::Message as _;
use serde_json::json;
use tokio::sync::watch;

use crate::hub::{Hub, StoredEvent};
use crate::state::AppState;
use crate::stream_settings;

/// How often the live consumer checks that the stream is still the one it reads.
const IDENTITY_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Decodes a stream message into the shared event representation.
pub fn decode(seq: u64, payload: &[u8]) -> anyhow::Result<StoredEvent> {
    let event = v1::Event::decode(payload).context("invalid event payload")?;
    let data = event_json(&event).to_string();
    Ok(StoredEvent {
        seq,
        kind: event.kind.into(),
        data: data.into(),
        recipients: event.recipient_ids.into(),
    })
}

/// Feeds every new stream message to the hub, resuming after its head when the consumer fails
/// and as soon as the NATS connection comes back.
///
/// Before each (re)start it opens the stream again, creating it if it is gone, and compares its
/// creation time with the one it consumed before. A different stream (NATS lost its data and the
/// stream was recreated) restarts sequence numbers, so the hub is reset.
pub async fn run_live(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut created = None;
    loop {
        state.consumer_ready.store(false, Ordering::Relaxed);
        let result = tokio::select! {
            result = open_and_consume(&state, &mut created) => result,
            _ = state.reconnected.notified() => {
                tracing::info!("NATS connection is back; restarting the event consumer");
                Ok(())
            }
            _ = stop.changed() => return,
        };
        state.consumer_ready.store(false, Ordering::Relaxed);
        if let Err(err) = result {
            tracing::warn!(
                error = format!("{err:#}"),
                head = state.hub.head(),
                "event consumer failed; restarting"
            );
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = state.reconnected.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }
}

async fn open_and_consume(
    state: &AppState,
    created: &mut Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<()> {
    let context = async_nats::jetstream::new(state.nats.clone());
    let stream =
        ensure_event_stream(&context, &state.config.nats, stream_settings(&state.config)).await?;
    let info = stream.cached_info();
    let head = state.hub.head();
    let recreated = created.is_some_and(|known| known != info.created);
    if recreated || info.state.last_sequence < head {
        state.hub.reset(0);
    }
    let created_at = info.created;
    *created = Some(created_at);
    tokio::select! {
        result = consume_from(&stream, state, state.hub.head() + 1) => result,
        result = watch_identity(state, created_at) => result,
    }
}

/// Fails when the stream disappears or is replaced by a new one with the same name. An ordered
/// consumer does not notice either: it quietly waits for sequence numbers the new stream has not
/// reached.
async fn watch_identity(
    state: &AppState,
    created_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let context = async_nats::jetstream::new(state.nats.clone());
    loop {
        tokio::time::sleep(IDENTITY_CHECK_INTERVAL).await;
        match context.get_stream(&state.config.nats.stream).await {
            Ok(stream) if stream.cached_info().created == created_at => {}
            Ok(_) => anyhow::bail!("the event stream was recreated"),
            Err(err)
                if matches!(
                    err.kind(),
                    async_nats::jetstream::context::GetStreamErrorKind::JetStream(_)
                ) =>
            {
                anyhow::bail!("the event stream is gone: {err}")
            }
            // Connection trouble: the reconnect handling restarts the consumer.
            Err(_) => {}
        }
    }
}

async fn consume_from(stream: &Stream, state: &AppState, start: u64) -> anyhow::Result<()> {
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await
        .context("failed to create the event consumer")?;
    let mut messages = consumer.messages().await?;
    state.consumer_ready.store(true, Ordering::Relaxed);
    tracing::info!(start, "event consumer running");
    while let Some(message) = messages.next().await {
        let message = message?;
        let seq = message
            .info()
            .map_err(|err| anyhow::anyhow!("message without stream info: {err}"))?
            .stream_sequence;
        match decode(seq, &message.payload) {
            Ok(event) => state.hub.dispatch(event),
            Err(err) => tracing::error!(
                error = format!("{err:#}"),
                seq,
                "skipping undecodable event"
            ),
        }
    }
    anyhow::bail!("event consumer ended")
}

/// Reads events `from..=upto` from the stream and keeps those addressed to `user_id`.
pub async fn replay_range(
    stream: &Stream,
    user_id: i64,
    from: u64,
    upto: u64,
) -> anyhow::Result<Vec<StoredEvent>> {
    let mut found = Vec::new();
    if from > upto {
        return Ok(found);
    }
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from,
            },
            ..Default::default()
        })
        .await
        .context("failed to create a replay consumer")?;
    let mut messages = consumer.messages().await?;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .context("replay timed out")?;
        let Some(message) = next else {
            anyhow::bail!("replay consumer ended early");
        };
        let message = message?;
        let seq = message
            .info()
            .map_err(|err| anyhow::anyhow!("message without stream info: {err}"))?
            .stream_sequence;
        if seq > upto {
            break;
        }
        let event = decode(seq, &message.payload)?;
        if event.recipients.contains(&user_id) {
            found.push(event);
        }
        if seq == upto {
            break;
        }
    }
    Ok(found)
}

/// Delivers typing and presence signals published by any instance.
pub async fn run_signals(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        let subject = signal_subjects(&state.config.nats.subject_prefix);
        match state.nats.subscribe(subject).await {
            Ok(mut subscriber) => loop {
                let message = tokio::select! {
                    message = subscriber.next() => message,
                    _ = stop.changed() => return,
                };
                let Some(message) = message else { break };
                match v1::Signal::decode(message.payload.as_ref()) {
                    Ok(signal) => deliver_signal(&state.hub, &signal),
                    Err(err) => tracing::warn!(error = %err, "skipping undecodable signal"),
                }
            },
            Err(err) => tracing::warn!(error = %err, "failed to subscribe to signals"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

fn deliver_signal(hub: &Hub, signal: &v1::Signal) {
    match signal.kind.as_str() {
        SIGNAL_TYPING => {
            let data = json!({
                "chat_id": signal.chat_id,
                "user_id": signal.user_id,
                "expires_in_ms": signal.expires_in_ms,
            });
            hub.signal(&signal.recipient_ids, SIGNAL_TYPING, &data.to_string());
        }
        SIGNAL_PRESENCE => {
            let data = json!({ "user_id": signal.user_id, "status": signal.status });
            hub.signal(&signal.recipient_ids, SIGNAL_PRESENCE, &data.to_string());
        }
        other => tracing::debug!(kind = other, "ignoring unknown signal"),
    }
}
