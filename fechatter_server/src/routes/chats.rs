//! Chats: list, create, read, rename, archive, browse and join public channels, leave.

use std::collections::{BTreeSet, HashMap};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use fechatter_core::error::ErrorBody;
use fechatter_core::events;
use fechatter_core::ids::{ChatId, UserId};
use fechatter_core::views::{ChatView, MessageView};
use fechatter_protos::v1;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, FieldErrors, constraint_name};
use crate::extract::{AuthUser, Json, Path, Query};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use crate::store::chats::{self, CHAT_COLUMNS, ChatRow, chat_body};
use crate::store::messages::{MESSAGE_SELECT, MessageRow};
use crate::store::outbox::{self, EventScope};
use crate::validate::{parse_line, parse_optional_text};

/// Most user ids one request may add to a chat.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

pub const CHAT_TYPES: [&str; 4] = ["single", "group", "private_channel", "public_channel"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chats", get(list_chats).post(create_chat))
        .route("/api/chats/public", get(list_public))
        .route(
            "/api/chats/{chat_id}",
            get(get_chat).patch(update_chat).delete(archive_chat),
        )
        .route("/api/chats/{chat_id}/join", post(join_chat))
        .route("/api/chats/{chat_id}/leave", post(leave_chat))
}

/// A chat in the caller's chat list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSummary {
    #[serde(flatten)]
    chat: ChatView,
    /// The caller's role in the chat.
    role: String,
    /// Newest message that is not deleted.
    last_message: Option<MessageView>,
    /// Messages of others after the caller's read cursor.
    unread_count: i64,
    /// Unread messages that mention the caller.
    mention_count: i64,
    last_read_seq: i64,
    last_activity_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatList {
    items: Vec<ChatSummary>,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    #[sqlx(flatten)]
    chat: ChatRow,
    role: String,
    last_read_seq: i64,
    last_activity_at: DateTime<Utc>,
}

/// Lists all of the caller's chats, newest activity first, in five queries whatever their number.
#[utoipa::path(get, path = "/api/chats", tag = "chats", security(("bearer" = [])),
    responses((status = 200, body = ChatList)))]
