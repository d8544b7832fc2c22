//! The gateway binary in front of stub upstreams that record what reaches them: token
//! verification, identity headers, rate limits in Redis, client IPs, CORS, body limits,
//! request ids, static files, load balancing, SSE disconnects and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, Keys, Stub, alg_none_token, claims, config, json_of, merge};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Starts a gateway whose `api` and `events` upstreams are one stub.
async fn gateway_with_stub(overlay: Value) -> (Gateway, Stub, Keys) {
    let stub = Stub::start().await;
    let keys = Keys::generate();
    let mut settings = config(&keys.paths.public_key, &[stub.addr()], &[stub.addr()]);
    merge(&mut settings, overlay);
    let gateway = Gateway::start(settings).await;
    gateway.wait_ready().await;
    (gateway, stub, keys)
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn rejected_tokens_never_reach_upstream() {
    let (gateway, stub, keys) = gateway_with_stub(json!({})).await;
    let other_keys = Keys::generate();
    let mut wrong_audience = claims();
    wrong_audience["aud"] = json!("someone-else");
    let mut wrong_issuer = claims();
    wrong_issuer["iss"] = json!("evil");
    let mut refresh_type = claims();
    refresh_type["typ"] = json!("refresh");
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("not bearer", Some("Basic dXNlcjpwYXNz".into())),
        ("empty bearer", Some("Bearer ".into())),
        (
            "forged signature",
            Some(format!("Bearer {}", other_keys.token(7, 3))),
        ),
        (
            "expired",
            Some(format!("Bearer {}", keys.token_with_lifetime(7, 3, -3600))),
        ),
        (
            "alg none",
            Some(format!("Bearer {}", alg_none_token(&claims()))),
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                keys.token_with_claims(&wrong_audience)
            )),
        ),
        (
            "wrong issuer",
            Some(format!("Bearer {}", keys.token_with_claims(&wrong_issuer))),
        ),
        (
            "not an access token",
            Some(format!("Bearer {}", keys.token_with_claims(&refresh_type))),
        ),
        (
            "hmac with public key",
            Some(format!(
                "Bearer {}",
                keys.hmac_token_with_public_key(&claims())
            )),
        ),
    ];
    for (case, authorization) in &cases {
        for (method, path) in [
            (reqwest::Method::GET, "/api/chats"),
            (reqwest::Method::POST, "/api/events/ticket"),
        ] {
            let mut request = http().request(method.clone(), gateway.url(path));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let (status, headers, body) = json_of(request.send().await.expect("send")).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{case}: {method} {path}: {body}"
            );
            assert_eq!(body["error"]["code"], "unauthorized", "{case}: {body}");
            assert!(body["error"]["message"].is_string(), "{case}: {body}");
            assert!(headers.contains_key("x-request-id"), "{case}");
        }
    }
    assert_eq!(stub.hits(), 0, "a rejected request reached the upstream");

    let valid = http()
        .get(gateway.url("/api/chats"))
        .bearer_auth(keys.token(7, 3))
        .send()
        .await
        .expect("send");
    assert_eq!(valid.status(), StatusCode::OK);
    assert_eq!(stub.hits(), 1);
}

#[tokio::test]
async fn identity_headers_come_only_from_gateway() {
    let (gateway, stub, keys) = gateway_with_stub(json!({})).await;

    let protected = http()
        .get(gateway.url("/api/users/me"))
        .bearer_auth(keys.token(7, 3))
        .header("x-fechatter-user-id", "999")
        .header("X-Fechatter-Workspace-Id", "998")
        .send()
        .await
        .expect("send");
    assert_eq!(protected.status(), StatusCode::OK);
    let seen = stub.last();
    assert_eq!(
        seen.headers.get("x-fechatter-user-id").map(String::as_str),
        Some("7")
    );
    assert_eq!(
        seen.headers
            .get("x-fechatter-workspace-id")
            .map(String::as_str),
        Some("3")
    );
    assert!(
        seen.headers
            .get("authorization")
            .is_some_and(|value| value.starts_with("Bearer ")),
        "the upstream needs the token for its own checks"
    );

    for (method, path) in [
        (reqwest::Method::POST, "/api/signin"),
        (reqwest::Method::GET, "/api/openapi.json"),
    ] {
        let public = http()
            .request(method, gateway.url(path))
            .header("x-fechatter-user-id", "999")
            .header("x-fechatter-workspace-id", "998")
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        assert_eq!(public.status(), StatusCode::OK, "{path}");
        let seen = stub.last();
        assert!(
            !seen.headers.contains_key("x-fechatter-user-id"),
            "{path}: {seen:?}"
        );
        assert!(
            !seen.headers.contains_key("x-fechatter-workspace-id"),
            "{path}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn per_user_limit_spares_other_users() {
    let (gateway, stub, keys) = gateway_with_stub(json!({
        "rate_limits": {"read": {"requests": 5, "window_secs": 60}},
    }))
    .await;
    let ann = keys.token(7, 3);
    let bob = keys.token(8, 3);
    for attempt in 1..=5 {
        let reply = http()
            .get(gateway.url("/api/chats"))
            .bearer_auth(&ann)
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), StatusCode::OK, "request {attempt}");
    }
    let (status, headers, body) = json_of(
        http()
            .get(gateway.url("/api/chats"))
            .bearer_auth(&ann)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["details"]["class"], "read");
    let retry_after: u64 = headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("numeric Retry-After");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(stub.hits(), 5, "the rejected request reached the upstream");

    let other = http()
        .get(gateway.url("/api/chats"))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), StatusCode::OK, "another user was limited");
    let write = http()
        .post(gateway.url("/api/chats"))
        .bearer_auth(&ann)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        write.status(),
        StatusCode::OK,
        "the write class has its own budget"
    );
}

