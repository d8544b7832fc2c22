//! The caller's own profile and password.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use fechatter_core::error::ErrorBody;
use fechatter_core::views::UserView;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::password;
use crate::auth::tokens::{self, TokenPair};
use crate::error::{AppError, AppResult, FieldErrors, constraint_name};
use crate::extract::{AuthUser, Json};
use crate::state::AppState;
use crate::store::users::{self, USER_COLUMNS, UserRow};
use crate::validate::{Username, check_password, parse_line};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/me", get(get_me).patch(update_me))
        .route("/api/users/me/password", post(change_password))
}

/// Returns the caller's profile.
#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn get_me(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<UserView>> {
    let view = users::find_user(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    fullname: Option<String>,
    username: Option<String>,
    /// An `http` or `https` URL; an empty string removes the avatar.
    avatar_url: Option<String>,
}

/// Updates the caller's full name, username or avatar URL.
#[utoipa::path(patch, path = "/api/users/me", request_body = UpdateMeRequest, tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<UpdateMeRequest>,
) -> AppResult<Json<UserView>> {
    let mut errors = FieldErrors::default();
    let fullname = request
        .fullname
        .as_deref()
        .map(|raw| parse_line(raw, 64))
        .transpose()
        .map_err(|err| errors.add("fullname", err))
        .ok()
        .flatten();
    let username = request
        .username
        .as_deref()
        .map(Username::parse)
        .transpose()
        .map_err(|err| errors.add("username", err))
        .ok()
        .flatten();
    let avatar_url = match request.avatar_url.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(url) => {
            let valid = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2048
                && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if !valid {
                errors.add(
                    "avatar_url",
                    "must be an http or https URL of at most 2048 characters",
                );
            }
            Some(Some(url.to_owned()))
        }
    };
    errors.into_result()?;
    let row: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET
            fullname = COALESCE($2, fullname),
            username = COALESCE($3, username),
            avatar_url = CASE WHEN $4 THEN $5 ELSE avatar_url END,
            updated_at = now()
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id.0)
    .bind(fullname)
    .bind(username.as_ref().map(Username::as_str))
    .bind(avatar_url.is_some())
    .bind(avatar_url.flatten())
    .fetch_one(&state.pool)
    .await
    .map_err(|err| match constraint_name(&err) {
        Some("users_workspace_username_key") => AppError::AlreadyExists {
            field: "username",
            message: "this username is taken in the workspace".into(),
        },
        _ => err.into(),
    })?;
    Ok(Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password, ends every other session and returns a fresh token pair.
#[utoipa::path(post, path = "/api/users/me/password", request_body = ChangePasswordRequest,
    tag = "users", security(("bearer" = [])),
    responses((status = 200, body = TokenPair), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<ChangePasswordRequest>,
) -> AppResult<Json<TokenPair>> {
    if let Err(err) = check_password(&request.new_password) {
        return Err(AppError::field("new_password", err));
    }
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id.0)
        .fetch_one(&state.pool)
        .await?;
    if !password::verify(request.current_password, Some(stored)).await? {
        return Err(AppError::field(
            "current_password",
            "does not match the current password",
        ));
    }
    let new_hash = password::hash(request.new_password).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user.id.0)
        .bind(&new_hash)
        .execute(&mut *tx)
        .await?;
    let version = tokens::end_all_sessions(&mut tx, user.id).await?;
    let pair =
        tokens::issue_pair(&state, &mut tx, user.id, user.workspace_id, version, None).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "password changed; other sessions ended");
    Ok(Json(pair))
}
