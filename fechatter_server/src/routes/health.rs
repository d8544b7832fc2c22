//! Liveness, readiness and Prometheus metrics.
//!
//! Readiness needs PostgreSQL and Redis. NATS is only reported: while it is away the outbox keeps
//! events and the relay publishes them later, so the API stays useful (status `degraded`).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::Json;
use crate::metrics;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(render_metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok`, `degraded` (NATS away) or `unavailable`.
    status: &'static str,
    postgres: &'static str,
    redis: &'static str,
    nats: &'static str,
}

/// Reports that the process is running.
#[utoipa::path(get, path = "/health/live", tag = "ops", responses((status = 200)))]
async fn live() -> StatusCode {
    StatusCode::OK
}

fn label(ok: bool) -> &'static str {
    if ok { "ok" } else { "unavailable" }
}

/// Reports whether the server can serve requests.
#[utoipa::path(get, path = "/health/ready", tag = "ops",
    responses((status = 200, body = HealthReport), (status = 503, body = HealthReport)))]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let timeout = Duration::from_secs(2);
    let postgres = tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&state.pool))
        .await
        .is_ok_and(|result| result.is_ok());
    let mut redis = state.redis.clone();
    let redis_ok = tokio::time::timeout(
        timeout,
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await
    .is_ok_and(|result| result.is_ok());
    let nats = state.nats.connection_state() == async_nats::connection::State::Connected;
    let ready = postgres && redis_ok;
    let report = HealthReport {
        status: match (ready, nats) {
            (false, _) => "unavailable",
            (true, false) => "degraded",
            (true, true) => "ok",
        },
        postgres: label(postgres),
        redis: label(redis_ok),
        nats: label(nats),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

/// Prometheus text exposition of the server's metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
async fn render_metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        metrics::render(),
    )
}
