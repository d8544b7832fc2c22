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
use utoipa_swagger_ui::SwaggerUi;

use crate::error::AppError;
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
        // Serves the document at /api/openapi.json and Swagger UI, bundled at build time, at /api/docs.
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", crate::openapi::document()))
        .fallback(|| async { AppError::NotFound("route") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
}
