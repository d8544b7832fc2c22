//! fechatter_server: the REST API of Fechatter.
//!
//! Layout: `routes/` has one module per resource with its handlers, and `store/` the SQL that
//! several of them share. `auth/` hashes passwords and issues tokens. `extract.rs` turns requests
//! into checked input, `validate.rs` defines the checked types, and `error.rs` is the one error
//! type.
//! Every change other services care about is written to the outbox table in the same
//! transaction.

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod mentions;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod ratelimit;
pub mod relay;
pub mod routes;
pub mod state;
pub mod store;
pub mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use fechatter_core::jwt::{TokenSigner, TokenVerifier};
use fechatter_core::keys::{KeyPaths, ensure_dev_keys};
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::AppError;
use crate::state::{AppState, Inner};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects to every backend, runs migrations and returns the shared state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let keys = KeyPaths {
        private_key: config.auth.private_key_path.clone(),
        public_key: config.auth.public_key_path.clone(),
    };
    if config.auth.generate_dev_keys && ensure_dev_keys(&keys)? {
        tracing::warn!(path = %keys.private_key.display(), "generated a development key pair");
    }
    let signer = TokenSigner::from_pem_file(&keys.private_key, config.auth.access_token_ttl_secs)?;
    let verifier = TokenVerifier::from_pem_file(&keys.public_key)?;

    let pool = PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database.url)
        .await
        .context("failed to connect to PostgreSQL")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("failed to run migrations")?;

    let redis_client = redis::Client::open(config.redis.url.as_str())?;
    let redis = redis::aio::ConnectionManager::new(redis_client)
        .await
        .context("failed to connect to Redis")?;
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(config.nats.url.as_str())
        .await
        .context("invalid NATS configuration")?;

    Ok(AppState::new(Inner {
        config,
        pool,
        redis,
        nats,
        signer,
        verifier,
    }))
}

/// Builds the HTTP application with its middleware.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let max_body = state.config.server.max_body_bytes;
    routes::router()
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(AppError::Internal(anyhow::anyhow!(
                "handler panicked"
            )))
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
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

/// A running server, as started by [`spawn`].
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    /// Completes when the server has stopped after `shutdown`.
    pub task: tokio::task::JoinHandle<()>,
}

/// Builds the state, binds the configured address (port 0 picks a free port) and serves in a
/// background task until `shutdown` completes.
pub async fn spawn(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningServer> {
    metrics::install();
    let bind = format!("{}:{}", config.server.host, config.server.port);
    let state = build_state(config).await?;
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("failed to bind {bind}"))?;
    let addr = listener.local_addr()?;
    let router = app(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let relay = state
        .config
        .relay
        .enabled
        .then(|| tokio::spawn(relay::run(state.clone(), stop_rx.clone())));
    let mut http_stop = stop_rx;
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|stopped| *stopped).await;
        });
        let server = tokio::spawn(serve.into_future());
        shutdown.await;
        let _ = stop_tx.send(true);
        match server.await {
            Ok(Err(err)) => tracing::error!(error = %err, "HTTP server failed"),
            Err(err) => tracing::error!(error = %err, "HTTP server task failed"),
            Ok(Ok(())) => {}
        }
        if let Some(relay) = relay {
            let _ = relay.await;
        }
    });
    Ok(RunningServer { addr, state, task })
}
