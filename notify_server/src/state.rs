//! Shared state of notify_server.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use fechatter_core::jwt::TokenVerifier;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::config::Config;
use crate::hub::Hub;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub nats: async_nats::Client,
    pub context: async_nats::jetstream::Context,
    pub verifier: TokenVerifier,
    pub hub: Arc<Hub>,
    /// Whether the live event consumer is running; readiness depends on it.
    pub consumer_ready: AtomicBool,
    /// Woken when the NATS connection is re-established, so the consumer restarts at once.
    pub reconnected: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.config.redis.key_prefix)
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
