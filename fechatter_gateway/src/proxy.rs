//! The edge: Pingora's `ProxyHttp` phases for every request.
//!
//! `request_filter` decides everything that can be decided before an upstream is involved:
//! request id, client IP, routing, CORS preflight, health, static files, access-token
//! verification, rate limits and the body-size limit. Requests that pass go to
//! `upstream_peer`, which picks an instance; a failed connect is retried on another instance.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use fechatter_core::jwt::AccessIdentity;
use http::{HeaderValue, Method};
use http_body_util::BodyExt;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::Peer;

use crate::auth::{Authenticator, USER_ID_HEADER, WORKSPACE_ID_HEADER};
use crate::client_ip::{TrustedProxies, rate_limit_subject};
use crate::cors::Cors;
use crate::lifecycle::{ActiveRequest, Lifecycle};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimiter, Verdict};
use crate::respond::{self, ContentKind, JsonError, SecurityHeaders};
use crate::routes::{Decision, Router, Target};
use crate::static_files::{StaticFiles, StaticReply};
use crate::upstream::{Selected, Upstream, Upstreams};

const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_REQUEST_ID_LEN: usize = 128;

/// State shared by every request.
pub struct Gateway {
    pub router: Router,
    pub authenticator: Authenticator,
    pub upstreams: Arc<Upstreams>,
    pub limiter: Arc<RateLimiter>,
    pub cors: Cors,
    pub cors_enabled: bool,
    pub static_files: StaticFiles,
    pub trusted_proxies: TrustedProxies,
    pub security_headers: SecurityHeaders,
    pub metrics: Arc<Metrics>,
    pub lifecycle: Arc<Lifecycle>,
    pub max_body_bytes: u64,
    /// Seconds an idle client keep-alive connection stays open; 0 keeps it open indefinitely.
    pub downstream_keepalive_secs: u64,
    pub required_upstreams: Vec<String>,
}

/// Cause of a failure after `request_filter` passed the request on, for `fail_to_proxy`.
#[derive(Debug, Clone)]
enum Failure {
    UpstreamUnavailable(String),
    PayloadTooLarge,
}

/// Per-request state.
pub struct RequestCtx {
    started: Instant,
    request_id: String,
    client_ip: Option<IpAddr>,
    /// `X-Forwarded-For` sent upstream.
    forwarded_for: Option<String>,
    decision: Option<Decision>,
    /// Metrics label: a route path, `static`, `health`, `preflight` or `reserved`.
    route_label: String,
    identity: Option<AccessIdentity>,
    cors_origin: Option<HeaderValue>,
    has_origin: bool,
    upstream: Option<Arc<Upstream>>,
    tried: Vec<SocketAddr>,
    selected: Option<Selected>,
    body_bytes: u64,
    failure: Option<Failure>,
    /// Status of a response the gateway wrote itself.
    own_status: Option<u16>,
    content_kind: ContentKind,
    /// Whether the upstream responded with `text/event-stream`.
    is_event_stream: bool,
    _active: Option<ActiveRequest>,
}

impl Gateway {
    fn new_request_ctx(&self) -> RequestCtx {
        self.metrics.in_flight.inc();
        RequestCtx {
            started: Instant::now(),
            request_id: String::new(),
            client_ip: None,
            forwarded_for: None,
            decision: None,
            route_label: "none".into(),
            identity: None,
            cors_origin: None,
            has_origin: false,
            upstream: None,
            tried: Vec::new(),
            selected: None,
            body_bytes: 0,
            failure: None,
            own_status: None,
            content_kind: ContentKind::Api,
            is_event_stream: false,
            _active: None,
        }
    }

    /// Adds the request id, security and CORS headers to any response.
    fn decorate(&self, header: &mut ResponseHeader, ctx: &RequestCtx) -> Result<()> {
        if !ctx.request_id.is_empty() {
            header.insert_header(REQUEST_ID_HEADER, ctx.request_id.as_str())?;
        }
        self.security_headers.apply(header, ctx.content_kind)?;
        if let Some(origin) = &ctx.cors_origin {
            for (name, value) in self.cors.response_headers(origin.clone()) {
                header.insert_header(name, value)?;
            }
        }
        if self.cors_enabled && ctx.has_origin {
            header.append_header(http::header::VARY, "Origin")?;
        }
        Ok(())
    }

