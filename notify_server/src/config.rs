//! notify_server configuration; every key has a default that works against local services.

use std::path::PathBuf;

use fechatter_core::config::{NatsConfig, RedisConfig};
use serde::{Deserialize, Serialize};

pub const ENV_PREFIX: &str = "FECHATTER_NOTIFY__";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub nats: NatsConfig,
    pub auth: AuthConfig,
    pub delivery: DeliveryConfig,
    pub presence: PresenceConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 6687,
        }
    }
}

/// Read-only PostgreSQL access: session versions and chat peers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/fechatter".into(),
            max_connections: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Ed25519 public key (SPKI PEM) that verifies access tokens.
    pub public_key_path: PathBuf,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            public_key_path: ".dev/keys/public.pem".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Recent events kept in memory to serve reconnects without reading JetStream.
    pub replay_window_events: usize,
    /// Frames buffered per connection; a client that falls further behind is disconnected and
    /// resumes with `Last-Event-ID`.
    pub client_buffer: usize,
    /// Seconds between heartbeat comments on idle streams.
    pub heartbeat_secs: u64,
    /// Open streams one user may hold on this instance (tabs and devices); more get 429.
    pub max_streams_per_user: usize,
    /// Retention of the event stream in hours, used only when this service creates the stream.
    pub stream_max_age_hours: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            replay_window_events: 10_000,
            client_buffer: 512,
            heartbeat_secs: 15,
            max_streams_per_user: 20,
            stream_max_age_hours: 72,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// Seconds a connection counts as online without a refresh; a crashed instance's users turn
    /// offline after at most this long plus one sweep.
    pub ttl_secs: u64,
    /// Seconds between refreshes of each open connection.
    pub refresh_secs: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 45,
            refresh_secs: 15,
        }
    }
}