async fn list_chats(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<ChatList>> {
    let rows: Vec<MembershipRow> = sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS}, cm.role, cm.last_read_seq, c.last_activity_at
         FROM chats c JOIN chat_members cm ON cm.chat_id = c.id AND cm.user_id = $1
         ORDER BY c.last_activity_at DESC, c.id DESC"
    ))
    .bind(user.id.0)
    .fetch_all(&state.pool)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.chat.id).collect();
    let last_messages: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT latest.* FROM unnest($1::bigint[]) AS ids(id)
         CROSS JOIN LATERAL ({MESSAGE_SELECT}
             WHERE m.chat_id = ids.id AND m.deleted_at IS NULL ORDER BY m.seq DESC LIMIT 1) latest"
    ))
    .bind(&ids)
    .fetch_all(&state.pool)
    .await?;
    let unread: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT m.chat_id, count(*) FROM chat_members cm
         JOIN messages m ON m.chat_id = cm.chat_id AND m.seq > cm.last_read_seq
         WHERE cm.user_id = $1 AND m.deleted_at IS NULL AND m.sender_id <> $1
         GROUP BY m.chat_id",
    )
    .bind(user.id.0)
    .fetch_all(&state.pool)
    .await?;
    let mentioned: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT mm.chat_id, count(*) FROM message_mentions mm
         JOIN chat_members cm ON cm.chat_id = mm.chat_id AND cm.user_id = mm.user_id
         WHERE mm.user_id = $1 AND mm.seq > cm.last_read_seq
         GROUP BY mm.chat_id",
    )
    .bind(user.id.0)
    .fetch_all(&state.pool)
    .await?;
    let mut last_by_chat: HashMap<i64, MessageView> = last_messages
        .into_iter()
        .map(|row| (row.chat_id, MessageView::from(row)))
        .collect();
    let unread: HashMap<i64, i64> = unread.into_iter().collect();
    let mentioned: HashMap<i64, i64> = mentioned.into_iter().collect();
    let items = rows
        .into_iter()
        .map(|row| {
            let id = row.chat.id;
            ChatSummary {
                chat: row.chat.into(),
                role: row.role,
                last_message: last_by_chat.remove(&id),
                unread_count: unread.get(&id).copied().unwrap_or(0),
                mention_count: mentioned.get(&id).copied().unwrap_or(0),
                last_read_seq: row.last_read_seq,
                last_activity_at: row.last_activity_at,
            }
        })
        .collect();
    Ok(Json(ChatList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChatRequest {
    /// `single`, `group`, `private_channel` or `public_channel`.
    chat_type: String,
    /// Required for channels; optional for groups; not allowed for `single`.
    name: Option<String>,
    /// The other members; the creator is added as the chat's owner.
    #[serde(default)]
    members: Vec<i64>,
    description: Option<String>,
}

/// Creates a chat. A `single` chat with someone who already has one with the caller returns
/// that chat with 200.
#[utoipa::path(post, path = "/api/chats", tag = "chats", security(("bearer" = [])),
    request_body = CreateChatRequest,
    responses((status = 201, body = ChatView), (status = 200, body = ChatView),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_chat(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<CreateChatRequest>,
) -> AppResult<(StatusCode, Json<ChatView>)> {
    let mut errors = FieldErrors::default();
    let chat_type = request.chat_type.as_str();
    if !CHAT_TYPES.contains(&chat_type) {
        return Err(AppError::field(
            "chat_type",
            "must be one of single, group, private_channel, public_channel",
        ));
    }
    if request.members.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(AppError::field(
            "members",
            format!("give at most {MAX_MEMBERS_PER_REQUEST} members; add more later"),
        ));
    }
    let others: BTreeSet<i64> = request
        .members
        .iter()
        .copied()
        .filter(|id| *id != user.id.0)
        .collect();
    match chat_type {
        "single" if request.members.len() != 1 || others.len() != 1 => {
            errors.add("members", "a single chat needs exactly one other user")
        }
        "group" if others.len() < 2 => {
            errors.add("members", "a group needs at least two other users")
        }
        _ => {}
    }
    let name = match (&request.name, chat_type) {
        (Some(_), "single") => {
            errors.add("name", "a single chat has no name");
            None
        }
        (Some(raw), _) => parse_line(raw, 80)
            .map_err(|err| errors.add("name", err))
            .ok(),
        (None, "private_channel" | "public_channel") => {
            errors.add("name", "channels need a name");
            None
        }
        (None, _) => None,
    };
    let description = parse_optional_text(request.description.as_deref(), 500)
        .map_err(|err| errors.add("description", err))
        .ok()
        .flatten();
    errors.into_result()?;

    let others: Vec<i64> = others.into_iter().collect();
    let known: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE id = ANY($1) AND workspace_id = $2 AND status = 'active'",
    )
    .bind(&others)
    .bind(user.workspace_id.0)
    .fetch_all(&state.pool)
    .await?;
    if known.len() != others.len() {
        let unknown: Vec<String> = others
            .iter()
            .filter(|id| !known.contains(id))
            .map(i64::to_string)
            .collect();
        return Err(AppError::field(
            "members",
            format!("unknown users in this workspace: {}", unknown.join(", ")),
        ));
    }

    let pair = (chat_type == "single").then(|| {
        let other = others[0];
        (user.id.0.min(other), user.id.0.max(other))
    });
    if let Some((low, high)) = pair
        && let Some(existing) = find_single(&state, low, high).await?
    {
        return Ok((StatusCode::OK, Json(existing)));
    }

    let mut tx = state.pool.begin().await?;
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO chats (workspace_id, chat_type, name, description, created_by, single_low, single_high)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user.workspace_id.0)
    .bind(chat_type)
    .bind(&name)
    .bind(&description)
    .bind(user.id.0)
    .bind(pair.map(|p| p.0))
    .bind(pair.map(|p| p.1))
    .fetch_one(&mut *tx)
    .await;
    let chat_id = match inserted {
        Ok(id) => ChatId(id),
        Err(err) => {
            return match (constraint_name(&err), pair) {
                (Some("chats_single_pair_key"), Some((low, high))) => {
                    drop(tx);
                    let existing =
                        find_single(&state, low, high)
                            .await?
                            .ok_or(AppError::Conflict(
                                "single chat was just changed; retry".into(),
                            ))?;
                    Ok((StatusCode::OK, Json(existing)))
                }
                (Some("chats_public_name_key"), _) => Err(AppError::AlreadyExists {
                    field: "name",
                    message: "a public channel with this name already exists".into(),
                }),
                _ => Err(err.into()),
            };
        }
    };
    sqlx::query(
        "INSERT INTO chat_members (chat_id, user_id, role)
         SELECT $1, member, CASE WHEN member = $2 THEN 'owner' ELSE 'member' END
         FROM unnest($3::bigint[]) AS member",
    )
    .bind(chat_id.0)
    .bind(user.id.0)
    .bind([vec![user.id.0], others].concat())
    .execute(&mut *tx)
    .await?;
    let view = chats::find_chat(&mut *tx, chat_id).await?;
    let recipients: Vec<i64> = view.members.iter().map(|id| id.0).collect();
    outbox::write(
        &mut tx,
        scope(&user, chat_id),
        events::CHAT_CREATED,
        &recipients,
        chat_body(&view),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(chat_id = %chat_id, user_id = %user.id, chat_type, "chat created");
    Ok((StatusCode::CREATED, Json(view)))
}

async fn find_single(state: &AppState, low: i64, high: i64) -> AppResult<Option<ChatView>> {
    let row: Option<ChatRow> = sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats c WHERE c.chat_type = 'single' AND c.single_low = $1 AND c.single_high = $2"
    ))
    .bind(low)
    .bind(high)
    .fetch_optional(&state.pool)
    .await?;
    Ok(row.map(ChatView::from))
}

