//! Presence: a user is online while at least one of their streams is open on any instance.
//!
//! Redis keys (under the configured prefix):
//! - `presence:conns:{user_id}`: sorted set of the user's open connections, scored by the time
//!   (Unix ms) each stops counting unless refreshed;
//! - `presence:users`: sorted set of online users, scored by their latest connection expiry.
//!
//! Open connections refresh their scores periodically. Every instance sweeps `presence:users` for
//! expired scores, so users of a crashed instance turn offline after the TTL. Changes go to the
//! user's chat peers as `presence` signals over core NATS, which every instance delivers.

use std::time::Duration;

use fechatter_core::events::{SIGNAL_PRESENCE, signal_subject};
use fechatter_protos::v1;
use prost::Message as _;
use tokio::sync::watch;

use crate::state::AppState;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn conns_key(state: &AppState, user_id: i64) -> String {
    state.redis_key(&format!("presence:conns:{user_id}"))
}

fn users_key(state: &AppState) -> String {
    state.redis_key("presence:users")
}

fn expiry(state: &AppState) -> i64 {
    now_ms() + (state.config.presence.ttl_secs as i64) * 1000
}

/// Users who share at least one chat with `user_id`, the user excluded.
pub async fn peers(state: &AppState, user_id: i64) -> anyhow::Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT other.user_id FROM chat_members mine
         JOIN chat_members other ON other.chat_id = mine.chat_id
         WHERE mine.user_id = $1 AND other.user_id <> $1",
    )
    .bind(user_id)
    .fetch_all(&state.pool)
    .await?)
}

/// Returns the members of `users` who are online now.
pub async fn online_among(state: &AppState, users: &[i64]) -> anyhow::Result<Vec<i64>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut redis = state.redis.clone();
    let scores: Vec<Option<f64>> = redis::cmd("ZMSCORE")
        .arg(users_key(state))
        .arg(users)
        .query_async(&mut redis)
        .await?;
    let now = now_ms() as f64;
    Ok(users
        .iter()
        .zip(scores)
        .filter(|(_, score)| score.is_some_and(|score| score > now))
        .map(|(user, _)| *user)
        .collect())
}

/// Records an opened connection; announces the user online when it is their first.
pub async fn connect(
    state: &AppState,
    workspace_id: i64,
    user_id: i64,
    connection: &str,
) -> anyhow::Result<()> {
    let mut redis = state.redis.clone();
    let until = expiry(state);
    let previous: Option<f64> = redis::cmd("ZSCORE")
        .arg(users_key(state))
        .arg(user_id)
        .query_async(&mut redis)
        .await?;
    let _: () = redis::pipe()
        .zadd(conns_key(state, user_id), connection, until)
        .cmd("ZADD")
        .arg(users_key(state))
        .arg("GT")
        .arg(until)
        .arg(user_id)
        .ignore()
        .query_async(&mut redis)
        .await?;
    let was_online = previous.is_some_and(|score| score > now_ms() as f64);
    if !was_online {
        announce(state, workspace_id, user_id, "online").await?;
    }
    Ok(())
}

/// Extends an open connection's expiry.
pub async fn refresh(state: &AppState, user_id: i64, connection: &str) -> anyhow::Result<()> {
    let mut redis = state.redis.clone();
    let until = expiry(state);
    let _: () = redis::pipe()
        .zadd(conns_key(state, user_id), connection, until)
        .cmd("ZADD")
        .arg(users_key(state))
        .arg("GT")
        .arg(until)
        .arg(user_id)
        .ignore()
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// Records a closed connection; announces the user offline when no connection is left.
pub async fn disconnect(
    state: &AppState,
    workspace_id: i64,
    user_id: i64,
    connection: &str,
) -> anyhow::Result<()> {
    let mut redis = state.redis.clone();
    let key = conns_key(state, user_id);
    let (remaining,): (i64,) = redis::pipe()
        .zrem(&key, connection)
        .ignore()
        .cmd("ZREMRANGEBYSCORE")
        .arg(&key)
        .arg("-inf")
        .arg(now_ms())
        .ignore()
        .zcard(&key)
        .query_async(&mut redis)
        .await?;
    if remaining == 0 {
        let removed: i64 = redis::cmd("ZREM")
            .arg(users_key(state))
            .arg(user_id)
            .query_async(&mut redis)
            .await?;
        if removed > 0 {
            announce(state, workspace_id, user_id, "offline").await?;
        }
    }
    Ok(())
}

async fn announce(
    state: &AppState,
    workspace_id: i64,
    user_id: i64,
    status: &str,
) -> anyhow::Result<()> {
    let recipients = peers(state, user_id).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let signal = v1::Signal {
        kind: SIGNAL_PRESENCE.into(),
        workspace_id,
        chat_id: 0,
        user_id,
        recipient_ids: recipients,
        expires_in_ms: 0,
        status: status.into(),
    };
    let subject = signal_subject(
        &state.config.nats.subject_prefix,
        workspace_id,
        SIGNAL_PRESENCE,
    );
    state
        .nats
        .publish(subject, signal.encode_to_vec().into())
        .await?;
    Ok(())
}

/// Turns users offline whose connections all expired without closing (a crashed instance).
pub async fn run_sweeper(state: AppState, mut stop: watch::Receiver<bool>) {
    let interval = Duration::from_secs(state.config.presence.refresh_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if let Err(err) = sweep(&state).await {
            tracing::warn!(error = format!("{err:#}"), "presence sweep failed");
        }
    }
}

async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let mut redis = state.redis.clone();
    let expired: Vec<i64> = redis::cmd("ZRANGEBYSCORE")
        .arg(users_key(state))
        .arg("-inf")
        .arg(now_ms())
        .query_async(&mut redis)
        .await?;
    for user_id in expired {
        let removed: i64 = redis::cmd("ZREM")
            .arg(users_key(state))
            .arg(user_id)
            .query_async(&mut redis)
            .await?;
        if removed == 0 {
            continue;
        }
        let workspace_id: Option<i64> =
            sqlx::query_scalar("SELECT workspace_id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&state.pool)
                .await?;
        if let Some(workspace_id) = workspace_id {
            announce(state, workspace_id, user_id, "offline").await?;
        }
    }
    Ok(())
}
