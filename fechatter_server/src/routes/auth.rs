//! Sign-up, sign-in, token refresh and logout.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use fechatter_core::error::ErrorBody;
use fechatter_core::ids::{UserId, WorkspaceId};
use fechatter_core::views::{UserView, WorkspaceView};
use serde::{Deserialize, Serialize};
use sqlx::{Acquire, PgConnection};
use utoipa::ToSchema;

use crate::auth::password;
use crate::auth::tokens::{self, TokenPair};
use crate::error::{AppError, AppResult, FieldErrors, constraint_name};
use crate::extract::{AuthUser, Json};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::users;
use crate::validate::{Email, Username, check_password, parse_line};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/signup", post(signup))
        .route("/api/signin", post(signin))
        .route("/api/refresh", post(refresh))
        .route("/api/logout", post(logout))
        .route("/api/logout-all", post(logout_all))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    email: String,
    password: String,
    fullname: String,
    /// Creates a new workspace with this name. Give this or `invite_code`, not both.
    workspace_name: Option<String>,
    /// Joins the workspace that issued this invite code.
    invite_code: Option<String>,
    /// Defaults to the email's local part, made unique within the workspace.
    username: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    #[serde(flatten)]
    tokens: TokenPair,
    user: UserView,
    workspace: WorkspaceView,
}

struct ValidSignup {
    email: Email,
    fullname: String,
    username: Option<Username>,
    target: SignupTarget,
}

enum SignupTarget {
    NewWorkspace(String),
    Invite(String),
}

fn validate_signup(request: &SignupRequest) -> AppResult<ValidSignup> {
    let mut errors = FieldErrors::default();
    let email = Email::parse(&request.email)
        .map_err(|err| errors.add("email", err))
        .ok();
    if let Err(err) = check_password(&request.password) {
        errors.add("password", err);
    }
    let fullname = parse_line(&request.fullname, 64)
        .map_err(|err| errors.add("fullname", err))
        .ok();
    let username = match &request.username {
        Some(raw) => Username::parse(raw)
            .map_err(|err| errors.add("username", err))
            .ok(),
        None => None,
    };
    let target = match (&request.workspace_name, &request.invite_code) {
        (Some(name), None) => parse_line(name, 64)
            .map(SignupTarget::NewWorkspace)
            .map_err(|err| errors.add("workspace_name", err))
            .ok(),
        (None, Some(code)) => {
            let code = code.trim();
            let valid = !code.is_empty()
                && code.len() <= 64
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if valid {
                Some(SignupTarget::Invite(code.to_owned()))
            } else {
                errors.add(
                    "invite_code",
                    "invalid invite code; paste the code as it was given",
                );
                None
            }
        }
        _ => {
            errors.add(
                "workspace_name",
                "give either workspace_name or invite_code",
            );
            None
        }
    };
    errors.into_result()?;
    match (email, fullname, target) {
        (Some(email), Some(fullname), Some(target)) => Ok(ValidSignup {
            email,
            fullname,
            username,
            target,
        }),
        _ => Err(AppError::InvalidRequest("invalid signup request".into())),
    }
}

