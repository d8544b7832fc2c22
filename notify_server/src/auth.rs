//! Authenticates a stream request by a one-time ticket or a Bearer access token.

use axum::http::HeaderMap;
use fechatter_core::jwt::TokenError;

use crate::error::NotifyError;
use crate::state::AppState;

/// The user a stream belongs to.
#[derive(Debug, Clone, Copy)]
pub struct StreamUser {
    pub user_id: i64,
    pub workspace_id: i64,
}

/// Redeems `ticket` with an atomic get-and-delete, so it works exactly once on any instance.
pub async fn redeem_ticket(state: &AppState, ticket: &str) -> Result<StreamUser, NotifyError> {
    if ticket.is_empty() || ticket.len() > 128 {
        return Err(NotifyError::InvalidTicket);
    }
    let mut redis = state.redis.clone();
    let value: Option<String> = redis::cmd("GETDEL")
        .arg(state.redis_key(&format!("ticket:{ticket}")))
        .query_async(&mut redis)
        .await?;
    let value = value.ok_or(NotifyError::InvalidTicket)?;
    let mut parts = value.split(':').map(str::parse::<i64>);
    let (Some(Ok(user_id)), Some(Ok(workspace_id)), Some(Ok(session_version))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(NotifyError::InvalidTicket);
    };
    check_session(state, user_id, session_version)
        .await
        .map_err(|_| NotifyError::InvalidTicket)?;
    Ok(StreamUser {
        user_id,
        workspace_id,
    })
}

/// Verifies an `Authorization: Bearer` access token, including its session version.
pub async fn bearer(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<StreamUser>, NotifyError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            NotifyError::Unauthorized("expected Authorization: Bearer <token>".into())
        })?;
    let identity = state.verifier.verify(token).map_err(|err| match err {
        TokenError::Expired => NotifyError::Unauthorized("access token expired".into()),
        TokenError::Invalid(_) => NotifyError::Unauthorized("invalid access token".into()),
    })?;
    check_session(state, identity.user_id.0, identity.session_version).await?;
    Ok(Some(StreamUser {
        user_id: identity.user_id.0,
        workspace_id: identity.workspace_id.0,
    }))
}

async fn check_session(
    state: &AppState,
    user_id: i64,
    session_version: i64,
) -> Result<(), NotifyError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT session_version, status FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&state.pool)
            .await?;
    match row {
        Some((current, status)) if current == session_version && status == "active" => Ok(()),
        _ => Err(NotifyError::Unauthorized(
            "session ended; sign in again".into(),
        )),
    }
}