#[tokio::test]
async fn redis_down_fails_open() {
    let stub = Stub::start().await;
    let keys = Keys::generate();
    let mut settings = config(&keys.paths.public_key, &[stub.addr()], &[stub.addr()]);
    merge(
        &mut settings,
        json!({
            "redis": {"url": format!("redis://127.0.0.1:{}", common::free_port())},
            "rate_limits": {"auth": {"requests": 1, "window_secs": 60}},
        }),
    );
    let gateway = Gateway::start(settings).await;

    for attempt in 0..3 {
        let reply = http()
            .post(gateway.url("/api/signin"))
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), StatusCode::OK, "attempt {attempt}");
    }
    assert_eq!(stub.hits(), 3);

    let (status, _, body) = json_of(
        http()
            .get(gateway.url("/health/ready"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "Redis is not needed for readiness: {body}"
    );
    assert_eq!(body["rate_limiter"], "unavailable (failing open)");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        gateway.log_text().contains("rate limit not checked"),
        "no fail-open warning in the log"
    );
}

#[tokio::test]
async fn forwarded_for_cannot_escape_ip_limit() {
    let (gateway, stub, _keys) = gateway_with_stub(json!({
        "rate_limits": {"auth": {"requests": 3, "window_secs": 60}},
    }))
    .await;
    let mut statuses = Vec::new();
    for attempt in 0..6 {
        let reply = http()
            .post(gateway.url("/api/signin"))
            .header("x-forwarded-for", format!("198.51.100.{attempt}"))
            .header("x-real-ip", format!("198.51.100.{attempt}"))
            .json(&json!({"email": "ann@example.com", "password": "x"}))
            .send()
            .await
            .expect("send");
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429]);
    assert_eq!(stub.hits(), 3);
    let seen = stub.last();
    assert_eq!(
        seen.headers.get("x-forwarded-for").map(String::as_str),
        Some("127.0.0.1"),
        "an untrusted client's X-Forwarded-For was passed on"
    );
}

#[tokio::test]
async fn trusted_proxy_chain_names_client() {
    let (gateway, stub, _keys) = gateway_with_stub(json!({
        "server": {"trusted_proxies": ["127.0.0.1/32"]},
        "rate_limits": {"auth": {"requests": 2, "window_secs": 60}},
    }))
    .await;
    let signin = |forwarded: String| {
        http()
            .post(gateway.url("/api/signin"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({}))
            .send()
    };
    // The proxy appends the address it saw; whatever the client wrote to the left of it
    // changes nothing.
    let mut statuses = Vec::new();
    for spoof in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let reply = signin(format!("{spoof}, 203.0.113.9")).await.expect("send");
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429]);
    let other_client = signin("203.0.113.10".into()).await.expect("send");
    assert_eq!(other_client.status(), StatusCode::OK);
    assert_eq!(
        stub.last()
            .headers
            .get("x-forwarded-for")
            .map(String::as_str),
        Some("203.0.113.10, 127.0.0.1")
    );
}