    async fn send_error(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        error: JsonError,
    ) -> Result<()> {
        let body = error.body();
        let mut header = respond::json_header(error.status, body.len())?;
        for (name, value) in &error.headers {
            header.insert_header(*name, value.as_str())?;
        }
        ctx.content_kind = ContentKind::Api;
        self.decorate(&mut header, ctx)?;
        // The request body is not read, so the connection cannot carry another request.
        if request_has_body(session.req_header()) {
            session.set_keepalive(None);
        }
        ctx.own_status = Some(error.status);
        respond::write(session, header, body).await
    }

    async fn send_json(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        status: u16,
        value: serde_json::Value,
    ) -> Result<()> {
        let body = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        let mut header = respond::json_header(status, body.len())?;
        self.decorate(&mut header, ctx)?;
        ctx.own_status = Some(status);
        respond::write(session, header, body).await
    }

    async fn send_preflight(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<()> {
        let mut header = ResponseHeader::build(204, Some(8))?;
        for (name, value) in self.cors.preflight_headers(&session.req_header().headers) {
            header.insert_header(name, value)?;
        }
        // Preflight headers were set above; `decorate` must not add the response set again.
        ctx.cors_origin = None;
        self.decorate(&mut header, ctx)?;
        header.append_header(http::header::VARY, "Access-Control-Request-Method")?;
        header.append_header(http::header::VARY, "Access-Control-Request-Headers")?;
        ctx.own_status = Some(204);
        session.write_response_header(Box::new(header), true).await
    }

    fn readiness(&self) -> (u16, serde_json::Value) {
        let mut upstreams = serde_json::Map::new();
        let mut ready = !self.lifecycle.is_draining();
        for upstream in self.upstreams.iter() {
            let (healthy, total) = upstream.health_counts();
            let required = self.required_upstreams.contains(&upstream.name);
            if required && healthy == 0 {
                ready = false;
            }
            upstreams.insert(
                upstream.name.clone(),
                serde_json::json!({"healthy": healthy, "total": total, "required": required}),
            );
        }
        let status = if self.lifecycle.is_draining() {
            "draining"
        } else if ready {
            "ok"
        } else {
            "unavailable"
        };
        let body = serde_json::json!({
            "status": status,
            "upstreams": upstreams,
            "rate_limiter": self.limiter.status(),
        });
        (if ready { 200 } else { 503 }, body)
    }

    async fn serve_static(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<()> {
        let reply = self.static_files.serve(session.req_header()).await;
        let (response, cache_control) = match reply {
            StaticReply::File {
                response,
                cache_control,
            } => (response, cache_control),
            StaticReply::NotFound(message) => {
                let error = JsonError::new(404, "not_found", message);
                return self.send_error(session, ctx, error).await;
            }
            StaticReply::MethodNotAllowed => {
                let error = JsonError::new(
                    405,
                    "method_not_allowed",
                    "the web client's files accept only GET and HEAD",
                )
                .with_header("allow", "GET, HEAD".into());
                return self.send_error(session, ctx, error).await;
            }
        };
        let (parts, mut body) = response.into_parts();
        let mut header = ResponseHeader::build(parts.status, Some(parts.headers.len() + 8))?;
        for (name, value) in &parts.headers {
            header.append_header(name.clone(), value.clone())?;
        }
        header.insert_header(http::header::CACHE_CONTROL, cache_control)?;
        ctx.content_kind = ContentKind::Page;
        self.decorate(&mut header, ctx)?;
        ctx.own_status = Some(parts.status.as_u16());

        let head_only = session.req_header().method == Method::HEAD;
        session
            .write_response_header(Box::new(header), head_only)
            .await?;
        if head_only {
            return Ok(());
        }
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| {
                Error::because(FileReadError, "failed to read a static file", err)
            })?;
            if let Ok(data) = frame.into_data() {
                session.write_response_body(Some(data), false).await?;
            }
        }
        session.write_response_body(None, true).await
    }

