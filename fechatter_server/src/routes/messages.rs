//! Messages: send, list, edit, delete and edit history.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use chrono::{DateTime, Utc};
use fechatter_core::error::ErrorBody;
use fechatter_core::events;
use fechatter_core::ids::{ChatId, MessageId};
use fechatter_core::views::MessageView;
use fechatter_protos::v1;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult, FieldErrors, constraint_name};
use crate::extract::{AuthUser, Json, Path, Query};
use crate::mentions;
use crate::pagination::check_limit;
use crate::ratelimit;
use crate::routes::chats::scope;
use crate::state::AppState;
use crate::store::chats::{self, ChatAccess};
use crate::store::messages::{self, MESSAGE_SELECT, MessageRow};
use crate::store::outbox;
use crate::validate::MessageContent;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/chats/{chat_id}/messages",
            get(list_messages).post(send_message),
        )
        .route(
            "/api/chats/{chat_id}/messages/{message_id}",
            patch(edit_message).delete(delete_message),
        )
        .route(
            "/api/chats/{chat_id}/messages/{message_id}/history",
            get(message_history),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// Markdown text, 1-4000 characters after trimming.
    content: String,
    /// Client-chosen key, unique per sender: repeating a send with it returns the first message.
    idempotency_key: Option<String>,
    /// Id of a message of the same chat that this one replies to.
    reply_to: Option<i64>,
}

fn message_body(message: &MessageView) -> v1::event::Body {
    v1::event::Body::Message(v1::Message::from(message))
}

