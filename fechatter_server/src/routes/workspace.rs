//! The caller's workspace: its users, their roles and invite codes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use fechatter_core::error::ErrorBody;
use fechatter_core::ids::UserId;
use fechatter_core::views::{UserView, WorkspaceView};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::extract::{AuthUser, Json, Path, Query};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use crate::store::users::{self, USER_COLUMNS, UserRow};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workspace", get(get_workspace))
        .route("/api/workspace/users", get(list_users))
        .route("/api/workspace/users/{user_id}", patch(update_user_role))
        .route("/api/workspace/invites", post(create_invite))
}

/// Returns the caller's workspace.
#[utoipa::path(get, path = "/api/workspace", tag = "workspace", security(("bearer" = [])),
    responses((status = 200, body = WorkspaceView)))]
async fn get_workspace(
    State(state): State<AppState>,
    user: AuthUser,
) -> AppResult<Json<WorkspaceView>> {
    let workspace = users::find_workspace(&state.pool, user.workspace_id)
        .await?
        .ok_or(AppError::NotFound("workspace"))?;
    Ok(Json(workspace))
}

/// Lists the workspace's users in id order, one page at a time.
#[utoipa::path(get, path = "/api/workspace/users", tag = "workspace", security(("bearer" = [])),
    params(PageQuery), responses((status = 200, body = Page<UserView>)))]
async fn list_users(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> AppResult<Json<Page<UserView>>> {
    let (after, limit) = query.parse()?;
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
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
        UserView::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    /// `admin` or `member`.
    role: String,
}

/// Sets a workspace user's role; only the workspace owner may.
#[utoipa::path(patch, path = "/api/workspace/users/{user_id}", tag = "workspace",
    security(("bearer" = [])), request_body = UpdateRoleRequest,
    params(("user_id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_user_role(
    State(state): State<AppState>,
    user: AuthUser,
    Path(target): Path<i64>,
    Json(request): Json<UpdateRoleRequest>,
) -> AppResult<Json<UserView>> {
    if !matches!(request.role.as_str(), "admin" | "member") {
        return Err(AppError::field("role", "must be \"admin\" or \"member\""));
    }
    if user.role != "owner" {
        return Err(AppError::Forbidden(
            "only the workspace owner sets roles".into(),
        ));
    }
    if target == user.id.0 {
        return Err(AppError::Forbidden(
            "the owner's own role cannot change".into(),
        ));
    }
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "UPDATE users SET role = $3, updated_at = now()
         WHERE id = $1 AND workspace_id = $2 RETURNING {USER_COLUMNS}"
    ))
    .bind(target)
    .bind(user.workspace_id.0)
    .bind(&request.role)
    .fetch_optional(&state.pool)
    .await?;
    let row = row.ok_or(AppError::NotFound("user"))?;
    tracing::info!(user_id = %user.id, target = %UserId(target), role = %request.role, "workspace role changed");
    Ok(Json(row.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    code: String,
    expires_at: DateTime<Utc>,
}

/// Creates an invite code that admits new users to the workspace until it expires.
#[utoipa::path(post, path = "/api/workspace/invites", tag = "workspace", security(("bearer" = [])),
    request_body = CreateInviteRequest,
    responses((status = 201, body = InviteView), (status = 403, body = ErrorBody)))]
async fn create_invite(
    State(state): State<AppState>,
    user: AuthUser,
    Json(_request): Json<CreateInviteRequest>,
) -> AppResult<(StatusCode, Json<InviteView>)> {
    if !user.is_workspace_admin() {
        return Err(AppError::Forbidden(
            "only workspace admins create invites".into(),
        ));
    }
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code = URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = Utc::now() + chrono::Duration::seconds(state.config.auth.invite_ttl_secs);
    sqlx::query(
        "INSERT INTO workspace_invites (workspace_id, code, created_by, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user.workspace_id.0)
    .bind(&code)
    .bind(user.id.0)
    .bind(expires_at)
    .execute(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(InviteView { code, expires_at })))
}
