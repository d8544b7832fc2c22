//! notify_server's error type, rendered in the error body shared by all services.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fechatter_core::error::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("invalid, spent or expired SSE ticket; request a new one from POST /api/events/ticket")]
    InvalidTicket,
    #[error("this user already has {0} open streams; close one before opening another")]
    TooManyStreams(usize),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for NotifyError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<redis::RedisError> for NotifyError {
    fn from(err: redis::RedisError) -> Self {
        Self::Internal(err.into())
    }
}

impl IntoResponse for NotifyError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::InvalidTicket => (StatusCode::UNAUTHORIZED, "invalid_ticket"),
            Self::TooManyStreams(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let body = match &self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                ErrorBody::new(code, "internal server error")
            }
            other => ErrorBody::new(code, other.to_string()),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(5),
            );
        }
        response
    }
}
