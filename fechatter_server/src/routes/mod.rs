//! HTTP routes, one module per resource.

pub mod auth;
pub mod chats;
pub mod events;
pub mod health;
pub mod members;
pub mod messages;
pub mod read_state;
pub mod users;
pub mod workspace;

use axum::Router;
use axum::routing::get;

use crate::error::AppError;
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(workspace::router())
        .merge(chats::router())
        .merge(members::router())
        .merge(messages::router())
        .merge(read_state::router())
        .merge(events::router())
        .merge(health::router())
        .route("/api/openapi.json", get(openapi_json))
        .fallback(|| async { AppError::NotFound("route") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
