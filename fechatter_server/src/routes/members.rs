//! Chat members: list, add, change role, remove.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use chrono::{DateTime, Utc};
use fechatter_core::error::ErrorBody;
use fechatter_core::events;
use fechatter_core::ids::{ChatId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::extract::{AuthUser, Json, Path, Query};
use crate::pagination::{Page, PageQuery};
use crate::routes::chats::{MAX_MEMBERS_PER_REQUEST, member_body, scope};
use crate::state::AppState;
use crate::store::chats;
use crate::store::outbox;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/chats/{chat_id}/members",
            get(list_members).post(add_members),
        )
        .route(
            "/api/chats/{chat_id}/members/{user_id}",
            patch(update_member).delete(delete_member),
        )
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct MemberView {
    user_id: i64,
    username: String,
    fullname: String,
    /// `owner`, `admin` or `member`.
    role: String,
    last_read_seq: i64,
    joined_at: DateTime<Utc>,
}

const MEMBER_SELECT: &str =
    "SELECT m.user_id, u.username, u.fullname, m.role, m.last_read_seq, m.joined_at
    FROM chat_members m JOIN users u ON u.id = m.user_id";

async fn members_page(
    state: &AppState,
    chat_id: ChatId,
    after: i64,
    limit: i64,
) -> AppResult<Page<MemberView>> {
    let rows: Vec<MemberView> = sqlx::query_as(&format!(
        "{MEMBER_SELECT} WHERE m.chat_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"
    ))
    .bind(chat_id.0)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Page::from_rows(rows, limit, |row| row.user_id, |row| row))
}

