//! Read cursors and typing signals.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use fechatter_core::error::ErrorBody;
use fechatter_core::events;
use fechatter_protos::v1;
use prost::Message as _;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::extract::{AuthUser, Json, Path};
use crate::ratelimit;
use crate::routes::chats::scope;
use crate::state::AppState;
use crate::store::chats;
use crate::store::outbox;

/// How long a typing indicator stays without a repeated call.
pub const TYPING_EXPIRES_MS: i64 = 6000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chats/{chat_id}/read", post(mark_read))
        .route("/api/chats/{chat_id}/typing", post(typing))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Highest `seq` the caller has read. Past the last message it is clamped; a value behind
    /// the current cursor changes nothing.
    seq: i64,
}

/// Moves the caller's read cursor forward.
#[utoipa::path(post, path = "/api/chats/{chat_id}/read", tag = "read state",
    security(("bearer" = [])), params(("chat_id" = i64, Path)), request_body = ReadRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
    Json(request): Json<ReadRequest>,
) -> AppResult<StatusCode> {
    if request.seq < 0 {
        return Err(AppError::field("seq", "must be 0 or more"));
    }
    let access = chats::access(&state, &user, chat_id).await?;
    if !access.is_member() {
        return Err(AppError::Forbidden(
            "join the channel to track reading".into(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    // A share lock orders this event after any message send in flight, without blocking other
    // readers.
    let last_seq: Option<i64> =
        sqlx::query_scalar("SELECT last_seq FROM chats WHERE id = $1 FOR SHARE")
            .bind(access.chat_id.0)
            .fetch_optional(&mut *tx)
            .await?;
    let last_seq = last_seq.ok_or(AppError::NotFound("chat"))?;
    let target = request.seq.min(last_seq);
    let moved: Option<i64> = sqlx::query_scalar(
        "UPDATE chat_members SET last_read_seq = $3
         WHERE chat_id = $1 AND user_id = $2 AND last_read_seq < $3
         RETURNING last_read_seq",
    )
    .bind(access.chat_id.0)
    .bind(user.id.0)
    .bind(target)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(seq) = moved {
        let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
        outbox::write(
            &mut tx,
            scope(&user, access.chat_id),
            events::CHAT_READ,
            &recipients,
            v1::event::Body::Read(v1::ReadCursor {
                user_id: user.id.0,
                seq,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tells the chat's other members that the caller is typing. Clients repeat it while the person
/// keeps typing; the indicator expires on its own.
#[utoipa::path(post, path = "/api/chats/{chat_id}/typing", tag = "read state",
    security(("bearer" = [])), params(("chat_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn typing(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
) -> AppResult<StatusCode> {
    let access = chats::access(&state, &user, chat_id).await?;
    access.require_writable_member()?;
    let limits = &state.config.limits;
    ratelimit::hit(
        &state,
        &format!("typing:{}:{}", user.id, access.chat_id),
        limits.typing_per_chat,
        limits.typing_window_secs,
    )
    .await?;
    let mut conn = state.pool.acquire().await?;
    let recipients: Vec<i64> = chats::member_ids(&mut conn, access.chat_id)
        .await?
        .into_iter()
        .filter(|id| *id != user.id.0)
        .collect();
    let signal = v1::Signal {
        kind: events::SIGNAL_TYPING.into(),
        workspace_id: user.workspace_id.0,
        chat_id: access.chat_id.0,
        user_id: user.id.0,
        recipient_ids: recipients,
        expires_in_ms: TYPING_EXPIRES_MS,
        status: String::new(),
    };
    let subject = events::signal_subject(
        &state.config.nats.subject_prefix,
        user.workspace_id.0,
        events::SIGNAL_TYPING,
    );
    // Typing is ephemeral: when NATS is away the signal is dropped, which costs one indicator.
    if let Err(err) = state
        .nats
        .publish(subject, signal.encode_to_vec().into())
        .await
    {
        tracing::warn!(error = %err, chat_id = %access.chat_id, "typing signal not published");
    }
    Ok(StatusCode::NO_CONTENT)
}