/// Sends a message. A repeated `idempotency_key` with the same chat and content returns the
/// first message with 200.
#[utoipa::path(post, path = "/api/chats/{chat_id}/messages", tag = "messages",
    security(("bearer" = [])), params(("chat_id" = i64, Path)), request_body = SendMessageRequest,
    responses((status = 201, body = MessageView), (status = 200, body = MessageView),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
    Json(request): Json<SendMessageRequest>,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let access = chats::access(&state, &user, chat_id).await?;
    access.require_writable_member()?;
    let mut errors = FieldErrors::default();
    let content = MessageContent::parse(&request.content)
        .map_err(|err| errors.add("content", err))
        .ok();
    let key = request.idempotency_key.as_deref().map(str::trim);
    if let Some(key) = key
        && (key.is_empty() || key.chars().count() > 128 || key.chars().any(char::is_control))
    {
        errors.add(
            "idempotency_key",
            "must be 1-128 characters without control characters",
        );
    }
    errors.into_result()?;
    let Some(content) = content else {
        return Err(AppError::field("content", "is required"));
    };
    let fingerprint = Sha256::digest(content.as_str().as_bytes()).to_vec();
    if let Some(key) = key
        && let Some(existing) =
            find_by_key(&state, &user, key, access.chat_id, &fingerprint).await?
    {
        return Ok((StatusCode::OK, Json(existing)));
    }
    let limits = &state.config.limits;
    ratelimit::hit(
        &state,
        &format!("messages:{}:{}", user.id, access.chat_id),
        limits.messages_per_chat,
        limits.messages_window_secs,
    )
    .await?;

    let mut tx = state.pool.begin().await?;
    if let Some(reply_to) = request.reply_to {
        let same_chat: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND chat_id = $2)",
        )
        .bind(reply_to)
        .bind(access.chat_id.0)
        .fetch_one(&mut *tx)
        .await?;
        if !same_chat {
            return Err(AppError::field(
                "reply_to",
                "must be the id of a message in this chat",
            ));
        }
    }
    chats::lock_chat(&mut tx, access.chat_id, user.id)
        .await?
        .require_writable()?;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = now() WHERE id = $1
         RETURNING last_seq",
    )
    .bind(access.chat_id.0)
    .fetch_one(&mut *tx)
    .await?;
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO messages (chat_id, seq, sender_id, content, reply_to, idempotency_key,
            idempotency_content_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(access.chat_id.0)
    .bind(seq)
    .bind(user.id.0)
    .bind(content.as_str())
    .bind(request.reply_to)
    .bind(key)
    .bind(key.map(|_| fingerprint.clone()))
    .fetch_one(&mut *tx)
    .await;
    let message_id = match inserted {
        Ok(id) => id,
        Err(err) if constraint_name(&err) == Some("messages_idempotency_key") => {
            // A concurrent request with the same key committed first.
            drop(tx);
            let key = key.unwrap_or_default();
            let existing = find_by_key(&state, &user, key, access.chat_id, &fingerprint)
                .await?
                .ok_or_else(|| {
                    AppError::Conflict("message with this key was just deleted".into())
                })?;
            return Ok((StatusCode::OK, Json(existing)));
        }
        Err(err) => return Err(err.into()),
    };
    store_mentions(&mut tx, &access, message_id, seq, content.as_str()).await?;
    sqlx::query(
        "UPDATE chat_members SET last_read_seq = GREATEST(last_read_seq, $3)
         WHERE chat_id = $1 AND user_id = $2",
    )
    .bind(access.chat_id.0)
    .bind(user.id.0)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    let view = messages::find_in_chat(&mut *tx, access.chat_id, message_id)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
    outbox::write(
        &mut tx,
        scope(&user, access.chat_id),
        events::MESSAGE_CREATED,
        &recipients,
        message_body(&view),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("messages_sent_total").increment(1);
    Ok((StatusCode::CREATED, Json(view)))
}

async fn find_by_key(
    state: &AppState,
    user: &AuthUser,
    key: &str,
    chat_id: ChatId,
    fingerprint: &[u8],
) -> AppResult<Option<MessageView>> {
    let found: Option<(i64, i64, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, chat_id, idempotency_content_sha256 FROM messages
         WHERE sender_id = $1 AND idempotency_key = $2",
    )
    .bind(user.id.0)
    .bind(key)
    .fetch_optional(&state.pool)
    .await?;
    let Some((id, found_chat, found_fingerprint)) = found else {
        return Ok(None);
    };
    if found_chat != chat_id.0 || found_fingerprint.as_deref() != Some(fingerprint) {
        return Err(AppError::IdempotencyKeyReused);
    }
    messages::find_in_chat(&state.pool, chat_id, id).await
}

/// Replaces the mentions of a message with those found in `content`. `@all` counts only in
/// groups and direct messages, or from a channel's owners and admins.
async fn store_mentions(
    conn: &mut PgConnection,
    access: &ChatAccess,
    message_id: i64,
    seq: i64,
    content: &str,
) -> AppResult<()> {
    sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *conn)
        .await?;
    if !content.contains('@') {
        return Ok(());
    }
    let members: Vec<(i64, String)> = sqlx::query_as(
        "SELECT u.id, u.username FROM chat_members m JOIN users u ON u.id = m.user_id
         WHERE m.chat_id = $1",
    )
    .bind(access.chat_id.0)
    .fetch_all(&mut *conn)
    .await?;
    let found = mentions::find(content, &members);
    let all_allowed = !access.chat_type.ends_with("_channel") || access.is_chat_admin();
    let ids: Vec<i64> = if found.all && all_allowed {
        members.iter().map(|(id, _)| *id).collect()
    } else {
        found.user_ids.into_iter().collect()
    };
    sqlx::query(
        "INSERT INTO message_mentions (message_id, user_id, chat_id, seq)
         SELECT $1, id, $2, $3 FROM unnest($4::bigint[]) AS id",
    )
    .bind(message_id)
    .bind(access.chat_id.0)
    .bind(seq)
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListMessagesQuery {
    /// Only messages with a smaller `seq`.
    before: Option<i64>,
    /// Only messages with a larger `seq`.
    after: Option<i64>,
    /// Page size, 1-100 (default 50).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Messages in ascending `seq`; deleted ones as tombstones.
    items: Vec<MessageView>,
    /// Whether more messages exist beyond this page in the direction of travel: older without
    /// `after`, newer with it.
    has_more: bool,
}

/// Lists messages by `seq`. Without cursors it returns the newest page.
#[utoipa::path(get, path = "/api/chats/{chat_id}/messages", tag = "messages",
    security(("bearer" = [])), params(("chat_id" = i64, Path), ListMessagesQuery),
    responses((status = 200, body = MessagePage), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
    Query(query): Query<ListMessagesQuery>,
) -> AppResult<Json<MessagePage>> {
    let limit = check_limit(query.limit)?;
    for (field, value) in [("before", query.before), ("after", query.after)] {
        if value.is_some_and(|seq| seq < 0) {
            return Err(AppError::field(field, "must be a seq of 0 or more"));
        }
    }
    if let (Some(after), Some(before)) = (query.after, query.before)
        && after >= before
    {
        return Err(AppError::field("after", "must be smaller than before"));
    }
    let access = chats::access(&state, &user, chat_id).await?;
    let before = query.before.unwrap_or(i64::MAX);
    let ascending = query.after.is_some();
    let after = query.after.unwrap_or(0);
    let order = if ascending { "ASC" } else { "DESC" };
    let mut rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "{MESSAGE_SELECT} WHERE m.chat_id = $1 AND m.seq > $2 AND m.seq < $3
         ORDER BY m.seq {order} LIMIT $4"
    ))
    .bind(access.chat_id.0)
    .bind(after)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if !ascending {
        rows.reverse();
    }
    Ok(Json(MessagePage {
        items: rows.into_iter().map(MessageView::from).collect(),
        has_more,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessageRequest {
    content: String,
}

/// Edits one's own message; the previous text goes to the edit history.
#[utoipa::path(patch, path = "/api/chats/{chat_id}/messages/{message_id}", tag = "messages",
    security(("bearer" = [])), params(("chat_id" = i64, Path), ("message_id" = i64, Path)),
    request_body = EditMessageRequest,
    responses((status = 200, body = MessageView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn edit_message(
    State(state): State<AppState>,
    user: AuthUser,
    Path((chat_id, message_id)): Path<(i64, i64)>,
    Json(request): Json<EditMessageRequest>,
) -> AppResult<Json<MessageView>> {
    let access = chats::access(&state, &user, chat_id).await?;
    let content =
        MessageContent::parse(&request.content).map_err(|err| AppError::field("content", err))?;
    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, access.chat_id, user.id).await?;
    let current = messages::find_in_chat(&mut *tx, access.chat_id, message_id)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    locked.require_writable()?;
    if current.sender_id != user.id {
        return Err(AppError::Forbidden(
            "only the sender may edit a message".into(),
        ));
    }
    let Some(old_content) = current.content.as_deref() else {
        return Err(AppError::Conflict(
            "a deleted message cannot be edited".into(),
        ));
    };
    if old_content == content.as_str() {
        return Ok(Json(current));
    }
    sqlx::query("INSERT INTO message_edits (message_id, content) VALUES ($1, $2)")
        .bind(message_id)
        .bind(old_content)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE messages SET content = $2, edited_at = now() WHERE id = $1")
        .bind(message_id)
        .bind(content.as_str())
        .execute(&mut *tx)
        .await?;
    store_mentions(&mut tx, &access, message_id, current.seq, content.as_str()).await?;
    let view = messages::find_in_chat(&mut *tx, access.chat_id, message_id)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
    outbox::write(
        &mut tx,
        scope(&user, access.chat_id),
        events::MESSAGE_UPDATED,
        &recipients,
        message_body(&view),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Deletes a message: the sender's own, or any for the chat's owners and admins. The row stays
/// as a tombstone without content, and its edit history is erased.
#[utoipa::path(delete, path = "/api/chats/{chat_id}/messages/{message_id}", tag = "messages",
    security(("bearer" = [])), params(("chat_id" = i64, Path), ("message_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_message(
    State(state): State<AppState>,
    user: AuthUser,
    Path((chat_id, message_id)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    let access = chats::access(&state, &user, chat_id).await?;
    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, access.chat_id, user.id).await?;
    let current = messages::find_in_chat(&mut *tx, access.chat_id, message_id)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    locked.require_writable()?;
    if current.sender_id != user.id && !locked.is_chat_admin() {
        return Err(AppError::Forbidden(
            "only the sender or the chat's owners and admins may delete a message".into(),
        ));
    }
    if current.deleted_at.is_some() {
        return Ok(StatusCode::NO_CONTENT);
    }
    sqlx::query("UPDATE messages SET content = NULL, deleted_at = now() WHERE id = $1")
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM message_edits WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    let view = messages::find_in_chat(&mut *tx, access.chat_id, message_id)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
    outbox::write(
        &mut tx,
        scope(&user, access.chat_id),
        events::MESSAGE_DELETED,
        &recipients,
        message_body(&view),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct EditView {
    /// Text before the edit.
    content: String,
    /// When that text was replaced.
    edited_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Earlier versions, oldest first.
    items: Vec<EditView>,
}

/// Returns the earlier versions of a message, oldest first; empty once it is deleted.
#[utoipa::path(get, path = "/api/chats/{chat_id}/messages/{message_id}/history", tag = "messages",
    security(("bearer" = [])), params(("chat_id" = i64, Path), ("message_id" = i64, Path)),
    responses((status = 200, body = HistoryPage), (status = 404, body = ErrorBody)))]
async fn message_history(
    State(state): State<AppState>,
    user: AuthUser,
    Path((chat_id, message_id)): Path<(i64, i64)>,
) -> AppResult<Json<HistoryPage>> {
    let access = chats::access(&state, &user, chat_id).await?;
    messages::find_in_chat(&state.pool, access.chat_id, message_id)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    let items: Vec<EditView> = sqlx::query_as(
        "SELECT content, edited_at FROM message_edits WHERE message_id = $1 ORDER BY id",
    )
    .bind(MessageId(message_id).0)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(HistoryPage { items }))
}
