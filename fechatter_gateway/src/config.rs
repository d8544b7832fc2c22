//! Gateway configuration. Every key has a default that works with fechatter_server on
//! 127.0.0.1:6688 and notify_server on 127.0.0.1:6687; `docs/gateway.md` documents each key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub const ENV_PREFIX: &str = "FECHATTER_GATEWAY__";

/// Name of the upstream that serves the REST API; its health decides the gateway's readiness.
pub const API_UPSTREAM: &str = "api";
/// Name of the upstream that serves `GET /events`.
pub const EVENTS_UPSTREAM: &str = "events";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    pub routes: Vec<RouteConfig>,
    pub auth: AuthConfig,
    pub redis: RedisConfig,
    pub rate_limits: RateLimitsConfig,
    pub cors: CorsConfig,
    pub static_files: StaticFilesConfig,
    pub security_headers: SecurityHeadersConfig,
    pub health: HealthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            upstreams: default_upstreams(),
            routes: default_routes(),
            auth: AuthConfig::default(),
            redis: RedisConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            cors: CorsConfig::default(),
            static_files: StaticFilesConfig::default(),
            security_headers: SecurityHeadersConfig::default(),
            health: HealthConfig::default(),
        }
    }
}

impl Config {
    /// Checks values that serde cannot: references between sections and address syntax.
    pub fn validate(&self) -> anyhow::Result<()> {
        for route in &self.routes {
            if !route.path.starts_with('/') {
                anyhow::bail!("routes: path {:?} must start with '/'", route.path);
            }
            if route.path.len() > 1 && route.path.ends_with('/') {
                anyhow::bail!(
                    "routes: path {:?} must not end with '/'; prefixes match whole segments already",
                    route.path
                );
            }
        }
        for (name, upstream) in &self.upstreams {
            if upstream.health_check.interval_ms == 0 {
                anyhow::bail!("upstreams.{name}.health_check.interval_ms must be at least 1");
            }
            if upstream.connect_timeout_ms == 0 {
                anyhow::bail!("upstreams.{name}.connect_timeout_ms must be at least 1");
            }
        }
        crate::client_ip::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(|err| anyhow::anyhow!("server.trusted_proxies: {err}"))?;
        if self.cors.allow_credentials && self.cors.allowed_origins.iter().any(|o| o == "*") {
            anyhow::bail!(
                "cors: allowed_origins \"*\" cannot be combined with allow_credentials: true; list the origins instead"
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Addresses of the edge listener, such as `127.0.0.1:8080` or `0.0.0.0:8080`; one
    /// address or a list.
    #[serde(deserialize_with = "string_or_list")]
    pub listen: Vec<String>,
    /// Address of the admin listener that serves Prometheus metrics; empty disables it.
    pub admin_listen: String,
    /// Worker threads of the proxy; 0 means one per CPU core.
    pub threads: usize,
    /// Largest accepted request body in bytes; larger bodies get 413 `payload_too_large`.
    pub max_body_bytes: u64,
    /// Peers whose `X-Forwarded-For` is believed: IP addresses or CIDR blocks.
    pub trusted_proxies: Vec<String>,
    /// Idle upstream connections kept for reuse, across all upstreams.
    pub upstream_keepalive_pool_size: usize,
    /// Seconds an idle downstream (client) keep-alive connection stays open.
    pub downstream_keepalive_secs: u64,
    pub shutdown: ShutdownConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec!["127.0.0.1:8080".into()],
            admin_listen: "127.0.0.1:9180".into(),
            threads: 0,
            max_body_bytes: 1024 * 1024,
            trusted_proxies: Vec::new(),
            upstream_keepalive_pool_size: 256,
            downstream_keepalive_secs: 60,
            shutdown: ShutdownConfig::default(),
        }
    }
}

/// Shutdown timing. On SIGTERM, `/health/ready` turns 503 and requests in progress get up to
/// `drain_timeout_secs` to finish (event streams are not waited for). Then the listeners close,
/// `grace_period_secs` pass, and what still runs gets `runtime_shutdown_timeout_secs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    pub drain_timeout_secs: u64,
    pub grace_period_secs: u64,
    pub runtime_shutdown_timeout_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain_timeout_secs: 5,
            grace_period_secs: 1,
            runtime_shutdown_timeout_secs: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancePolicy {
    RoundRobin,
    LeastConnections,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Instances as `host:port`; host names are resolved once at start-up. Empty means the
    /// service is not deployed, and its routes return 503 `upstream_unavailable`. One address
    /// or a list.
    #[serde(deserialize_with = "string_or_list")]
    pub addresses: Vec<String>,
    pub balance: BalancePolicy,
    /// Timeout of one TCP connect; a failed connect is retried on another instance.
    pub connect_timeout_ms: u64,
    /// Maximum wait for the next bytes of a response; for event streams it must exceed the
    /// heartbeat interval.
    pub read_timeout_secs: u64,
    /// Maximum wait for the upstream to accept request bytes.
    pub write_timeout_secs: u64,
    /// Seconds an idle pooled connection to this upstream is kept.
    pub idle_timeout_secs: u64,
    pub health_check: HealthCheckConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            balance: BalancePolicy::RoundRobin,
            connect_timeout_ms: 500,
            read_timeout_secs: 60,
            write_timeout_secs: 60,
            idle_timeout_secs: 60,
            health_check: HealthCheckConfig::default(),
        }
    }
}