/// Lists a chat's members in user id order.
#[utoipa::path(get, path = "/api/chats/{chat_id}/members", tag = "members",
    security(("bearer" = [])), params(("chat_id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<MemberView>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> AppResult<Json<Page<MemberView>>> {
    let access = chats::access(&state, &user, chat_id).await?;
    let (after, limit) = query.parse()?;
    Ok(Json(
        members_page(&state, access.chat_id, after, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembersRequest {
    user_ids: Vec<i64>,
}

/// Adds users of the workspace to a chat; existing members stay as they are. Returns the first
/// page of members.
#[utoipa::path(post, path = "/api/chats/{chat_id}/members", tag = "members",
    security(("bearer" = [])), params(("chat_id" = i64, Path)), request_body = AddMembersRequest,
    responses((status = 200, body = Page<MemberView>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn add_members(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<i64>,
    Json(request): Json<AddMembersRequest>,
) -> AppResult<Json<Page<MemberView>>> {
    let access = chats::access(&state, &user, chat_id).await?;
    access.require_chat_admin()?;
    if access.chat_type == "single" {
        return Err(AppError::Conflict(
            "a direct message has exactly two members; create a group instead".into(),
        ));
    }
    if request.user_ids.is_empty() || request.user_ids.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(AppError::field(
            "user_ids",
            format!("give between 1 and {MAX_MEMBERS_PER_REQUEST} user ids"),
        ));
    }
    let mut ids = request.user_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let known: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE id = ANY($1) AND workspace_id = $2 AND status = 'active'",
    )
    .bind(&ids)
    .bind(user.workspace_id.0)
    .fetch_all(&state.pool)
    .await?;
    if known.len() != ids.len() {
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !known.contains(id))
            .map(i64::to_string)
            .collect();
        return Err(AppError::field(
            "user_ids",
            format!("unknown users in this workspace: {}", unknown.join(", ")),
        ));
    }

    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, access.chat_id, user.id).await?;
    locked.require_admin()?;
    let added: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO chat_members (chat_id, user_id, role, last_read_seq)
         SELECT $1, id, 'member', $3 FROM unnest($2::bigint[]) AS id
         ON CONFLICT DO NOTHING RETURNING user_id",
    )
    .bind(access.chat_id.0)
    .bind(&ids)
    .bind(locked.last_seq)
    .fetch_all(&mut *tx)
    .await?;
    if !added.is_empty() {
        let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
        for user_id in &added {
            outbox::write(
                &mut tx,
                scope(&user, access.chat_id),
                events::MEMBER_JOINED,
                &recipients,
                member_body(UserId(*user_id), "member"),
            )
            .await?;
        }
    }
    tx.commit().await?;
    chats::invalidate(&state, access.chat_id).await;
    tracing::info!(chat_id = %access.chat_id, added = added.len(), "members added");
    Ok(Json(members_page(&state, access.chat_id, 0, 100).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// `owner`, `admin` or `member`. Only an owner grants or takes the owner role.
    role: String,
}

/// Changes a member's chat role; needs the chat's owner or admin role.
#[utoipa::path(patch, path = "/api/chats/{chat_id}/members/{user_id}", tag = "members",
    security(("bearer" = [])), params(("chat_id" = i64, Path), ("user_id" = i64, Path)),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    user: AuthUser,
    Path((chat_id, target)): Path<(i64, i64)>,
    Json(request): Json<UpdateMemberRequest>,
) -> AppResult<Json<MemberView>> {
    if !matches!(request.role.as_str(), "owner" | "admin" | "member") {
        return Err(AppError::field(
            "role",
            "must be \"owner\", \"admin\" or \"member\"",
        ));
    }
    let access = chats::access(&state, &user, chat_id).await?;
    access.require_chat_admin()?;
    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, access.chat_id, user.id).await?;
    locked.require_admin()?;
    let is_owner = locked.role.as_deref() == Some("owner");
    let current: Option<String> =
        sqlx::query_scalar("SELECT role FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind(access.chat_id.0)
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
    let current = current.ok_or(AppError::NotFound("chat member"))?;
    if (request.role == "owner" || current == "owner") && !is_owner {
        return Err(AppError::Forbidden(
            "only a chat owner grants or takes the owner role".into(),
        ));
    }
    if current == "owner" && request.role != "owner" {
        let owners: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM chat_members WHERE chat_id = $1 AND role = 'owner'",
        )
        .bind(access.chat_id.0)
        .fetch_one(&mut *tx)
        .await?;
        if owners <= 1 {
            return Err(AppError::Conflict("a chat needs at least one owner".into()));
        }
    }
    if current != request.role {
        sqlx::query("UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND user_id = $2")
            .bind(access.chat_id.0)
            .bind(target)
            .bind(&request.role)
            .execute(&mut *tx)
            .await?;
        let recipients = chats::member_ids(&mut tx, access.chat_id).await?;
        outbox::write(
            &mut tx,
            scope(&user, access.chat_id),
            events::MEMBER_ROLE_CHANGED,
            &recipients,
            member_body(UserId(target), &request.role),
        )
        .await?;
    }
    let view: MemberView = sqlx::query_as(&format!(
        "{MEMBER_SELECT} WHERE m.chat_id = $1 AND m.user_id = $2"
    ))
    .bind(access.chat_id.0)
    .bind(target)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    chats::invalidate(&state, access.chat_id).await;
    Ok(Json(view))
}

/// Removes a member from a chat; needs the chat's owner or admin role, except for removing
/// oneself.
#[utoipa::path(delete, path = "/api/chats/{chat_id}/members/{user_id}", tag = "members",
    security(("bearer" = [])), params(("chat_id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_member(
    State(state): State<AppState>,
    user: AuthUser,
    Path((chat_id, target)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    let access = chats::access(&state, &user, chat_id).await?;
    if target != user.id.0 {
        access.require_chat_admin()?;
    } else if !access.is_member() {
        return Err(AppError::NotFound("chat membership"));
    }
    if access.chat_type == "single" {
        return Err(AppError::Conflict(
            "a direct message has exactly two members".into(),
        ));
    }
    remove_member(&state, &user, access.chat_id, UserId(target)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes `target` from the chat and sends `chat.member_left` to the members and to `target`.
/// Removing someone else needs the chat's owner or admin role in a chat that is not archived,
/// and removing an owner needs the owner role. Leaving needs only membership. When the last
/// owner leaves, the longest-standing remaining member becomes owner.
pub async fn remove_member(
    state: &AppState,
    actor: &AuthUser,
    chat_id: ChatId,
    target: UserId,
) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    let locked = chats::lock_chat(&mut tx, chat_id, actor.id).await?;
    if target == actor.id {
        locked.require_member()?;
    } else {
        locked.require_admin()?;
    }
    let removed: Option<String> = sqlx::query_scalar(
        "DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2 RETURNING role",
    )
    .bind(chat_id.0)
    .bind(target.0)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(removed_role) = removed else {
        return Err(AppError::NotFound("chat member"));
    };
    if removed_role == "owner" && target != actor.id {
        let actor_is_owner: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2 AND role = 'owner')",
        )
        .bind(chat_id.0)
        .bind(actor.id.0)
        .fetch_one(&mut *tx)
        .await?;
        if !actor_is_owner {
            return Err(AppError::Forbidden(
                "only a chat owner removes an owner".into(),
            ));
        }
    }
    let mut recipients = chats::member_ids(&mut tx, chat_id).await?;
    recipients.push(target.0);
    outbox::write(
        &mut tx,
        scope(actor, chat_id),
        events::MEMBER_LEFT,
        &recipients,
        member_body(target, ""),
    )
    .await?;
    let promoted: Option<i64> = sqlx::query_scalar(
        "UPDATE chat_members SET role = 'owner'
         WHERE chat_id = $1 AND user_id = (
             SELECT user_id FROM chat_members WHERE chat_id = $1
             ORDER BY (role = 'admin') DESC, joined_at, user_id LIMIT 1)
         AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $1 AND role = 'owner')
         RETURNING user_id",
    )
    .bind(chat_id.0)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(new_owner) = promoted {
        recipients.pop();
        outbox::write(
            &mut tx,
            scope(actor, chat_id),
            events::MEMBER_ROLE_CHANGED,
            &recipients,
            member_body(UserId(new_owner), "owner"),
        )
        .await?;
    }
    tx.commit().await?;
    chats::invalidate(state, chat_id).await;
    tracing::info!(chat_id = %chat_id, user_id = %target, "member left");
    Ok(())
}
