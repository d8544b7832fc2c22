//! Shared state of notify_server.

use std::ops::Deref;
use std::sync::Arc;

use async_nats::jetstream::stream::Stream;
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
    pub stream: Stream,
    pub verifier: TokenVerifier,
    pub hub: Arc<Hub>,
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
