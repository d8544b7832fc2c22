//! Shared state handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use fechatter_core::jwt::{TokenSigner, TokenVerifier};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub nats: async_nats::Client,
    pub signer: TokenSigner,
    pub verifier: TokenVerifier,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// Redis key under the configured prefix.
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