pub fn scope(user: &AuthUser, chat_id: ChatId) -> EventScope {
    EventScope {
        workspace_id: user.workspace_id,
        chat_id,
        actor_id: user.id,
    }
}

/// Returns a chat the caller is in, or a public channel of their workspace.
#[utoipa::path(get, path = "/api/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = i64, Path)),
    responses((status = 200, body = ChatView), (status = 404, body = ErrorBody)))]
async fn get_chat(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
) -> AppResult<Json<ChatView>> {
    let access = chats::access(&state, &user, chat_id).await?;
    Ok(Json(chats::find_chat(&state.pool, access.chat_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChatRequest {
    name: Option<String>,
    /// An empty string removes the description.
    description: Option<String>,
}

/// Renames a chat or changes its description; needs the chat's owner or admin role.
#[utoipa::path(patch, path = "/api/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = i64, Path)), request_body = UpdateChatRequest,
    responses((status = 200, body = ChatView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_chat(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
    Json(request): Json<UpdateChatRequest>,
) -> AppResult<Json<ChatView>> {
    let access = chats::access(&state, &user, chat_id).await?;
    access.require_chat_admin()?;
    let mut errors = FieldErrors::default();
    let name = match &request.name {
        Some(_) if access.chat_type == "single" => {
            errors.add("name", "a single chat has no name");
            None
        }
        Some(raw) => parse_line(raw, 80)
            .map_err(|err| errors.add("name", err))
            .ok(),
        None => None,
    };
    let description = parse_optional_text(request.description.as_deref(), 500)
        .map_err(|err| errors.add("description", err))
        .ok()
        .flatten();
    errors.into_result()?;

    let mut tx = state.pool.begin().await?;
    chats::lock_chat(&mut tx, access.chat_id, user.id)
        .await?
        .require_admin()?;
    sqlx::query(
        "UPDATE chats SET name = COALESCE($2, name),
            description = CASE WHEN $3 THEN $4 ELSE description END
         WHERE id = $1",
    )
    .bind(access.chat_id.0)
    .bind(&name)
    .bind(request.description.is_some())
    .bind(&description)
    .execute(&mut *tx)
    .await
    .map_err(|err| match constraint_name(&err) {
        Some("chats_public_name_key") => AppError::AlreadyExists {
            field: "name",
            message: "a public channel with this name already exists".into(),
        },
        _ => err.into(),
    })?;
    let view = chats::find_chat(&mut *tx, access.chat_id).await?;
    let recipients: Vec<i64> = view.members.iter().map(|id| id.0).collect();
    outbox::write(
        &mut tx,
        scope(&user, access.chat_id),
        events::CHAT_UPDATED,
        &recipients,
        chat_body(&view),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Archives a chat: it stays listed and readable, but takes no new messages or members. Needs
/// the chat's owner or admin role; workspace admins may archive any channel.
#[utoipa::path(delete, path = "/api/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn archive_chat(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
) -> AppResult<StatusCode> {
    let access = chats::access(&state, &user, chat_id).await?;
    if access.chat_type == "single" {
        return Err(AppError::Conflict(
            "a direct message cannot be archived; it belongs to both people".into(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, access.chat_id, user.id).await?;
    let is_channel = access.chat_type.ends_with("_channel");
    let allowed = locked.is_chat_admin() || (is_channel && user.is_workspace_admin());
    if !allowed {
        return Err(AppError::Forbidden(
            "only the chat's owner or admins may archive it".into(),
        ));
    }
    if locked.archived {
        return Ok(StatusCode::NO_CONTENT);
    }
    sqlx::query("UPDATE chats SET archived_at = now() WHERE id = $1 AND archived_at IS NULL")
        .bind(access.chat_id.0)
        .execute(&mut *tx)
        .await?;
    let view = chats::find_chat(&mut *tx, access.chat_id).await?;
    let recipients: Vec<i64> = view.members.iter().map(|id| id.0).collect();
    outbox::write(
        &mut tx,
        scope(&user, access.chat_id),
        events::CHAT_ARCHIVED,
        &recipients,
        chat_body(&view),
    )
    .await?;
    tx.commit().await?;
    chats::invalidate(&state, access.chat_id).await;
    tracing::info!(chat_id = %access.chat_id, user_id = %user.id, "chat archived");
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the workspace's public channels in id order.
#[utoipa::path(get, path = "/api/chats/public", tag = "chats", security(("bearer" = [])),
    params(PageQuery), responses((status = 200, body = Page<ChatView>)))]
async fn list_public(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> AppResult<Json<Page<ChatView>>> {
    let (after, limit) = query.parse()?;
    let rows: Vec<ChatRow> = sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats c WHERE c.workspace_id = $1 AND c.chat_type = 'public_channel' AND c.id > $2
         ORDER BY c.id LIMIT $3"
    ))
    .bind(user.workspace_id.0)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |row| row.id,
        ChatView::from,
    )))
}

/// Joins a public channel; joining twice returns the chat again.
#[utoipa::path(post, path = "/api/chats/{chat_id}/join", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = i64, Path)),
    responses((status = 200, body = ChatView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn join_chat(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
) -> AppResult<Json<ChatView>> {
    let access = chats::access(&state, &user, chat_id).await?;
    if access.is_member() {
        return Ok(Json(chats::find_chat(&state.pool, access.chat_id).await?));
    }
    if access.archived {
        return Err(AppError::ChatArchived);
    }
    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, access.chat_id, user.id).await?;
    if locked.archived {
        return Err(AppError::ChatArchived);
    }
    // A channel whose last owner left gets its next member as owner, so someone can manage it.
    let added: Option<String> = sqlx::query_scalar(
        "INSERT INTO chat_members (chat_id, user_id, role, last_read_seq)
         SELECT $1, $2,
                CASE WHEN EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $1 AND role = 'owner')
                     THEN 'member' ELSE 'owner' END,
                $3
         ON CONFLICT DO NOTHING
         RETURNING role",
    )
    .bind(access.chat_id.0)
    .bind(user.id.0)
    .bind(locked.last_seq)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(role) = added {
        let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
        outbox::write(
            &mut tx,
            scope(&user, access.chat_id),
            events::MEMBER_JOINED,
            &recipients,
            member_body(user.id, &role),
        )
        .await?;
    }
    let view = chats::find_chat(&mut *tx, access.chat_id).await?;
    tx.commit().await?;
    chats::invalidate(&state, access.chat_id).await;
    Ok(Json(view))
}

pub fn member_body(user_id: UserId, role: &str) -> v1::event::Body {
    v1::event::Body::Member(v1::Member {
        user_id: user_id.0,
        role: role.to_owned(),
    })
}

/// Leaves a chat. Works in archived chats too; a direct message cannot be left.
#[utoipa::path(post, path = "/api/chats/{chat_id}/leave", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn leave_chat(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
) -> AppResult<StatusCode> {
    let access = chats::access(&state, &user, chat_id).await?;
    if !access.is_member() {
        return Err(AppError::NotFound("chat membership"));
    }
    if access.chat_type == "single" {
        return Err(AppError::Conflict("a direct message cannot be left".into()));
    }
    crate::routes::members::remove_member(&state, &user, access.chat_id, user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
