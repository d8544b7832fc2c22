//! One-time tickets for opening the SSE stream without putting the access token in a URL.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fechatter_core::error::ErrorBody;
use rand::RngCore;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::extract::{AuthUser, Json};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events/ticket", post(create_ticket))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// Pass as `?ticket=` to `GET /events`; valid once.
    ticket: String,
    /// Seconds until the ticket expires.
    expires_in: u64,
}

/// Issues a ticket for `GET /events`, stored in Redis and redeemed with an atomic get-and-delete
/// by whichever notify instance receives the stream request.
#[utoipa::path(post, path = "/api/events/ticket", tag = "events", security(("bearer" = [])),
    request_body = TicketRequest,
    responses((status = 200, body = TicketView), (status = 401, body = ErrorBody)))]
async fn create_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Json(_request): Json<TicketRequest>,
) -> AppResult<Json<TicketView>> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    let session_version: i64 =
        sqlx::query_scalar("SELECT session_version FROM users WHERE id = $1")
            .bind(user.id.0)
            .fetch_one(&state.pool)
            .await?;
    let value = format!("{}:{}:{}", user.id, user.workspace_id, session_version);
    let ttl = state.config.auth.ticket_ttl_secs.max(1);
    let mut redis = state.redis.clone();
    let _: () = redis
        .set_ex(state.redis_key(&format!("ticket:{ticket}")), value, ttl)
        .await?;
    Ok(Json(TicketView {
        ticket,
        expires_in: ttl,
    }))
}
