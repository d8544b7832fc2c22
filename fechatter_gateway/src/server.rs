//! Assembles the Pingora server: the edge listener, the admin (metrics) listener and the
//! background service that runs health checks and connects to Redis.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use fechatter_core::jwt::TokenVerifier;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownWatch};
use pingora::services::background::{BackgroundService, background_service};

use crate::auth::Authenticator;
use crate::client_ip::TrustedProxies;
use crate::config::Config;
use crate::cors::Cors;
use crate::lifecycle::{DrainingShutdown, Lifecycle};
use crate::metrics::Metrics;
use crate::proxy::Gateway;
use crate::ratelimit::RateLimiter;
use crate::respond::SecurityHeaders;
use crate::routes::Router;
use crate::static_files::StaticFiles;
use crate::upstream::Upstreams;

/// A configured server, ready to run.
pub struct Prepared {
    pub server: Server,
    pub run_args: RunArgs,
}

/// Runs upstream health checks on their intervals and connects the rate limiter to Redis.
struct Maintenance {
    upstreams: Arc<Upstreams>,
    limiter: Arc<RateLimiter>,
}

#[async_trait]
impl BackgroundService for Maintenance {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tasks = tokio::task::JoinSet::new();
        let limiter = Arc::clone(&self.limiter);
        tasks.spawn(async move { limiter.connect().await });
        for upstream in self.upstreams.iter() {
            if !upstream.is_configured() {
                continue;
            }
            let upstream = Arc::clone(upstream);
            tasks.spawn(async move {
                let mut ticker = tokio::time::interval(upstream.health_check_interval());
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    upstream.check_health().await;
                }
            });
        }
        loop {
            if *shutdown.borrow() {
                break;
            }
            if shutdown.changed().await.is_err() {
                // No sender is left, so shutdown can never be signalled: keep checking.
                std::future::pending::<()>().await;
            }
        }
        tasks.abort_all();
    }
}

fn threads(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Checks that every listen address is free, so a port conflict fails with a clear message
/// before Pingora starts its services.
fn check_listen_address(address: &str, key: &str) -> anyhow::Result<()> {
    std::net::TcpListener::bind(address)
        .map(drop)
        .with_context(|| format!("{key}: cannot listen on {address}"))
}

/// Builds every part of the gateway from `config`; fails on unreadable keys, unresolvable
/// upstreams, invalid header values or occupied ports.
pub fn prepare(config: Config) -> anyhow::Result<Prepared> {
    let metrics = Arc::new(Metrics::register()?);
    let verifier = TokenVerifier::from_pem_file(&config.auth.public_key_path).with_context(|| {
        format!(
            "auth.public_key_path: cannot load the token public key {} (fechatter_server writes a development key there at its first start)",
            config.auth.public_key_path.display()
        )
    })?;
    let upstreams = Arc::new(Upstreams::new(
        &config.upstreams,
        &metrics.upstream_healthy,
    )?);
    for route in &config.routes {
        match upstreams.get(&route.upstream) {
            None => {
                tracing::warn!(route = %route.path, upstream = %route.upstream, "route names an upstream missing from the configuration; it returns 503")
            }
            Some(upstream) if !upstream.is_configured() => {
                tracing::info!(route = %route.path, upstream = %route.upstream, "upstream has no addresses; its route returns 503 upstream_unavailable")
            }
            Some(_) => {}
        }
    }
    for name in &config.health.required_upstreams {
        if upstreams
            .get(name)
            .is_none_or(|upstream| !upstream.is_configured())
        {
            anyhow::bail!(
                "health.required_upstreams: {name:?} has no addresses under upstreams.{name}"
            );
        }
    }
    let limiter = Arc::new(RateLimiter::new(
        config.rate_limits.clone(),
        config.redis.clone(),
    )?);
    let static_files = StaticFiles::new(&config.static_files);
    if !static_files.index_exists() {
        tracing::warn!(
            dir = %static_files.dir().display(),
            "the web client is not built: index.html is missing, so its pages return 404 until it is"
        );
    }
    for address in &config.server.listen {
        check_listen_address(address, "server.listen")?;
    }
    if !config.server.admin_listen.is_empty() {
        check_listen_address(&config.server.admin_listen, "server.admin_listen")?;
    }

    let lifecycle = Arc::new(Lifecycle::default());
    let gateway = Gateway {
        router: Router::new(&config),
        authenticator: Authenticator::new(verifier, config.auth.verified_token_cache_size),
        upstreams: Arc::clone(&upstreams),
        limiter: Arc::clone(&limiter),
        cors: Cors::new(&config.cors)?,
        cors_enabled: !config.cors.allowed_origins.is_empty(),
        static_files,
        trusted_proxies: TrustedProxies::parse(&config.server.trusted_proxies)?,
        security_headers: SecurityHeaders::new(&config.security_headers)?,
        metrics,
        lifecycle: Arc::clone(&lifecycle),
        max_body_bytes: config.server.max_body_bytes,
        downstream_keepalive_secs: config.server.downstream_keepalive_secs,
        required_upstreams: config.health.required_upstreams.clone(),
    };

    let shutdown = &config.server.shutdown;
    let server_conf = ServerConf {
        threads: threads(config.server.threads),
        upstream_keepalive_pool_size: config.server.upstream_keepalive_pool_size,
        grace_period_seconds: Some(shutdown.grace_period_secs),
        graceful_shutdown_timeout_seconds: Some(shutdown.runtime_shutdown_timeout_secs),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, server_conf);
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        gateway,
        "fechatter_gateway edge",
    );
    for address in &config.server.listen {
        proxy.add_tcp(address);
    }
    server.add_service(proxy);

    if !config.server.admin_listen.is_empty() {
        let mut admin = pingora_prometheus::prometheus_http_service();
        admin.threads = Some(1);
        admin.add_tcp(&config.server.admin_listen);
        server.add_service(admin);
    }
    server.add_service(background_service(
        "upstream health checks and Redis",
        Maintenance { upstreams, limiter },
    ));

    Ok(Prepared {
        server,
        run_args: RunArgs {
            shutdown_signal: Box::new(DrainingShutdown {
                lifecycle,
                drain_timeout: Duration::from_secs(shutdown.drain_timeout_secs),
            }),
        },
    })
}