#[tokio::test]
async fn cors_preflight_answers_allowed_origin_only() {
    let (gateway, stub, keys) = gateway_with_stub(json!({
        "cors": {"allowed_origins": ["https://chat.example.com"]},
    }))
    .await;
    let preflight = |origin: &'static str| {
        http()
            .request(reqwest::Method::OPTIONS, gateway.url("/api/chats"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://chat.example.com").await.expect("send");
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://chat.example.com")
    );
    assert!(
        header(&allowed, "access-control-allow-methods")
            .is_some_and(|methods| methods.contains("POST"))
    );
    assert!(
        header(&allowed, "access-control-allow-headers")
            .is_some_and(|headers| headers.contains("authorization"))
    );
    assert!(header(&allowed, "access-control-max-age").is_some());

    let denied = preflight("https://evil.example").await.expect("send");
    assert!(denied.status().is_success());
    assert!(header(&denied, "access-control-allow-origin").is_none());
    assert!(header(&denied, "access-control-allow-methods").is_none());
    assert_eq!(stub.hits(), 0, "a preflight reached the upstream");

    let actual = http()
        .get(gateway.url("/api/chats"))
        .header("origin", "https://chat.example.com")
        .bearer_auth(keys.token(7, 3))
        .send()
        .await
        .expect("send");
    assert_eq!(
        header(&actual, "access-control-allow-origin").as_deref(),
        Some("https://chat.example.com")
    );
    assert!(
        header(&actual, "access-control-expose-headers")
            .is_some_and(|exposed| exposed.contains("x-request-id"))
    );
    assert!(
        actual
            .headers()
            .get_all("vary")
            .iter()
            .any(|value| value == "Origin")
    );
    let foreign = http()
        .get(gateway.url("/api/chats"))
        .header("origin", "https://evil.example")
        .bearer_auth(keys.token(7, 3))
        .send()
        .await
        .expect("send");
    assert_eq!(foreign.status(), StatusCode::OK);
    assert!(header(&foreign, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let (gateway, stub, keys) = gateway_with_stub(json!({
        "server": {"max_body_bytes": 1024},
    }))
    .await;
    let (status, _, body) = json_of(
        http()
            .post(gateway.url("/api/chats"))
            .bearer_auth(keys.token(7, 3))
            .header("content-type", "application/json")
            .body(vec![b'x'; 4096])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(stub.hits(), 0);

    let chunks = futures::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 512]))),
    );
    let (status, _, body) = json_of(
        http()
            .post(gateway.url("/api/chats"))
            .bearer_auth(keys.token(7, 3))
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "chunked: {body}");
    assert_eq!(body["error"]["code"], "payload_too_large");

    let small = http()
        .post(gateway.url("/api/chats"))
        .bearer_auth(keys.token(7, 3))
        .body(vec![b'z'; 512])
        .send()
        .await
        .expect("send");
    assert_eq!(small.status(), StatusCode::OK);
}