    /// Verifies the access token and applies the rate limit; returns `false` after writing a
    /// rejection.
    async fn admit(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let Some(decision) = ctx.decision.clone() else {
            return Ok(true);
        };
        if decision.protected {
            match self
                .authenticator
                .authenticate(&session.req_header().headers)
            {
                Ok(identity) => ctx.identity = Some(identity),
                Err(rejection) => {
                    self.metrics
                        .auth_rejections
                        .with_label_values(&[rejection.label()])
                        .inc();
                    let error = JsonError::new(401, "unauthorized", rejection.message())
                        .with_header("www-authenticate", "Bearer".into());
                    self.send_error(session, ctx, error).await?;
                    return Ok(false);
                }
            }
        }
        let Some(class) = decision.rate_class else {
            return Ok(true);
        };
        let subject = match (&ctx.identity, ctx.client_ip) {
            (Some(identity), _) => format!("user:{}", identity.user_id),
            (None, Some(address)) => format!("ip:{}", rate_limit_subject(address)),
            (None, None) => "ip:unknown".to_owned(),
        };
        match self.limiter.check(class, &subject).await {
            Verdict::Allowed => Ok(true),
            Verdict::FailedOpen => {
                self.metrics
                    .rate_limit_failed_open
                    .with_label_values(&[class.as_str()])
                    .inc();
                Ok(true)
            }
            Verdict::Limited {
                retry_after_secs,
                limit,
                window_secs,
            } => {
                self.metrics
                    .rate_limited
                    .with_label_values(&[class.as_str()])
                    .inc();
                let error = JsonError::new(
                    429,
                    "rate_limited",
                    format!(
                        "too many {} requests; retry in {retry_after_secs} s",
                        class.as_str()
                    ),
                )
                .with_details(serde_json::json!({
                    "class": class.as_str(),
                    "limit": limit,
                    "window_secs": window_secs,
                    "retry_after_secs": retry_after_secs,
                }))
                .with_header("retry-after", retry_after_secs.to_string());
                self.send_error(session, ctx, error).await?;
                Ok(false)
            }
        }
    }

    /// Returns the error response for a request that failed after `request_filter`, or `None`
    /// when the client is gone.
    fn classify_failure(&self, error: &Error, ctx: &RequestCtx) -> Option<JsonError> {
        if let Some(failure) = &ctx.failure {
            return Some(match failure {
                Failure::PayloadTooLarge => payload_too_large(self.max_body_bytes),
                Failure::UpstreamUnavailable(message) => {
                    JsonError::new(503, "upstream_unavailable", message.clone())
                }
            });
        }
        if let HTTPStatus(status) = error.etype() {
            let (code, message) = match status {
                400 => ("invalid_request", "malformed HTTP request"),
                408 => ("timeout", "the request was not received in time"),
                413 => ("payload_too_large", "request body over the limit"),
                _ => ("internal", "the gateway failed the request"),
            };
            return Some(JsonError::new(*status, code, message));
        }
        let upstream = ctx
            .upstream
            .as_ref()
            .map_or("the upstream", |upstream| upstream.name.as_str());
        match error.esource() {
            ErrorSource::Upstream => Some(match error.etype() {
                ConnectTimedout | ConnectRefused | ConnectNoRoute | ConnectError
                | ConnectProxyFailure | SocketError | BindError => JsonError::new(
                    503,
                    "upstream_unavailable",
                    format!("no instance of {upstream} accepted the connection"),
                ),
                ReadTimedout | WriteTimedout => JsonError::new(
                    504,
                    "upstream_timeout",
                    format!("{upstream} did not answer in time"),
                ),
                _ => JsonError::new(
                    502,
                    "bad_gateway",
                    format!("{upstream} sent an invalid response or closed the connection"),
                ),
            }),
            ErrorSource::Downstream => match error.etype() {
                ReadError | WriteError | ConnectionClosed | ReadTimedout | WriteTimedout => None,
                _ => Some(JsonError::new(
                    400,
                    "invalid_request",
                    "malformed HTTP request",
                )),
            },
            ErrorSource::Internal | ErrorSource::Unset => Some(JsonError::new(
                500,
                "internal",
                "the gateway failed the request",
            )),
        }
    }

