//! Outbox relay: publishes committed outbox rows to JetStream and marks them published.
//!
//! - One relay at a time across all replicas holds a PostgreSQL advisory lock on a dedicated
//!   connection and publishes. The others wait to take over. One publisher keeps each chat's events
//!   in commit order, because every transaction that writes a chat's events locks the chat row
//!   first, so the chat's outbox ids follow its commit order.
//! - It selects every row with `published_at IS NULL`, not "ids above the last one seen", because
//!   ids handed out in one order can commit in another.
//! - `LISTEN fechatter_outbox` wakes it when a row commits; polling remains the fallback.
//! - Each row is published with `Nats-Msg-Id: {instance_id}:{id}`, so a row re-published after a
//!   lost acknowledgement is dropped by JetStream's duplicate window, and deployments sharing one
//!   NATS server never collide.
//! - While NATS is away rows wait and the relay retries with backoff.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use fechatter_core::events::event_subject;
use fechatter_core::stream::{StreamSettings, ensure_event_stream};
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection};
use tokio::sync::watch;

use crate::state::AppState;

/// Advisory lock key of the relay ("fechrel" in ASCII).
const RELAY_LOCK_KEY: i64 = 0x0066_6563_6872_656c;
const BATCH: i64 = 200;
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
const CLEANUP_EVERY: Duration = Duration::from_secs(600);

/// Runs the relay until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(250);
    while !*stop.borrow() {
        match lead(&state, &mut stop).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "outbox relay interrupted; retrying"
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn instance_id(state: &AppState) -> String {
    let configured = &state.config.relay.instance_id;
    if !configured.is_empty() {
        return configured.clone();
    }
    state
        .config
        .database
        .url
        .rsplit('/')
        .next()
        .and_then(|db| db.split('?').next())
        .unwrap_or("fechatter")
        .to_owned()
}

/// Waits for the advisory lock, then publishes until stopped or an error occurs.
async fn lead(state: &AppState, stop: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(&state.config.database.url)
        .await
        .context("relay failed to connect to PostgreSQL")?;
    loop {
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(RELAY_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?;
        if locked {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
    tracing::info!("outbox relay is active on this instance");
    let mut listener = PgListener::connect(&state.config.database.url).await?;
    listener.listen("fechatter_outbox").await?;
    let context = jetstream::new(state.nats.clone());
    let settings = StreamSettings {
        max_age: Duration::from_secs(state.config.relay.stream_max_age_hours * 3600),
        duplicate_window: Duration::from_secs(state.config.relay.dedup_window_secs),
    };
    ensure_event_stream(&context, &state.config.nats, settings).await?;
    let instance = instance_id(state);
    let poll = Duration::from_millis(state.config.relay.poll_interval_ms.max(10));
    let mut last_cleanup = tokio::time::Instant::now();
    loop {
        let published = publish_batch(state, &mut conn, &context, &instance).await?;
        if last_cleanup.elapsed() >= CLEANUP_EVERY {
            delete_old_rows(state, &mut conn).await?;
            last_cleanup = tokio::time::Instant::now();
        }
        if published as i64 == BATCH {
            continue;
        }
        tokio::select! {
            notification = listener.recv() => { notification?; }
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    kind: String,
    workspace_id: i64,
    payload: Vec<u8>,
}

/// Publishes up to one batch of unpublished rows in id order; returns how many went out.
async fn publish_batch(
    state: &AppState,
    conn: &mut PgConnection,
    context: &jetstream::Context,
    instance: &str,
) -> anyhow::Result<usize> {
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, kind, workspace_id, payload FROM outbox
         WHERE published_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&mut *conn)
    .await?;
    let mut published = Vec::with_capacity(rows.len());
    let mut failure = None;
    for row in &rows {
        let subject = event_subject(
            &state.config.nats.subject_prefix,
            row.workspace_id,
            &row.kind,
        );
        let message = jetstream::message::PublishMessage::build()
            .payload(row.payload.clone().into())
            .message_id(format!("{instance}:{}", row.id));
        let ack = async {
            let future = context.send_publish(subject, message).await?;
            tokio::time::timeout(ACK_TIMEOUT, future)
                .await
                .map_err(|_| anyhow::anyhow!("publish acknowledgement timed out"))??;
            anyhow::Ok(())
        };
        // Stop at the first failure so a later row never overtakes an earlier one.
        if let Err(err) = ack.await {
            failure = Some(err.context(format!("failed to publish outbox row {}", row.id)));
            break;
        }
        published.push(row.id);
    }
    if !published.is_empty() {
        sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
            .bind(&published)
            .execute(&mut *conn)
            .await?;
        metrics::counter!("outbox_published_total").increment(published.len() as u64);
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(published.len()),
    }
}

async fn delete_old_rows(state: &AppState, conn: &mut PgConnection) -> anyhow::Result<()> {
    let deleted =
        sqlx::query("DELETE FROM outbox WHERE published_at < now() - make_interval(hours => $1)")
            .bind(state.config.relay.retain_published_hours as i32)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if deleted > 0 {
        tracing::info!(deleted, "deleted published outbox rows past retention");
    }
    Ok(())
}
