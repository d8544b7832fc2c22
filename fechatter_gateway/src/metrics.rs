//! Prometheus metrics, registered in the `prometheus` crate's default registry that the admin
//! listener serves. Labels are route and upstream names from the configuration, never paths.

use pingora_prometheus::prometheus::{
    self, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

pub struct Metrics {
    /// Requests by route, method and status; status 0 means the client went away first.
    pub requests: IntCounterVec,
    /// Time from the request head to the end of the response, by route.
    pub duration: HistogramVec,
    /// Requests in progress, event streams included.
    pub in_flight: IntGauge,
    /// Open `GET /events` streams.
    pub open_streams: IntGauge,
    /// 1 when an upstream instance passes its health check, by upstream and address.
    pub upstream_healthy: IntGaugeVec,
    /// Failed connects to upstream instances, by upstream.
    pub connect_failures: IntCounterVec,
    /// Requests rejected with 401, by reason.
    pub auth_rejections: IntCounterVec,
    /// Requests rejected with 429, by rate-limit class.
    pub rate_limited: IntCounterVec,
    /// Requests let through unchecked because Redis was unavailable, by rate-limit class.
    pub rate_limit_failed_open: IntCounterVec,
}

impl Metrics {
    pub fn register() -> anyhow::Result<Self> {
        let registry = prometheus::default_registry();
        let counter = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<IntCounterVec> {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let gauge = |name: &str, help: &str| -> anyhow::Result<IntGauge> {
            let metric = IntGauge::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "gateway_request_duration_seconds",
                "Time from the request head to the end of the response",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        let upstream_healthy = IntGaugeVec::new(
            Opts::new(
                "gateway_upstream_healthy",
                "1 when an upstream instance passes its health check",
            ),
            &["upstream", "address"],
        )?;
        registry.register(Box::new(upstream_healthy.clone()))?;
        Ok(Self {
            requests: counter(
                "gateway_requests_total",
                "Requests by route, method and status",
                &["route", "method", "status"],
            )?,
            duration,
            in_flight: gauge("gateway_requests_in_flight", "Requests in progress")?,
            open_streams: gauge("gateway_open_event_streams", "Open GET /events streams")?,
            upstream_healthy,
            connect_failures: counter(
                "gateway_upstream_connect_failures_total",
                "Failed connects to upstream instances",
                &["upstream"],
            )?,
            auth_rejections: counter(
                "gateway_auth_rejections_total",
                "Requests rejected with 401",
                &["reason"],
            )?,
            rate_limited: counter(
                "gateway_rate_limited_total",
                "Requests rejected with 429",
                &["class"],
            )?,
            rate_limit_failed_open: counter(
                "gateway_rate_limit_failed_open_total",
                "Requests let through unchecked because Redis was unavailable",
                &["class"],
            )?,
        })
    }
}
