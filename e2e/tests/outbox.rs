//! The outbox keeps events while NATS is down and the relay delivers them once it is back.

use std::time::Duration;

use fechatter_e2e::Stack;
use fechatter_e2e::nats::OwnNats;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn messages_sent_while_nats_down_arrive_later() {
    let mut nats = OwnNats::start().await;
    let url = nats.url();
    let stack = Stack::spawn_with(|config| config.nats.url = url).await;
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let chat = stack
        .api
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let chat = chat.body["id"].as_i64().expect("chat id");
    let (mut stream, _) = stack.listen(&bob).await;

    nats.stop();
    let ready = stack
        .api
        .client
        .send(reqwest::Method::GET, "/health/ready", None, None)
        .await;
    for text in ["one", "two", "three"] {
        let reply = stack
            .api
            .client
            .post(
                &format!("/api/chats/{chat}/messages"),
                &ann.access_token,
                json!({"content": text}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    assert_eq!(
        ready.status,
        StatusCode::OK,
        "API must stay ready without NATS"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    nats.restart().await;

    let mut received = Vec::new();
    while received.len() < 3 {
        let frame = stream
            .expect("message.created", Duration::from_secs(30))
            .await;
        received.push(
            frame.data["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(received, vec!["one", "two", "three"]);
    let unpublished: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&stack.api.pool().await)
            .await
            .expect("count");
    assert_eq!(unpublished, 0);
}

#[tokio::test]
async fn two_relays_publish_each_event_once() {
    let mut stack = Stack::spawn().await;
    let keys = tempfile::tempdir().expect("key dir");
    for name in ["private.pem", "public.pem"] {
        std::fs::copy(stack.api.keys.path().join(name), keys.path().join(name)).expect("copy key");
    }
    let mut second_config = stack.api.config.clone();
    second_config.auth.private_key_path = keys.path().join("private.pem");
    second_config.auth.public_key_path = keys.path().join("public.pem");
    let second = fechatter_e2e::TestApp::start(second_config, keys).await;

    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let chat = stack
        .api
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let chat = chat.body["id"].as_i64().expect("chat id");
    let (mut stream, _) = stack.listen(&bob).await;
    for n in 0..20 {
        let server = if n % 2 == 0 {
            &stack.api.client
        } else {
            &second.client
        };
        let reply = server
            .post(
                &format!("/api/chats/{chat}/messages"),
                &ann.access_token,
                json!({"content": format!("m{n}")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let mut seqs = Vec::new();
    while let Some(frame) = stream.next_within(Duration::from_secs(3)).await {
        if frame.event == "message.created" {
            seqs.push(frame.data["message"]["seq"].as_i64().expect("seq"));
        }
    }
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
    // A fresh notify instance reads everything from the stream: still no duplicates.
    stack.restart_notify().await;
    let (mut replay, _) = stack.resume(&bob, Some(0), true).await;
    let replayed: Vec<i64> = replay
        .collect_events(Duration::from_secs(2))
        .await
        .iter()
        .filter(|frame| frame.event == "message.created")
        .map(|frame| frame.data["message"]["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(replayed, (1..=20).collect::<Vec<i64>>());
}