/// Active health check: `GET {path}` on every instance; only a 200 counts as healthy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckConfig {
    pub path: String,
    pub interval_ms: u64,
    /// Connect and read timeout of one check.
    pub timeout_ms: u64,
    /// Consecutive failed checks that mark a healthy instance down.
    pub failures_to_mark_down: usize,
    /// Consecutive passed checks that mark a down instance up.
    pub successes_to_mark_up: usize,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            path: "/health/ready".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
            failures_to_mark_down: 1,
            successes_to_mark_up: 1,
        }
    }
}

fn default_upstreams() -> BTreeMap<String, UpstreamConfig> {
    let api = UpstreamConfig {
        addresses: vec!["127.0.0.1:6688".into()],
        ..UpstreamConfig::default()
    };
    let events = UpstreamConfig {
        addresses: vec!["127.0.0.1:6687".into()],
        balance: BalancePolicy::LeastConnections,
        // notify_server sends a heartbeat every 15 s by default.
        read_timeout_secs: 90,
        ..UpstreamConfig::default()
    };
    BTreeMap::from([
        (API_UPSTREAM.to_owned(), api),
        (EVENTS_UPSTREAM.to_owned(), events),
        ("analytics".to_owned(), UpstreamConfig::default()),
        ("bot".to_owned(), UpstreamConfig::default()),
    ])
}

/// Request classes with their own rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateClass {
    /// Sign-up, sign-in, refresh and logout: anonymous, counted per client IP.
    Auth,
    /// Reads (`GET`, `HEAD`).
    Read,
    /// Every other method.
    Write,
    /// Opening `GET /events` streams.
    Events,
}

impl RateClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Read => "read",
            Self::Write => "write",
            Self::Events => "events",
        }
    }
}

/// One routing rule. `path` matches itself and, unless `exact`, every path below it on a
/// segment boundary: `/api` matches `/api` and `/api/chats` but not `/apis`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub path: String,
    #[serde(default)]
    pub exact: bool,
    /// Key in `upstreams`.
    pub upstream: String,
    /// Rate-limit class of every request on this route; without it `GET` and `HEAD` are
    /// `read` and other methods `write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_class: Option<RateClass>,
}

