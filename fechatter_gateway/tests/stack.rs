//! The gateway binary in front of real fechatter_server and notify_server instances (the e2e
//! harness starts them in-process against a fresh database, NATS stream and Redis prefix).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Gateway, config, json_of, merge, wait_closed};
use fechatter_e2e::events::Credentials;
use fechatter_e2e::{Client, EventStream, Session, Stack, TestApp};
use reqwest::StatusCode;
use serde_json::json;

fn address_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Starts a gateway in front of `stack` and waits until it is ready.
async fn gateway_for(stack: &Stack) -> Gateway {
    let gateway = Gateway::start(config(
        &stack.api.config.auth.public_key_path,
        &[stack.api.addr.to_string()],
        &[address_of(&stack.notify_base)],
    ))
    .await;
    gateway.wait_ready().await;
    gateway
}

/// Ann and Bob in one workspace with a direct chat, all set up through the gateway.
async fn pair(client: &Client) -> (Session, Session, i64) {
    let ann = client.signup("ann@example.com", "Team").await;
    let bob = client.join(&ann, "bob@example.com").await;
    let chat = client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    assert_eq!(
        chat.status,
        StatusCode::CREATED,
        "create chat: {:?}",
        chat.body
    );
    (ann, bob, chat.body["id"].as_i64().expect("chat id"))
}

/// Opens Bob's event stream through the gateway and waits for its `ready` frame.
async fn listen(client: &Client, gateway: &Gateway, who: &Session) -> EventStream {
    let ticket = client
        .post("/api/events/ticket", &who.access_token, json!({}))
        .await;
    assert_eq!(ticket.status, StatusCode::OK, "ticket: {:?}", ticket.body);
    let ticket = ticket.body["ticket"].as_str().expect("ticket").to_owned();
    let mut stream =
        EventStream::open(&gateway.base, Credentials::Ticket(&ticket), None, false).await;
    let ready = stream
        .next_within(Duration::from_secs(5))
        .await
        .expect("ready frame through the gateway");
    assert_eq!(ready.event, "ready");
    stream
}

async fn send(client: &Client, who: &Session, chat: i64, text: &str) {
    let reply = client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &who.access_token,
            json!({"content": text}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "send: {:?}", reply.body);
}

#[tokio::test]
async fn message_reaches_stream_through_gateway() {
    let stack = Stack::spawn().await;
    let gateway = gateway_for(&stack).await;
    let client = Client::new(gateway.base.clone());
    let (ann, bob, chat) = pair(&client).await;
    let mut stream = listen(&client, &gateway, &bob).await;

    let sent = Instant::now();
    send(&client, &ann, chat, "hello through the edge").await;
    let frame = stream
        .expect("message.created", Duration::from_secs(5))
        .await;
    let delay = sent.elapsed();
    assert_eq!(frame.data["message"]["content"], "hello through the edge");
    assert_eq!(frame.data["chat_id"], chat);
    assert!(!frame.id.is_empty());
    assert!(
        delay < Duration::from_secs(2),
        "event took {delay:?} through the gateway"
    );

    let me = client.get("/api/users/me", &bob.access_token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], bob.user_id);
    assert!(me.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn unknown_api_path_is_json_404() {
    let stack = Stack::spawn().await;
    let gateway = gateway_for(&stack).await;
    let client = Client::new(gateway.base.clone());
    let ann = client.signup("ann@example.com", "Team").await;
    let (status, headers, body) = json_of(
        reqwest::Client::new()
            .get(gateway.url("/api/no/such/route"))
            .header("accept", "text/html")
            .bearer_auth(&ann.access_token)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers["content-type"]
            .to_str()
            .is_ok_and(|value| value.starts_with("application/json"))
    );
    assert_eq!(body["error"]["code"], "not_found");

    let (status, _, body) = json_of(
        reqwest::Client::new()
            .get(gateway.url("/api/no/such/route"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn event_stream_survives_quiet_minute() {
    let stack = Stack::spawn().await;
    let gateway = gateway_for(&stack).await;
    let client = Client::new(gateway.base.clone());
    let (ann, bob, chat) = pair(&client).await;
    let mut stream = listen(&client, &gateway, &bob).await;

    // notify_server sends heartbeat comments every 15 s; nothing else happens for 61 s.
    let quiet = stream.collect_events(Duration::from_secs(61)).await;
    assert!(quiet.is_empty(), "unexpected events: {quiet:?}");

    let sent = Instant::now();
    send(&client, &ann, chat, "still there?").await;
    let frame = stream
        .expect("message.created", Duration::from_secs(5))
        .await;
    assert_eq!(frame.data["message"]["content"], "still there?");
    assert!(sent.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn api_failover_then_fast_503() {
    let first = TestApp::spawn().await;
    let second = TestApp::start(
        first.config.clone(),
        tempfile::tempdir().expect("unused key dir"),
    )
    .await;
    let first_addr: SocketAddr = first.addr;
    let second_addr: SocketAddr = second.addr;
    let mut settings = config(
        &first.config.auth.public_key_path,
        &[first_addr.to_string(), second_addr.to_string()],
        &["127.0.0.1:1".to_owned()],
    );
    merge(
        &mut settings,
        json!({"health": {"required_upstreams": ["api"]}}),
    );
    let gateway = Gateway::start(settings).await;
    gateway.wait_ready().await;
    let client = Client::new(gateway.base.clone());
    let ann = client.signup("ann@example.com", "Team").await;
    for attempt in 0..6 {
        let me = client.get("/api/users/me", &ann.access_token).await;
        assert_eq!(
            me.status,
            StatusCode::OK,
            "attempt {attempt}: {:?}",
            me.body
        );
    }

    drop(second);
    wait_closed(second_addr).await;
    // Within the first health-check interval some requests still pick the stopped instance
    // and are retried on the other one.
    for attempt in 0..20 {
        let me = client.get("/api/users/me", &ann.access_token).await;
        assert_eq!(
            me.status,
            StatusCode::OK,
            "after one stopped, attempt {attempt}: {:?}",
            me.body
        );
    }
    let chats = client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "public_channel", "name": "general", "members": []}),
        )
        .await;
    assert_eq!(
        chats.status,
        StatusCode::CREATED,
        "write after failover: {:?}",
        chats.body
    );

    drop(first);
    wait_closed(first_addr).await;
    for round in ["right after the stop", "after the health check noticed"] {
        let started = Instant::now();
        let (status, _, body) = json_of(
            reqwest::Client::new()
                .get(gateway.url("/api/users/me"))
                .bearer_auth(&ann.access_token)
                .send()
                .await
                .expect("send"),
        )
        .await;
        let elapsed = started.elapsed();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{round}: {body}");
        assert_eq!(
            body["error"]["code"], "upstream_unavailable",
            "{round}: {body}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "{round}: 503 took {elapsed:?}"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let (status, _, body) = json_of(
        reqwest::Client::new()
            .get(gateway.url("/health/ready"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["upstreams"]["api"]["healthy"], 0);
}

#[tokio::test]
async fn docs_page_is_public_with_page_policy() {
    let stack = Stack::spawn().await;
    let gateway = gateway_for(&stack).await;
    let response = reqwest::Client::new()
        .get(gateway.url("/api/docs/"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "policy: {policy}");
    let html = response.text().await.expect("text");
    assert!(html.contains("swagger"), "docs page: {html}");

    let openapi = reqwest::Client::new()
        .get(gateway.url("/api/openapi.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(openapi.status(), StatusCode::OK);
}