    fn log_request(&self, session: &Session, ctx: &RequestCtx, error: Option<&Error>) {
        let status = session
            .response_written()
            .map(|header| header.status.as_u16())
            .or(ctx.own_status)
            .unwrap_or(0);
        let method = session.req_header().method.as_str();
        let latency = ctx.started.elapsed();
        self.metrics
            .requests
            .with_label_values(&[ctx.route_label.as_str(), method, &status.to_string()])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[ctx.route_label.as_str()])
            .observe(latency.as_secs_f64());
        let upstream = ctx.upstream.as_ref().map(|upstream| upstream.name.as_str());
        let instance = ctx.selected.as_ref().map(|selected| selected.address);
        tracing::info!(
            target: "fechatter_gateway::access",
            method,
            path = session.req_header().uri.path(),
            status,
            route = ctx.route_label.as_str(),
            upstream,
            instance = instance.map(|address| address.to_string()),
            attempts = ctx.tried.len(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            request_id = ctx.request_id.as_str(),
            client_ip = ctx.client_ip.map(|address| address.to_string()),
            user_id = ctx.identity.map(|identity| identity.user_id.0),
            bytes_sent = session.as_downstream().body_bytes_sent(),
            error = error.map(|err| err.etype().as_str()),
            "request"
        );
    }
}

fn payload_too_large(limit: u64) -> JsonError {
    JsonError::new(
        413,
        "payload_too_large",
        format!("request body is larger than {limit} bytes"),
    )
    .with_details(serde_json::json!({"max_bytes": limit}))
}

fn request_has_body(request: &RequestHeader) -> bool {
    let has_length = request
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .is_some_and(|length| length > 0);
    has_length
        || request
            .headers
            .contains_key(http::header::TRANSFER_ENCODING)
}

fn content_length(request: &RequestHeader) -> Option<u64> {
    request
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
}

