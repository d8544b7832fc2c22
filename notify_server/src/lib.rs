//! notify_server: delivers Fechatter events to clients over Server-Sent Events.
//!
//! One ordered JetStream consumer per instance (`consumer.rs`) feeds the `hub`, which fans each
//! event out to the open streams of its recipients and keeps a window of recent events for
//! reconnects. `sse.rs` serves `GET /events` with gap-free resume; `presence.rs` tracks who is
//! online in Redis; typing and presence signals arrive over core NATS.

pub mod auth;
pub mod config;
pub mod consumer;
pub mod error;
pub mod hub;
pub mod presence;
pub mod sse;
pub mod state;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use fechatter_core::error::ErrorBody;
use fechatter_core::jwt::TokenVerifier;
use fechatter_core::stream::{StreamSettings, ensure_event_stream};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::hub::Hub;
use crate::state::{AppState, Inner};

pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    /// Completes when the server has stopped after `shutdown`.
    pub task: tokio::task::JoinHandle<()>,
}

/// Settings used when this service creates the event stream.
pub fn stream_settings(config: &Config) -> StreamSettings {
    StreamSettings {
        max_age: Duration::from_secs(config.delivery.stream_max_age_hours * 3600),
        ..StreamSettings::default()
    }
}

async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let verifier = TokenVerifier::from_pem_file(&config.auth.public_key_path)?;
    let pool = PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database.url)
        .await
        .context("failed to connect to PostgreSQL")?;
    let redis = redis::aio::ConnectionManager::new(redis::Client::open(config.redis.url.as_str())?)
        .await
        .context("failed to connect to Redis")?;
    let reconnected = Arc::new(tokio::sync::Notify::new());
    let on_event = reconnected.clone();
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .event_callback(move |event| {
            let on_event = on_event.clone();
            async move {
                match event {
                    async_nats::Event::Connected => on_event.notify_one(),
                    async_nats::Event::Disconnected => tracing::warn!("NATS connection lost"),
                    _ => {}
                }
            }
        })
        .connect(config.nats.url.as_str())
        .await
        .context("invalid NATS configuration")?;
    let head = stream_head(&nats, &config).await;
    let hub = Arc::new(Hub::new(
        head,
        config.delivery.replay_window_events,
        config.delivery.client_buffer,
    ));
    let context = async_nats::jetstream::new(nats.clone());
    Ok(AppState::new(Inner {
        config,
        pool,
        redis,
        nats,
        context,
        verifier,
        hub,
        consumer_ready: AtomicBool::new(false),
        reconnected,
    }))
}

/// Returns the event stream's last sequence, where live delivery starts. Waits for NATS, retrying,
/// because the stream is where every event comes from.
async fn stream_head(nats: &async_nats::Client, config: &Config) -> u64 {
    let context = async_nats::jetstream::new(nats.clone());
    let mut delay = Duration::from_millis(250);
    loop {
        match ensure_event_stream(&context, &config.nats, stream_settings(config)).await {
            Ok(stream) => return stream.cached_info().state.last_sequence,
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), retry_in = ?delay, "event stream not reachable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

pub fn app(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/events", get(sse::events))
        .route("/health/live", get(|| async { StatusCode::OK }))
        .route("/health/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(ErrorBody::new("not_found", "route not found")),
            )
        })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(ErrorBody::new("method_not_allowed", "method not allowed")),
            )
        })
        // The span names the path only: the query string of /events carries the ticket.
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Ready when NATS is connected with the event consumer running and Redis is reachable: without
/// them no event can be delivered.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let nats = state.nats.connection_state() == async_nats::connection::State::Connected;
    let consumer = state.consumer_ready.load(Ordering::Relaxed);
    let mut redis = state.redis.clone();
    let redis_ok = tokio::time::timeout(
        Duration::from_secs(2),
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await
    .is_ok_and(|result| result.is_ok());
    let label = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = nats && consumer && redis_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "nats": label(nats),
        "consumer": label(consumer),
        "redis": label(redis_ok),
        "head": state.hub.head(),
    });
    (status, axum::Json(body))
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

async fn render_metrics() -> impl IntoResponse {
    let text = METRICS
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
}

/// Connects to every backend, binds the configured address (port 0 picks one) and serves until
/// `shutdown` completes.
pub async fn spawn(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningServer> {
    METRICS.get_or_init(|| PrometheusBuilder::new().install_recorder().ok());
    let bind = format!("{}:{}", config.server.host, config.server.port);
    let state = build_state(config).await?;
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("failed to bind {bind}"))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let background = [
        tokio::spawn(consumer::run_live(state.clone(), stop_rx.clone())),
        tokio::spawn(consumer::run_signals(state.clone(), stop_rx.clone())),
        tokio::spawn(presence::run_sweeper(state.clone(), stop_rx.clone())),
    ];
    let router = app(state.clone());
    let hub = state.hub.clone();
    let mut http_stop = stop_rx;
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|stopped| *stopped).await;
        });
        let server = tokio::spawn(serve.into_future());
        shutdown.await;
        let _ = stop_tx.send(true);
        // Open streams never end on their own: end them so the graceful shutdown can finish.
        hub.close_all();
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        for task in background {
            task.abort();
        }
    });
    Ok(RunningServer { addr, state, task })
}