/// Creates an account, together with a new workspace or through an invite code.
#[utoipa::path(post, path = "/api/signup", request_body = SignupRequest, tag = "auth",
    responses((status = 201, body = AuthResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    Json(request): Json<SignupRequest>,
) -> AppResult<(StatusCode, Json<AuthResponse>)> {
    let valid = validate_signup(&request)?;
    let password_hash = password::hash(request.password).await?;
    let mut tx = state.pool.begin().await?;
    let (workspace_id, role) = match &valid.target {
        SignupTarget::NewWorkspace(name) => {
            if !state.config.auth.open_signup {
                return Err(AppError::Forbidden(
                    "creating workspaces is disabled; sign up with an invite code".into(),
                ));
            }
            let id: i64 =
                sqlx::query_scalar("INSERT INTO workspaces (name) VALUES ($1) RETURNING id")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
            (id, "owner")
        }
        SignupTarget::Invite(code) => {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT workspace_id FROM workspace_invites WHERE code = $1 AND expires_at > now()",
            )
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
            let id =
                id.ok_or_else(|| AppError::field("invite_code", "invalid or expired invite code"))?;
            (id, "member")
        }
    };
    let user_id = insert_user(&mut tx, workspace_id, &valid, &password_hash, role).await?;
    if role == "owner" {
        sqlx::query("UPDATE workspaces SET owner_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
    }
    let tokens = tokens::issue_pair(
        &state,
        &mut tx,
        UserId(user_id),
        WorkspaceId(workspace_id),
        1,
        None,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id, workspace_id, "user signed up");
    let response = auth_response(&state, UserId(user_id), tokens).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Inserts the user. Without a requested username it derives one from the email and, when a
/// concurrent signup takes it first, tries the next free one.
async fn insert_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    workspace_id: i64,
    valid: &ValidSignup,
    password_hash: &str,
    role: &str,
) -> AppResult<i64> {
    const ATTEMPTS: usize = 5;
    for attempt in 1..=ATTEMPTS {
        let username = match &valid.username {
            Some(name) => name.clone(),
            None => free_username(tx, workspace_id, &valid.email).await?,
        };
        // A savepoint keeps the transaction usable after a unique violation.
        let mut savepoint = tx.begin().await?;
        let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "INSERT INTO users (workspace_id, email, username, fullname, password_hash, role)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(workspace_id)
        .bind(valid.email.as_str())
        .bind(username.as_str())
        .bind(&valid.fullname)
        .bind(password_hash)
        .bind(role)
        .fetch_one(&mut *savepoint)
        .await;
        match inserted {
            Ok(id) => {
                savepoint.commit().await?;
                return Ok(id);
            }
            Err(err) => match constraint_name(&err) {
                Some("users_email_key") => {
                    return Err(AppError::AlreadyExists {
                        field: "email",
                        message: "an account with this email already exists".into(),
                    });
                }
                Some("users_workspace_username_key")
                    if valid.username.is_none() && attempt < ATTEMPTS =>
                {
                    savepoint.rollback().await?;
                }
                Some("users_workspace_username_key") => {
                    return Err(AppError::AlreadyExists {
                        field: "username",
                        message: "this username is taken in the workspace".into(),
                    });
                }
                _ => return Err(err.into()),
            },
        }
    }
    Err(AppError::Conflict(
        "could not pick a free username; retry".into(),
    ))
}

/// Picks the email's local part as username, with a number appended when it is taken.
async fn free_username(
    conn: &mut PgConnection,
    workspace_id: i64,
    email: &Email,
) -> AppResult<Username> {
    let base = Username::from_local_part(email.local_part());
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT lower(username) FROM users WHERE workspace_id = $1 AND lower(username) LIKE $2",
    )
    .bind(workspace_id)
    .bind(format!(
        "{}%",
        base.as_str().to_lowercase().replace('_', "\\_")
    ))
    .fetch_all(&mut *conn)
    .await?;
    let lower = base.as_str().to_lowercase();
    if !taken.contains(&lower) {
        return Ok(base);
    }
    let suffix = (2..)
        .find(|n| !taken.contains(&format!("{lower}{n}")))
        .unwrap_or(2);
    Username::parse(&format!("{}{suffix}", base.as_str()))
        .map_err(|err| AppError::field("username", err))
}

async fn auth_response(
    state: &AppState,
    user_id: UserId,
    tokens: TokenPair,
) -> AppResult<AuthResponse> {
    let user = users::find_user(&state.pool, user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let workspace = users::find_workspace(&state.pool, user.workspace_id)
        .await?
        .ok_or(AppError::NotFound("workspace"))?;
    Ok(AuthResponse {
        tokens,
        user,
        workspace,
    })
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/signin", request_body = SigninRequest, tag = "auth",
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn signin(
    State(state): State<AppState>,
    Json(request): Json<SigninRequest>,
) -> AppResult<Json<AuthResponse>> {
    let invalid = || AppError::Unauthorized("invalid email or password".into());
    let Ok(email) = Email::parse(&request.email) else {
        return Err(invalid());
    };
    let limits = &state.config.limits;
    ratelimit::hit(
        &state,
        &format!("signin:{}", email.as_str()),
        limits.signin_attempts,
        limits.signin_window_secs,
    )
    .await?;
    let row: Option<(i64, i64, String, String, i64)> = sqlx::query_as(
        "SELECT id, workspace_id, password_hash, status, session_version FROM users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(&state.pool)
    .await?;
    let stored_hash = row.as_ref().map(|row| row.2.clone());
    if !password::verify(request.password, stored_hash).await? {
        return Err(invalid());
    }
    let Some((user_id, workspace_id, _, status, session_version)) = row else {
        return Err(invalid());
    };
    if status != "active" {
        return Err(AppError::Unauthorized("account suspended".into()));
    }
    let mut conn = state.pool.acquire().await?;
    let tokens = tokens::issue_pair(
        &state,
        &mut conn,
        UserId(user_id),
        WorkspaceId(workspace_id),
        session_version,
        None,
    )
    .await?;
    Ok(Json(auth_response(&state, UserId(user_id), tokens).await?))
}

/// Exchanges a refresh token for a new pair; the presented token is rotated.
#[utoipa::path(post, path = "/api/refresh", request_body = RefreshRequest, tag = "auth",
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(tokens::refresh(&state, &request.refresh_token).await?))
}

/// Ends the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/logout", request_body = RefreshRequest, tag = "auth",
    responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> AppResult<StatusCode> {
    tokens::logout(&state, &request.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller, including access tokens already issued.
#[utoipa::path(post, path = "/api/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout_all(State(state): State<AppState>, user: AuthUser) -> AppResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    tokens::end_all_sessions(&mut tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "all sessions ended");
    Ok(StatusCode::NO_CONTENT)
}
