//! Request extractors whose rejections use the API error shape: JSON bodies, query strings, path
//! parameters and the authenticated user.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use fechatter_core::ids::{UserId, WorkspaceId};
use fechatter_core::jwt::TokenError;

use crate::error::AppError;
use crate::state::AppState;

/// JSON body extractor. Malformed JSON, wrong types and unknown fields are 400 `invalid_request`,
/// a missing JSON content type is 415, an oversized body 413.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                AppError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                AppError::PayloadTooLarge
            }
            other => AppError::InvalidRequest(other.body_text()),
        }
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::InvalidRequest(rejection.body_text())
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::InvalidRequest(rejection.body_text())
    }
}

/// The caller, proven by a Bearer access token whose session version is still current.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub workspace_id: WorkspaceId,
    /// Workspace role: `owner`, `admin` or `member`.
    pub role: String,
}

impl AuthUser {
    pub fn is_workspace_admin(&self) -> bool {
        self.role == "owner" || self.role == "admin"
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(parts)
            .ok_or_else(|| AppError::Unauthorized("missing Authorization: Bearer token".into()))?;
        let identity = state.verifier.verify(token).map_err(|err| match err {
            TokenError::Expired => AppError::Unauthorized("access token expired".into()),
            TokenError::Invalid(_) => AppError::Unauthorized("invalid access token".into()),
        })?;
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT session_version, status, role FROM users WHERE id = $1 AND workspace_id = $2",
        )
        .bind(identity.user_id.0)
        .bind(identity.workspace_id.0)
        .fetch_optional(&state.pool)
        .await?;
        let Some((session_version, status, role)) = row else {
            return Err(AppError::Unauthorized("unknown user".into()));
        };
        if session_version != identity.session_version {
            return Err(AppError::Unauthorized(
                "session ended; sign in again".into(),
            ));
        }
        if status != "active" {
            return Err(AppError::Unauthorized("account suspended".into()));
        }
        Ok(Self {
            id: identity.user_id,
            workspace_id: identity.workspace_id,
            role,
        })
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
