//! fechatter_server configuration. Every key has a default that works against PostgreSQL, Redis
//! and NATS on their standard local ports; see `docs/configuration.md` for the full reference.

use std::path::PathBuf;

use fechatter_core::config::{NatsConfig, RedisConfig};
use serde::{Deserialize, Serialize};

pub const ENV_PREFIX: &str = "FECHATTER_SERVER__";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub nats: NatsConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub relay: RelayConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 6688,
            max_body_bytes: 64 * 1024,
        }
    }
}

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
            max_connections: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Ed25519 private key (PKCS#8 PEM) that signs access tokens.
    pub private_key_path: PathBuf,
    /// Ed25519 public key (SPKI PEM) that verifies them.
    pub public_key_path: PathBuf,
    /// Generate a key pair at the paths above when both files are missing.
    pub generate_dev_keys: bool,
    /// Access token lifetime in seconds.
    pub access_token_ttl_secs: i64,
    /// Refresh token lifetime in seconds.
    pub refresh_token_ttl_secs: i64,
    /// Seconds during which a rotated refresh token returns the same new pair instead of revoking
    /// its family (two tabs refreshing at once).
    pub refresh_grace_secs: u64,
    /// Lets anyone create a workspace at signup; when off only invite codes admit new users.
    pub open_signup: bool,
    /// Invite code lifetime in seconds.
    pub invite_ttl_secs: i64,
    /// SSE ticket lifetime in seconds.
    pub ticket_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            private_key_path: ".dev/keys/private.pem".into(),
            public_key_path: ".dev/keys/public.pem".into(),
            generate_dev_keys: true,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_grace_secs: 30,
            open_signup: true,
            invite_ttl_secs: 7 * 24 * 3600,
            ticket_ttl_secs: 30,
        }
    }
}

/// Per-account rate limits enforced by the API server, counted in Redis fixed windows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sign-in attempts allowed per email in each window.
    pub signin_attempts: u64,
    pub signin_window_secs: u64,
    /// Messages one user may send to one chat in each window.
    pub messages_per_chat: u64,
    pub messages_window_secs: u64,
    /// Typing signals one user may send to one chat in each window; clients repeat the call
    /// about every 3 seconds while someone types.
    pub typing_per_chat: u64,
    pub typing_window_secs: u64,
    /// Seconds a chat membership stays cached in Redis.
    pub membership_cache_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            signin_attempts: 10,
            signin_window_secs: 60,
            messages_per_chat: 30,
            messages_window_secs: 10,
            typing_per_chat: 10,
            typing_window_secs: 10,
            membership_cache_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Run the outbox relay in this process. Several replicas may all run it: one at a time holds
    /// the PostgreSQL advisory lock and publishes.
    pub enabled: bool,
    /// Identifies this deployment inside `Nats-Msg-Id`, so deployments sharing one NATS server
    /// are never deduplicated against each other. Empty means the database name.
    pub instance_id: String,
    /// Fallback polling interval in milliseconds; commits normally wake the relay at once.
    pub poll_interval_ms: u64,
    /// Published outbox rows are deleted after this many hours.
    pub retain_published_hours: i64,
    /// Retention of the JetStream stream in hours; older positions get a `resync` on resume.
    pub stream_max_age_hours: u64,
    /// JetStream duplicate window in seconds.
    pub dedup_window_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            instance_id: String::new(),
            poll_interval_ms: 1000,
            retain_published_hours: 72,
            stream_max_age_hours: 72,
            dedup_window_secs: 120,
        }
    }
}