#[tokio::test]
async fn request_id_passed_on_or_created() {
    let (gateway, stub, keys) = gateway_with_stub(json!({})).await;
    let given = http()
        .get(gateway.url("/api/chats"))
        .bearer_auth(keys.token(7, 3))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .expect("send");
    assert_eq!(given.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(
        stub.last().headers.get("x-request-id").map(String::as_str),
        Some("trace-abc-123")
    );

    let created = http()
        .get(gateway.url("/api/chats"))
        .bearer_auth(keys.token(7, 3))
        .send()
        .await
        .expect("send");
    let id = created.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(id.len(), 36, "not a UUID: {id}");
    assert_eq!(stub.last().headers.get("x-request-id"), Some(&id));
    for name in [
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "content-security-policy",
    ] {
        assert!(created.headers().contains_key(name), "missing {name}");
    }
    assert_eq!(created.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn unconfigured_upstreams_return_503() {
    let (gateway, stub, keys) = gateway_with_stub(json!({})).await;
    for (method, path) in [
        (reqwest::Method::POST, "/api/event"),
        (reqwest::Method::GET, "/api/bot/ask"),
    ] {
        let started = Instant::now();
        let (status, _, body) = json_of(
            http()
                .request(method, gateway.url(path))
                .bearer_auth(keys.token(7, 3))
                .json(&json!({}))
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(body["error"]["code"], "upstream_unavailable", "{path}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // `/api/events/ticket` is not `/api/event`: whole segments only.
    let ticket = http()
        .post(gateway.url("/api/events/ticket"))
        .bearer_auth(keys.token(7, 3))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(ticket.status(), StatusCode::OK);
    assert_eq!(stub.last().path_and_query, "/api/events/ticket");
}

#[tokio::test]
async fn round_robin_spreads_and_fails_over() {
    let first = Stub::start().await;
    let mut second = Stub::start().await;
    let keys = Keys::generate();
    let gateway = Gateway::start(config(
        &keys.paths.public_key,
        &[first.addr(), second.addr()],
        &[first.addr()],
    ))
    .await;
    gateway.wait_ready().await;
    let token = keys.token(7, 3);
    for _ in 0..10 {
        let reply = http()
            .get(gateway.url("/api/chats"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), StatusCode::OK);
    }
    assert_eq!(first.hits(), 5);
    assert_eq!(second.hits(), 5);

    second.kill().await;
    // Right after the kill the health check has not noticed yet, so some requests pick the
    // dead instance first and must be retried on the live one.
    for attempt in 0..20 {
        let reply = http()
            .post(gateway.url("/api/chats"))
            .bearer_auth(&token)
            .json(&json!({"attempt": attempt}))
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), StatusCode::OK, "attempt {attempt}");
    }
    assert_eq!(first.hits(), 25);
}

#[tokio::test]
async fn client_disconnect_closes_upstream_stream() {
    let (gateway, stub, _keys) = gateway_with_stub(json!({})).await;
    let response = http()
        .get(gateway.url("/events?ticket=SECRET-TICKET-123&last_event_id=5"))
        .header("last-event-id", "4")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(2), body.next())
        .await
        .expect("first frame in time")
        .expect("stream open")
        .expect("frame bytes");
    assert!(String::from_utf8_lossy(&first).contains("event: tick"));
    assert_eq!(stub.open_streams(), 1);
    let seen = stub.last();
    assert_eq!(
        seen.path_and_query,
        "/events?ticket=SECRET-TICKET-123&last_event_id=5"
    );
    assert_eq!(
        seen.headers.get("last-event-id").map(String::as_str),
        Some("4")
    );

    drop(body);
    let deadline = Instant::now() + Duration::from_secs(3);
    while stub.open_streams() > 0 {
        assert!(Instant::now() < deadline, "the upstream stream stayed open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the access log line reach the file, then check no ticket was logged.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = gateway.log_text();
    assert!(log.contains("/events"), "no access log line for /events");
    assert!(!log.contains("SECRET-TICKET-123"), "the ticket was logged");
}

#[tokio::test]
async fn access_log_omits_tokens() {
    let (gateway, _stub, keys) = gateway_with_stub(json!({})).await;
    let token = keys.token(7, 3);
    let reply = http()
        .get(gateway.url("/api/chats?q=visible"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(reply.status(), StatusCode::OK);
    let forged = http()
        .get(gateway.url("/api/chats"))
        .bearer_auth("forged.token.value")
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = gateway.log_text();
    assert!(
        log.contains("fechatter_gateway::access"),
        "no access log line"
    );
    assert!(!log.contains(&token), "an access token was logged");
    assert!(
        !log.contains("forged.token.value"),
        "a rejected token was logged"
    );
    assert!(!log.contains("q=visible"), "a query string was logged");
}

#[tokio::test]
async fn health_and_metrics_are_json() {
    let (gateway, _stub, _keys) = gateway_with_stub(json!({})).await;
    let (status, headers, body) = json_of(
        http()
            .get(gateway.url("/health/ready"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["upstreams"]["api"]["healthy"], 1);

    let (status, _, body) = json_of(
        http()
            .get(gateway.url("/metrics"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "/metrics is served at the edge"
    );
    assert_eq!(body["error"]["code"], "not_found");

    let metrics = http()
        .get(format!("{}/metrics", gateway.admin))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("gateway_requests_total"), "{metrics}");
    assert!(metrics.contains("gateway_upstream_healthy"), "{metrics}");
}

#[tokio::test]
async fn sigterm_lets_open_requests_finish() {
    let (mut gateway, stub, keys) = gateway_with_stub(json!({})).await;
    // An open event stream must not hold up the shutdown: drain waits for requests only.
    let stream = http()
        .get(gateway.url("/events?ticket=t"))
        .send()
        .await
        .expect("open stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let url = gateway.url("/api/slow");
    let token = keys.token(7, 3);
    let slow = tokio::spawn(async move {
        http()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map(|response| response.status())
    });
    while stub.hits() < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let terminated = Instant::now();
    gateway.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = json_of(
        http()
            .get(gateway.url("/health/ready"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "draining");

    let finished = slow.await.expect("join").expect("slow request failed");
    assert_eq!(finished, StatusCode::OK);
    let exit = gateway
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("gateway exits after SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    // The slow request takes 2 s, the grace period 1 s; waiting on the stream would add the
    // whole 5-second drain timeout.
    let took = terminated.elapsed();
    assert!(took < Duration::from_millis(4500), "shutdown took {took:?}");
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(3);
    while stub.open_streams() > 0 {
        assert!(
            Instant::now() < deadline,
            "the upstream stream outlived the gateway"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