fn default_routes() -> Vec<RouteConfig> {
    let route =
        |path: &str, exact: bool, upstream: &str, rate_class: Option<RateClass>| RouteConfig {
            path: path.into(),
            exact,
            upstream: upstream.into(),
            rate_class,
        };
    vec![
        route("/api/event", true, "analytics", Some(RateClass::Write)),
        route("/api/bot", false, "bot", None),
        route("/api", false, API_UPSTREAM, None),
        route("/events", true, EVENTS_UPSTREAM, Some(RateClass::Events)),
    ]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Ed25519 public key (SPKI PEM) that verifies access tokens.
    pub public_key_path: PathBuf,
    /// Requests to proxied routes that need no access token.
    pub public_routes: Vec<PublicRoute>,
    /// Verified tokens remembered until their expiry, so repeated requests skip the signature
    /// check; 0 verifies every request.
    pub verified_token_cache_size: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let public =
            |methods: &[&str], path: &str, prefix: bool, rate_class: RateClass| PublicRoute {
                methods: methods.iter().map(|method| (*method).to_owned()).collect(),
                path: path.into(),
                prefix,
                rate_class,
            };
        Self {
            public_key_path: ".dev/keys/public.pem".into(),
            verified_token_cache_size: 10_000,
            public_routes: vec![
                public(&["POST"], "/api/signup", false, RateClass::Auth),
                public(&["POST"], "/api/signin", false, RateClass::Auth),
                public(&["POST"], "/api/refresh", false, RateClass::Auth),
                public(&["POST"], "/api/logout", false, RateClass::Auth),
                public(
                    &["GET", "HEAD"],
                    "/api/openapi.json",
                    false,
                    RateClass::Read,
                ),
                public(&["GET", "HEAD"], "/api/docs", true, RateClass::Read),
                public(&["GET", "HEAD"], "/events", false, RateClass::Events),
            ],
        }
    }
}

/// A method and path that skip access-token verification. Its requests are rate limited per
/// client IP in `rate_class`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRoute {
    pub methods: Vec<String>,
    pub path: String,
    /// Also match every path below `path` on a segment boundary.
    #[serde(default)]
    pub prefix: bool,
    pub rate_class: RateClass,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    /// Prefix of every rate-limit key, so several deployments can share one server.
    pub key_prefix: String,
    /// Timeout of one rate-limit call; past it the request is let through.
    pub timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "fechatter:gateway:".into(),
            timeout_ms: 100,
        }
    }
}

/// Fixed-window request limits per class: per user for requests with a verified access token,
/// per client IP otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    pub enabled: bool,
    pub auth: RateLimit,
    pub read: RateLimit,
    pub write: RateLimit,
    pub events: RateLimit,
}

impl RateLimitsConfig {
    pub fn for_class(&self, class: RateClass) -> RateLimit {
        match class {
            RateClass::Auth => self.auth,
            RateClass::Read => self.read,
            RateClass::Write => self.write,
            RateClass::Events => self.events,
        }
    }
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            auth: RateLimit::new(30, 60),
            read: RateLimit::new(1200, 60),
            write: RateLimit::new(300, 60),
            events: RateLimit::new(60, 60),
        }
    }
}

/// `requests` allowed in each window of `window_secs`; `requests: 0` disables the limit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u64,
    pub window_secs: u64,
}

