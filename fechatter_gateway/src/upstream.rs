//! Upstream pools: instances of one service, their active health checks and instance
//! selection (round-robin or least connections) with failover to untried instances.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pingora::lb::health_check::{HealthObserve, HttpHealthCheck};
use pingora::lb::selection::RoundRobin;
use pingora::lb::{Backend, LoadBalancer};
use pingora::prelude::HttpPeer;
use pingora_prometheus::prometheus::IntGaugeVec;

use crate::config::{BalancePolicy, UpstreamConfig};

/// Instances of one upstream service.
pub struct Upstream {
    pub name: String,
    config: UpstreamConfig,
    /// `None` when the configuration lists no address.
    balancer: Option<LoadBalancer<RoundRobin>>,
    /// Requests in progress per instance, for least-connections selection.
    in_flight: HashMap<SocketAddr, Arc<AtomicUsize>>,
    next: AtomicUsize,
}

/// An instance chosen for one attempt. Dropping it ends the attempt's in-flight count.
pub struct Selected {
    pub address: SocketAddr,
    counter: Arc<AtomicUsize>,
}

impl Drop for Selected {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Logs health changes and keeps the `gateway_upstream_healthy` gauge.
struct HealthReporter {
    upstream: String,
    gauge: IntGaugeVec,
}

#[async_trait]
impl HealthObserve for HealthReporter {
    async fn observe(&self, target: &Backend, healthy: bool) {
        let address = target.addr.to_string();
        self.gauge
            .with_label_values(&[self.upstream.as_str(), address.as_str()])
            .set(i64::from(healthy));
        if healthy {
            tracing::info!(upstream = %self.upstream, %address, "upstream instance passed its health check; sending traffic");
        } else {
            tracing::warn!(upstream = %self.upstream, %address, "upstream instance failed its health check; no new requests go to it");
        }
    }
}

impl Upstream {
    /// Resolves the configured addresses (blocking DNS for host names) and sets up the health
    /// check. Instances count as healthy until their first check fails.
    pub fn new(name: &str, config: &UpstreamConfig, gauge: &IntGaugeVec) -> anyhow::Result<Self> {
        if config.addresses.is_empty() {
            return Ok(Self {
                name: name.to_owned(),
                config: config.clone(),
                balancer: None,
                in_flight: HashMap::new(),
                next: AtomicUsize::new(0),
            });
        }
        let mut balancer = LoadBalancer::<RoundRobin>::try_from_iter(config.addresses.iter())
            .map_err(|err| {
                anyhow::anyhow!(
                    "upstreams.{name}.addresses: failed to resolve {:?}: {err}",
                    config.addresses
                )
            })?;
        let check_timeout = Duration::from_millis(config.health_check.timeout_ms.max(1));
        let mut check = HttpHealthCheck::new("localhost", false);
        check.req.set_uri(
            config
                .health_check
                .path
                .parse()
                .map_err(|err| anyhow::anyhow!("upstreams.{name}.health_check.path: {err}"))?,
        );
        check.peer_template.options.connection_timeout = Some(check_timeout);
        check.peer_template.options.read_timeout = Some(check_timeout);
        check.consecutive_failure = config.health_check.failures_to_mark_down.max(1);
        check.consecutive_success = config.health_check.successes_to_mark_up.max(1);
        check.health_changed_callback = Some(Box::new(HealthReporter {
            upstream: name.to_owned(),
            gauge: gauge.clone(),
        }));
        balancer.set_health_check(Box::new(check));

        let mut in_flight = HashMap::new();
        for backend in balancer.backends().get_backend().iter() {
            if let Some(address) = backend.addr.as_inet() {
                in_flight.insert(*address, Arc::new(AtomicUsize::new(0)));
                gauge
                    .with_label_values(&[name, address.to_string().as_str()])
                    .set(1);
            }
        }
        Ok(Self {
            name: name.to_owned(),
            config: config.clone(),
            balancer: Some(balancer),
            in_flight,
            next: AtomicUsize::new(0),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.balancer.is_some()
    }

    pub fn health_check_interval(&self) -> Duration {
        Duration::from_millis(self.config.health_check.interval_ms.max(1))
    }

    /// Runs one health check of every instance, in parallel.
    pub async fn check_health(&self) {
        if let Some(balancer) = &self.balancer {
            balancer.backends().run_health_check(true).await;
        }
    }

    /// Instance count as (healthy, total).
    pub fn health_counts(&self) -> (usize, usize) {
        let Some(balancer) = &self.balancer else {
            return (0, 0);
        };
        let backends = balancer.backends().get_backend();
        let healthy = backends
            .iter()
            .filter(|backend| balancer.backends().ready(backend))
            .count();
        (healthy, backends.len())
    }

    /// Returns whether a healthy instance not in `tried` remains.
    pub fn has_untried(&self, tried: &[SocketAddr]) -> bool {
        self.candidates(tried).next().is_some()
    }

    /// Chooses a healthy instance that is not in `tried`.
    pub fn select(&self, tried: &[SocketAddr]) -> Option<Selected> {
        let balancer = self.balancer.as_ref()?;
        let address = match self.config.balance {
            BalancePolicy::RoundRobin => balancer
                .select_with(b"", 256, |backend, healthy| {
                    healthy
                        && backend
                            .addr
                            .as_inet()
                            .is_some_and(|address| !tried.contains(address))
                })
                .and_then(|backend| backend.addr.as_inet().copied())?,
            BalancePolicy::LeastConnections => self.least_connections(tried)?,
        };
        let counter = self.in_flight.get(&address)?.clone();
        counter.fetch_add(1, Ordering::Relaxed);
        Some(Selected { address, counter })
    }

    /// Returns the healthy untried instance with the fewest requests in progress. Ties go
    /// round-robin.
    fn least_connections(&self, tried: &[SocketAddr]) -> Option<SocketAddr> {
        let candidates: Vec<SocketAddr> = self.candidates(tried).collect();
        if candidates.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % candidates.len();
        let load = |address: &SocketAddr| {
            self.in_flight
                .get(address)
                .map_or(usize::MAX, |count| count.load(Ordering::Relaxed))
        };
        candidates
            .iter()
            .cycle()
            .skip(start)
            .take(candidates.len())
            .min_by_key(|address| load(address))
            .copied()
    }

    fn candidates<'a>(&'a self, tried: &'a [SocketAddr]) -> impl Iterator<Item = SocketAddr> + 'a {
        let backends = self
            .balancer
            .as_ref()
            .map(|balancer| (balancer, balancer.backends().get_backend()));
        backends
            .into_iter()
            .flat_map(|(balancer, set)| {
                set.iter()
                    .filter(|backend| balancer.backends().ready(backend))
                    .filter_map(|backend| backend.addr.as_inet().copied())
                    .collect::<Vec<_>>()
            })
            .filter(move |address| !tried.contains(address))
    }

    /// Connection settings for a request to `address`.
    pub fn peer(&self, address: SocketAddr) -> Box<HttpPeer> {
        let mut peer = HttpPeer::new(address, false, String::new());
        let options = &mut peer.options;
        options.connection_timeout = Some(Duration::from_millis(self.config.connect_timeout_ms));
        options.total_connection_timeout =
            Some(Duration::from_millis(self.config.connect_timeout_ms));
        options.read_timeout = Some(Duration::from_secs(self.config.read_timeout_secs));
        options.write_timeout = Some(Duration::from_secs(self.config.write_timeout_secs));
        options.idle_timeout = Some(Duration::from_secs(self.config.idle_timeout_secs));
        Box::new(peer)
    }
}

/// Every configured upstream by name.
pub struct Upstreams {
    by_name: BTreeMap<String, Arc<Upstream>>,
}

impl Upstreams {
    pub fn new(
        configs: &BTreeMap<String, UpstreamConfig>,
        gauge: &IntGaugeVec,
    ) -> anyhow::Result<Self> {
        let mut by_name = BTreeMap::new();
        for (name, config) in configs {
            by_name.insert(name.clone(), Arc::new(Upstream::new(name, config, gauge)?));
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.by_name.values()
    }
}
