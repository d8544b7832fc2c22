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