/// Returns the client's `X-Request-Id` if it is short printable ASCII, else a new UUID.
fn request_id(request: &RequestHeader) -> String {
    request
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty()
                && value.len() <= MAX_REQUEST_ID_LEN
                && value.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        self.new_request_ctx()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        ctx.request_id = request_id(session.req_header());
        if self.downstream_keepalive_secs > 0 && session.get_keepalive().is_some() {
            session.set_keepalive(Some(self.downstream_keepalive_secs));
        }
        let peer = session
            .client_addr()
            .and_then(|address| address.as_inet())
            .map(|address| address.ip());
        if let Some(peer) = peer {
            let forwarded: Vec<&str> = session
                .req_header()
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect();
            ctx.client_ip = Some(
                self.trusted_proxies
                    .client_ip(peer, forwarded.iter().copied()),
            );
            ctx.forwarded_for = Some(
                if self.trusted_proxies.contains(peer) && !forwarded.is_empty() {
                    format!("{}, {peer}", forwarded.join(", "))
                } else {
                    peer.to_canonical().to_string()
                },
            );
        }
        // Only the gateway may state who the caller is.
        let request = session.req_header_mut();
        request.remove_header(USER_ID_HEADER);
        request.remove_header(WORKSPACE_ID_HEADER);

        let decision = self.router.route(
            &session.req_header().method,
            session.req_header().uri.path(),
        );
        ctx.has_origin = session
            .req_header()
            .headers
            .contains_key(http::header::ORIGIN);
        ctx.cors_origin = self.cors.allowed_origin(&session.req_header().headers);

        if Cors::is_preflight(&session.req_header().method, &session.req_header().headers) {
            ctx.route_label = "preflight".into();
            self.send_preflight(session, ctx).await?;
            return Ok(true);
        }

        match &decision.target {
            Target::Live => {
                ctx.route_label = "health".into();
                self.send_json(session, ctx, 200, serde_json::json!({"status": "ok"}))
                    .await?;
                return Ok(true);
            }
            Target::Ready => {
                ctx.route_label = "health".into();
                let (status, body) = self.readiness();
                self.send_json(session, ctx, status, body).await?;
                return Ok(true);
            }
            Target::Reserved => {
                ctx.route_label = "reserved".into();
                let path = session.req_header().uri.path().to_owned();
                let error = JsonError::new(404, "not_found", format!("no route for {path}"));
                self.send_error(session, ctx, error).await?;
                return Ok(true);
            }
            Target::Static => {
                ctx.route_label = "static".into();
                ctx._active = Some(self.lifecycle.begin_request());
                self.serve_static(session, ctx).await?;
                return Ok(true);
            }
            Target::Upstream {
                route, upstream, ..
            } => {
                ctx.route_label = route.clone();
                ctx.upstream = self.upstreams.get(upstream).cloned();
            }
        }
        ctx.decision = Some(decision);
        ctx._active = Some(self.lifecycle.begin_request());

        if !self.admit(session, ctx).await? {
            return Ok(true);
        }
        if content_length(session.req_header()).is_some_and(|length| length > self.max_body_bytes) {
            let error = payload_too_large(self.max_body_bytes);
            self.send_error(session, ctx, error).await?;
            return Ok(true);
        }
        let configured = ctx
            .upstream
            .as_ref()
            .is_some_and(|upstream| upstream.is_configured());
        if !configured {
            let name = match &ctx.decision {
                Some(Decision {
                    target: Target::Upstream { upstream, .. },
                    ..
                }) => upstream.clone(),
                _ => String::new(),
            };
            let error = JsonError::new(
                503,
                "upstream_unavailable",
                format!("the {name} service is not configured in this deployment"),
            );
            self.send_error(session, ctx, error).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(chunk) = body {
            ctx.body_bytes += chunk.len() as u64;
            if ctx.body_bytes > self.max_body_bytes {
                ctx.failure = Some(Failure::PayloadTooLarge);
                return Error::e_explain(HTTPStatus(413), "request body over the limit");
            }
        }
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let Some(upstream) = ctx.upstream.clone() else {
            ctx.failure = Some(Failure::UpstreamUnavailable(
                "no upstream for this route".into(),
            ));
            return Error::e_explain(HTTPStatus(503), "no upstream for this route");
        };
        let Some(selected) = upstream.select(&ctx.tried) else {
            let message = if ctx.tried.is_empty() {
                format!("no healthy instance of {}", upstream.name)
            } else {
                format!(
                    "no instance of {} accepted the connection ({} tried)",
                    upstream.name,
                    ctx.tried.len()
                )
            };
            ctx.failure = Some(Failure::UpstreamUnavailable(message));
            return Error::e_explain(HTTPStatus(503), "no healthy upstream instance");
        };
        ctx.tried.push(selected.address);
        let peer = upstream.peer(selected.address);
        ctx.selected = Some(selected);
        Ok(peer)
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut Self::CTX,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let Some(upstream) = ctx.upstream.clone() else {
            return e;
        };
        self.metrics
            .connect_failures
            .with_label_values(&[upstream.name.as_str()])
            .inc();
        let retry = upstream.has_untried(&ctx.tried);
        tracing::warn!(
            upstream = %upstream.name,
            instance = %peer.address(),
            error = %e,
            retry,
            request_id = %ctx.request_id,
            "failed to connect to upstream instance"
        );
        if !retry {
            ctx.failure = Some(Failure::UpstreamUnavailable(format!(
                "no instance of {} accepted the connection ({} tried)",
                upstream.name,
                ctx.tried.len()
            )));
        }
        e.set_retry(retry);
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut Self::CTX,
        client_reused: bool,
    ) -> Box<Error> {
        // Pingora's default policy: retry only idempotent requests with a complete retry
        // buffer, and only when a reused connection failed; never after a gateway rejection.
        let mut e = e.more_context(format!("Peer: {peer}"));
        if ctx.failure.is_some()
            || !session.req_header().method.is_idempotent()
            || session.as_ref().retry_buffer_truncated()
        {
            e.set_retry(false);
        } else {
            e.retry.decide_reuse(client_reused);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        upstream_request.insert_header(REQUEST_ID_HEADER, ctx.request_id.as_str())?;
        upstream_request.remove_header(USER_ID_HEADER);
        upstream_request.remove_header(WORKSPACE_ID_HEADER);
        if let Some(identity) = ctx.identity {
            upstream_request.insert_header(USER_ID_HEADER, identity.user_id.0.to_string())?;
            upstream_request
                .insert_header(WORKSPACE_ID_HEADER, identity.workspace_id.0.to_string())?;
        }
        match &ctx.forwarded_for {
            Some(chain) => upstream_request.insert_header("x-forwarded-for", chain.as_str())?,
            None => {
                upstream_request.remove_header("x-forwarded-for");
            }
        }
        upstream_request.insert_header("x-forwarded-proto", "http")?;
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let html = upstream_response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"));
        ctx.content_kind = if html {
            ContentKind::Page
        } else {
            ContentKind::Api
        };
        self.decorate(upstream_response, ctx)?;
        let event_stream = upstream_response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if event_stream {
            // A stream ends only when the client leaves, so draining does not wait for it.
            ctx.is_event_stream = true;
            ctx._active = None;
            self.metrics.open_streams.inc();
            // Tells buffering proxies in front of the gateway (such as nginx) to pass events on.
            upstream_response.insert_header("x-accel-buffering", "no")?;
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy
    where
        Self::CTX: Send + Sync,
    {
        let Some(error) = self.classify_failure(e, ctx) else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        let status = error.status;
        if session.response_written().is_none()
            && let Err(write_error) = self.send_error(session, ctx, error).await
        {
            tracing::debug!(error = %write_error, "failed to send the error response");
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &Self::CTX, error: &Error) -> bool {
        // A client leaving (closing a tab with an open event stream) is not an error, and
        // failures the gateway classified itself are in the access log already.
        ctx.failure.is_some()
            || (error.esource() == &ErrorSource::Downstream
                && matches!(
                    error.etype(),
                    ReadError | WriteError | ConnectionClosed | ReadTimedout | WriteTimedout
                ))
    }

    fn request_summary(&self, session: &Session, ctx: &Self::CTX) -> String {
        // Pingora's default summary includes the query string, which can carry SSE tickets.
        format!(
            "{} {} request_id={}",
            session.req_header().method,
            session.req_header().uri.path(),
            ctx.request_id
        )
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        self.log_request(session, ctx, e);
        self.metrics.in_flight.dec();
        if ctx.is_event_stream {
            self.metrics.open_streams.dec();
        }
        ctx.selected = None;
        ctx._active = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_with(name: &str, value: &str) -> RequestHeader {
        let mut request = RequestHeader::build("GET", b"/", None).expect("request");
        request
            .insert_header(name.to_owned(), value)
            .expect("header");
        request
    }

    #[test]
    fn request_id_kept_when_printable() {
        assert_eq!(
            request_id(&header_with("x-request-id", "abc-123")),
            "abc-123"
        );
    }

    #[test]
    fn request_id_replaced_when_too_long() {
        let long = "a".repeat(200);
        let id = request_id(&header_with("x-request-id", &long));
        assert_ne!(id, long);
        assert_eq!(id.len(), 36);
    }

    #[test]
    fn body_detected_by_length_or_chunking() {
        assert!(request_has_body(&header_with("content-length", "5")));
        assert!(!request_has_body(&header_with("content-length", "0")));
        assert!(request_has_body(&header_with(
            "transfer-encoding",
            "chunked"
        )));
    }
}
