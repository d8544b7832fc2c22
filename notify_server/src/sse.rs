//! `GET /events`: the Server-Sent Events stream of one user.
//!
//! Frames of stored events carry `id:` (the JetStream stream sequence), `event:` and JSON `data:`.
//! Ephemeral frames (`ready`, `typing`, `presence`, `resync`) carry no `id:`, so they never move a
//! client's resume position. The first frame is always `ready`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;
use tokio_stream::wrappers::ReceiverStream;

use crate::auth::{self, StreamUser};
use crate::consumer;
use crate::error::NotifyError;
use crate::hub::{Frame, Replay, StoredEvent};
use crate::presence;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    /// One-time ticket from `POST /api/events/ticket`.
    ticket: Option<String>,
    /// Resume position for clients that cannot set `Last-Event-ID` (browsers' `EventSource`).
    last_event_id: Option<String>,
}

pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, NotifyError> {
    let Query(query) = query.map_err(|err| NotifyError::InvalidRequest(err.body_text()))?;
    let user = match &query.ticket {
        Some(ticket) => auth::redeem_ticket(&state, ticket).await?,
        None => auth::bearer(&state, &headers).await?.ok_or_else(|| {
            NotifyError::Unauthorized(
                "missing credentials: pass ?ticket= or Authorization: Bearer".into(),
            )
        })?,
    };
    let position = resume_position(&headers, query.last_event_id.as_deref())?;
    let limit = state.config.delivery.max_streams_per_user;
    if state.hub.connection_count(user.user_id) >= limit {
        return Err(NotifyError::TooManyStreams(limit));
    }

    let registration = state.hub.register(user.user_id);
    let connection = format!("{}:{}", uuid::Uuid::new_v4(), registration.connection_id);
    let guard = ConnectionGuard::start(state.clone(), user, registration.connection_id, connection);
    let head = registration.head;

    let mut initial = Vec::new();
    let mut last_sent = head;
    if let Some(position) = position {
        if position > head && position > stream_last_sequence(&state).await.unwrap_or(u64::MAX) {
            // The stream never reached this position: it was recreated since the client's last
            // event, so the client must reload.
            initial.push(signal_frame(
                "resync",
                json!({ "reason": "position_unknown" }).to_string(),
            ));
        } else if position >= head {
            // Another instance may be slightly ahead of this one: skip what the client has.
            last_sent = position;
        } else {
            match missed_events(&state, user.user_id, position, head).await {
                Ok(events) => initial.extend(events.into_iter().map(event_frame)),
                Err(reason) => initial.push(signal_frame(
                    "resync",
                    json!({ "reason": reason }).to_string(),
                )),
            }
        }
    }
    let online = match presence::peers(&state, user.user_id).await {
        Ok(peers) => presence::online_among(&state, &peers)
            .await
            .unwrap_or_default(),
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "failed to load peers");
            Vec::new()
        }
    };
    let ready = json!({ "last_event_id": last_sent.max(head), "online": online });
    initial.insert(0, signal_frame("ready", ready.to_string()));
    tracing::info!(
        user_id = user.user_id,
        head,
        ?position,
        replayed = initial.len() - 1,
        "stream opened"
    );

    let live = ReceiverStream::new(registration.receiver).filter_map(move |frame| {
        let _keep_registered = &guard;
        let event = match frame {
            Frame::Event(event) if event.seq <= last_sent => None,
            Frame::Event(event) => Some(event_frame(event)),
            Frame::Signal { kind, data } => Some(signal_frame(kind, data)),
        };
        futures::future::ready(event.map(Ok))
    });
    let stream = futures::stream::iter(initial.into_iter().map(Ok)).chain(live);
    let heartbeat = Duration::from_secs(state.config.delivery.heartbeat_secs.max(1));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")))
}

/// `Last-Event-ID` wins over `?last_event_id=`; an empty value means no position.
fn resume_position(headers: &HeaderMap, query: Option<&str>) -> Result<Option<u64>, NotifyError> {
    let header = headers
        .get("last-event-id")
        .map(|value| value.to_str().unwrap_or("invalid"));
    match header.or(query).map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| {
            NotifyError::InvalidRequest(format!(
                "last event id {raw:?} is not an event id; pass the id: of the last event received"
            ))
        }),
    }
}

async fn stream_last_sequence(state: &AppState) -> Option<u64> {
    let mut stream = state
        .context
        .get_stream(&state.config.nats.stream)
        .await
        .ok()?;
    Some(stream.info().await.ok()?.state.last_sequence)
}

/// Events for the user after `position` up to `head`, from memory or the stream. An error
/// names why the client must resync instead.
async fn missed_events(
    state: &AppState,
    user_id: i64,
    position: u64,
    head: u64,
) -> Result<Vec<StoredEvent>, &'static str> {
    if let Replay::Events(events) = state.hub.replay(user_id, position, head) {
        return Ok(events);
    }
    let stream = state.context.get_stream(&state.config.nats.stream).await;
    let Ok(mut stream) = stream else {
        return Err("replay_unavailable");
    };
    let first = match stream.info().await {
        Ok(info) => info.state.first_sequence,
        Err(err) => {
            tracing::warn!(error = %err, "failed to read stream info for a resume");
            return Err("replay_unavailable");
        }
    };
    if position + 1 < first {
        return Err("position_expired");
    }
    consumer::replay_range(&stream, user_id, position + 1, head)
        .await
        .map_err(|err| {
            tracing::warn!(error = format!("{err:#}"), position, head, "replay failed");
            "replay_unavailable"
        })
}

fn event_frame(event: StoredEvent) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.as_ref())
        .data(event.data.as_ref())
}

fn signal_frame(kind: &str, data: String) -> Event {
    Event::default().event(kind).data(data)
}

/// Keeps a connection registered and counted as online; dropping it (the client went away)
/// unregisters it and records the disconnect.
struct ConnectionGuard {
    state: AppState,
    user: StreamUser,
    connection_id: u64,
    connection: String,
    stop_refresh: Option<oneshot::Sender<()>>,
}

impl ConnectionGuard {
    fn start(state: AppState, user: StreamUser, connection_id: u64, connection: String) -> Self {
        let (stop_refresh, mut stopped) = oneshot::channel::<()>();
        let task_state = state.clone();
        let task_connection = connection.clone();
        tokio::spawn(async move {
            if let Err(err) = presence::connect(
                &task_state,
                user.workspace_id,
                user.user_id,
                &task_connection,
            )
            .await
            {
                tracing::warn!(error = format!("{err:#}"), "failed to record presence");
            }
            let interval = Duration::from_secs(task_state.config.presence.refresh_secs.max(1));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = &mut stopped => break,
                }
                if let Err(err) =
                    presence::refresh(&task_state, user.user_id, &task_connection).await
                {
                    tracing::warn!(error = format!("{err:#}"), "failed to refresh presence");
                }
            }
            if let Err(err) = presence::disconnect(
                &task_state,
                user.workspace_id,
                user.user_id,
                &task_connection,
            )
            .await
            {
                tracing::warn!(error = format!("{err:#}"), "failed to record disconnect");
            }
        });
        Self {
            state,
            user,
            connection_id,
            connection,
            stop_refresh: Some(stop_refresh),
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.state
            .hub
            .unregister(self.user.user_id, self.connection_id);
        if let Some(stop) = self.stop_refresh.take() {
            let _ = stop.send(());
        }
        tracing::info!(user_id = self.user.user_id, connection = %self.connection, "stream closed");
    }
}