impl RateLimit {
    pub const fn new(requests: u64, window_secs: u64) -> Self {
        Self {
            requests,
            window_secs,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the gateway from a browser, such as `https://chat.example.com`;
    /// `"*"` allows any origin. Empty allows none, which is right when the web client is
    /// served by the gateway itself.
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    /// Request headers a cross-origin request may send, in lower case.
    pub allowed_headers: Vec<String>,
    /// Response headers a cross-origin script may read.
    pub exposed_headers: Vec<String>,
    pub allow_credentials: bool,
    /// Seconds a browser may cache a preflight response.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
        Self {
            allowed_origins: Vec::new(),
            allowed_methods: strings(&["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
            allowed_headers: strings(&[
                "authorization",
                "content-type",
                "last-event-id",
                "x-request-id",
            ]),
            exposed_headers: strings(&["retry-after", "x-request-id"]),
            allow_credentials: false,
            max_age_secs: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticFilesConfig {
    /// Directory of the built web client, relative to the working directory.
    pub dir: PathBuf,
    /// Files below this path have content hashes in their names and are cached for a year.
    pub immutable_prefix: String,
    /// Serve `index.html` for unknown paths that look like client-side routes.
    pub spa_fallback: bool,
}

impl Default for StaticFilesConfig {
    fn default() -> Self {
        Self {
            dir: "fechatter_frontend/dist".into(),
            immutable_prefix: "/assets/".into(),
            spa_fallback: true,
        }
    }
}

/// Headers added to every response. `X-Content-Type-Options: nosniff` is always added.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityHeadersConfig {
    pub referrer_policy: String,
    pub frame_options: String,
    /// Content-Security-Policy of the web client's files and of HTML pages from upstreams
    /// that set none (such as Swagger UI at `/api/docs`).
    pub static_content_security_policy: String,
    /// Content-Security-Policy of every other response that carries none of its own.
    pub api_content_security_policy: String,
}

impl Default for SecurityHeadersConfig {
    fn default() -> Self {
        Self {
            referrer_policy: "strict-origin-when-cross-origin".into(),
            frame_options: "DENY".into(),
            static_content_security_policy: "default-src 'self'; script-src 'self'; \
                style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
                connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
                frame-ancestors 'none'"
                .into(),
            api_content_security_policy: "default-src 'none'; frame-ancestors 'none'".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Upstreams that need at least one healthy instance for `/health/ready` to return 200.
    pub required_upstreams: Vec<String>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            required_upstreams: vec![API_UPSTREAM.into(), EVENTS_UPSTREAM.into()],
        }
    }
}

/// Accepts `"a"` as well as `["a", "b"]`, so a single address can be set from an
/// environment variable without list syntax.
fn string_or_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(value) if value.trim().is_empty() => Vec::new(),
        OneOrMany::One(value) => vec![value],
        OneOrMany::Many(values) => values,
    })
}

/// Loads the configuration: built-in defaults, then `file`, then `FECHATTER_GATEWAY__*`
/// environment variables, and validates it.
pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let config: Config = fechatter_core::config::load(file, ENV_PREFIX)?;
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_yaml(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("gateway.yaml");
        std::fs::write(&path, text)?;
        load(Some(&path))
    }

    #[test]
    fn defaults_route_to_local_services() {
        let config = Config::default();
        assert_eq!(config.upstreams[API_UPSTREAM].addresses, ["127.0.0.1:6688"]);
        assert_eq!(
            config.upstreams[EVENTS_UPSTREAM].addresses,
            ["127.0.0.1:6687"]
        );
        assert!(config.upstreams["bot"].addresses.is_empty());
        assert_eq!(config.server.listen, ["127.0.0.1:8080"]);
        assert_eq!(config.server.admin_listen, "127.0.0.1:9180");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn file_overrides_one_upstream_only() {
        let config = load_yaml("upstreams:\n  api:\n    addresses: 10.0.0.5:6688\n").expect("load");
        assert_eq!(config.upstreams[API_UPSTREAM].addresses, ["10.0.0.5:6688"]);
        assert_eq!(
            config.upstreams[EVENTS_UPSTREAM].addresses,
            ["127.0.0.1:6687"]
        );
        assert_eq!(config.upstreams[EVENTS_UPSTREAM].read_timeout_secs, 90);
        assert_eq!(config.routes.len(), 4);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(load_yaml("server:\n  listne: 0.0.0.0:8080\n").is_err());
    }

    #[test]
    fn invalid_trusted_proxy_is_rejected() {
        assert!(load_yaml("server:\n  trusted_proxies: [\"10.0.0.0/33\"]\n").is_err());
        assert!(load_yaml("server:\n  trusted_proxies: [\"10.0.0.0/8\", \"::1\"]\n").is_ok());
    }

    #[test]
    fn any_origin_with_credentials_is_rejected() {
        let text = "cors:\n  allowed_origins: [\"*\"]\n  allow_credentials: true\n";
        assert!(load_yaml(text).is_err());
    }

    #[test]
    fn route_paths_must_be_absolute() {
        assert!(load_yaml("routes:\n  - path: api\n    upstream: api\n").is_err());
    }
}
