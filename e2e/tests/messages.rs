//! Sending, listing, editing and deleting messages.

use std::collections::BTreeSet;

use fechatter_e2e::{Session, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn dm(app: &TestApp) -> (Session, Session, i64) {
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let chat = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    (ann, bob, chat.body["id"].as_i64().expect("chat id"))
}

async fn send(
    app: &TestApp,
    session: &Session,
    chat: i64,
    body: Value,
) -> fechatter_e2e::api::Reply {
    app.client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &session.access_token,
            body,
        )
        .await
}

#[tokio::test]
async fn send_normalizes_content() {
    let app = TestApp::spawn().await;
    let (ann, _, chat) = dm(&app).await;
    let reply = send(
        &app,
        &ann,
        chat,
        json!({"content": "  Cafe\u{301} مرحبا 你好  "}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["content"], "Caf\u{e9} مرحبا 你好");
    assert_eq!(reply.body["seq"], 1);
    assert!(reply.body["deleted_at"].is_null());
}

#[tokio::test]
async fn send_rejects_blank_and_oversized() {
    let app = TestApp::spawn().await;
    let (ann, _, chat) = dm(&app).await;
    for content in [
        String::new(),
        "   \n\t".into(),
        "\u{200B}\u{FEFF}".into(),
        "x".repeat(4001),
    ] {
        let reply = send(&app, &ann, chat, json!({"content": content})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body["error"]["details"]["fields"]["content"].is_array());
    }
    let max = send(&app, &ann, chat, json!({"content": "語".repeat(4000)})).await;
    assert_eq!(max.status, StatusCode::CREATED);
}

#[tokio::test]
async fn idempotent_send_returns_first_message() {
    let app = TestApp::spawn().await;
    let (ann, _, chat) = dm(&app).await;
    let body = json!({"content": "hello", "idempotency_key": "k-1"});
    let first = send(&app, &ann, chat, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = send(
        &app,
        &ann,
        chat,
        json!({"content": " hello ", "idempotency_key": "k-1"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first.body["id"]);
    let reused = send(
        &app,
        &ann,
        chat,
        json!({"content": "other", "idempotency_key": "k-1"}),
    )
    .await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.code(), "idempotency_key_reused");
    let id = first.body["id"].as_i64().expect("id");
    app.client
        .patch(
            &format!("/api/chats/{chat}/messages/{id}"),
            &ann.access_token,
            json!({"content": "edited"}),
        )
        .await;
    let after_edit = send(&app, &ann, chat, body).await;
    assert_eq!(after_edit.status, StatusCode::OK);
    assert_eq!(after_edit.body["content"], "edited");
}

#[tokio::test]
async fn concurrent_idempotent_sends_create_one_message() {
    let app = TestApp::spawn().await;
    let (ann, _, chat) = dm(&app).await;
    let body = json!({"content": "once", "idempotency_key": "same"});
    let replies =
        futures::future::join_all((0..8).map(|_| send(&app, &ann, chat, body.clone()))).await;
    let ids: BTreeSet<i64> = replies
        .iter()
        .map(|reply| reply.body["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 1);
    let list = app
        .client
        .get(&format!("/api/chats/{chat}/messages"), &ann.access_token)
        .await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn seq_is_gap_free_under_concurrent_senders() {
    let app = TestApp::spawn().await;
    let (ann, bob, chat) = dm(&app).await;
    let sends = (0..40).map(|n| {
        let who = if n % 2 == 0 { &ann } else { &bob };
        send(&app, who, chat, json!({"content": format!("message {n}")}))
    });
    let replies = futures::future::join_all(sends).await;
    assert!(
        replies
            .iter()
            .all(|reply| reply.status == StatusCode::CREATED)
    );
    let list = app
        .client
        .get(
            &format!("/api/chats/{chat}/messages?limit=100"),
            &ann.access_token,
        )
        .await;
    let seqs: Vec<i64> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|message| message["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>());
}

#[tokio::test]
async fn list_pages_with_cursors() {
    let app = TestApp::spawn().await;
    let (ann, _, chat) = dm(&app).await;
    for n in 1..=7 {
        send(&app, &ann, chat, json!({"content": format!("m{n}")})).await;
    }
    let seqs = |body: &Value| -> Vec<i64> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|m| m["seq"].as_i64().expect("seq"))
            .collect()
    };
    let path = |query: &str| format!("/api/chats/{chat}/messages?{query}");
    let newest = app.client.get(&path("limit=3"), &ann.access_token).await;
    assert_eq!(seqs(&newest.body), vec![5, 6, 7]);
    assert_eq!(newest.body["has_more"], true);
    let older = app
        .client
        .get(&path("limit=3&before=5"), &ann.access_token)
        .await;
    assert_eq!(seqs(&older.body), vec![2, 3, 4]);
    let oldest = app
        .client
        .get(&path("limit=3&before=2"), &ann.access_token)
        .await;
    assert_eq!(seqs(&oldest.body), vec![1]);
    assert_eq!(oldest.body["has_more"], false);
    let newer = app
        .client
        .get(&path("limit=3&after=5"), &ann.access_token)
        .await;
    assert_eq!(seqs(&newer.body), vec![6, 7]);
    assert_eq!(newer.body["has_more"], false);
    let window = app
        .client
        .get(&path("after=2&before=5"), &ann.access_token)
        .await;
    assert_eq!(seqs(&window.body), vec![3, 4]);
    for bad in ["limit=0", "limit=101", "limit=-1", "before=-3"] {
        let reply = app.client.get(&path(bad), &ann.access_token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "query {bad}"
        );
    }
    for bad in ["limit=abc", "limit=99999999999999999999", "cursor=1"] {
        let reply = app.client.get(&path(bad), &ann.access_token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "query {bad}");
    }
}

#[tokio::test]
async fn edit_keeps_history_and_checks_sender() {
    let app = TestApp::spawn().await;
    let (ann, bob, chat) = dm(&app).await;
    let sent = send(&app, &ann, chat, json!({"content": "v1"})).await;
    let id = sent.body["id"].as_i64().expect("id");
    let path = format!("/api/chats/{chat}/messages/{id}");
    let other = app
        .client
        .patch(&path, &bob.access_token, json!({"content": "hack"}))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let v2 = app
        .client
        .patch(&path, &ann.access_token, json!({"content": "v2"}))
        .await;
    assert_eq!(v2.status, StatusCode::OK);
    assert!(v2.body["edited_at"].is_string());
    app.client
        .patch(&path, &ann.access_token, json!({"content": "v3"}))
        .await;
    let history = app
        .client
        .get(&format!("{path}/history"), &bob.access_token)
        .await;
    let versions: Vec<&str> = history.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["content"].as_str())
        .collect();
    assert_eq!(versions, vec!["v1", "v2"]);
}

#[tokio::test]
async fn delete_leaves_tombstone_and_erases_history() {
    let app = TestApp::spawn().await;
    let (ann, bob, chat) = dm(&app).await;
    let sent = send(&app, &ann, chat, json!({"content": "secret"})).await;
    let id = sent.body["id"].as_i64().expect("id");
    let path = format!("/api/chats/{chat}/messages/{id}");
    app.client
        .patch(&path, &ann.access_token, json!({"content": "secret 2"}))
        .await;
    let denied = app.client.delete(&path, &bob.access_token).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let deleted = app.client.delete(&path, &ann.access_token).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let list = app
        .client
        .get(&format!("/api/chats/{chat}/messages"), &bob.access_token)
        .await;
    let tombstone = &list.body["items"][0];
    assert!(tombstone["content"].is_null());
    assert!(tombstone["deleted_at"].is_string());
    let history = app
        .client
        .get(&format!("{path}/history"), &bob.access_token)
        .await;
    assert_eq!(history.body["items"], json!([]));
    let edit = app
        .client
        .patch(&path, &ann.access_token, json!({"content": "back"}))
        .await;
    assert_eq!(edit.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn chat_admin_deletes_any_message() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let group = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        )
        .await;
    let chat = group.body["id"].as_i64().expect("id");
    let sent = send(&app, &bob, chat, json!({"content": "spam"})).await;
    let id = sent.body["id"].as_i64().expect("id");
    let by_member = app
        .client
        .delete(
            &format!("/api/chats/{chat}/messages/{id}"),
            &cat.access_token,
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let by_owner = app
        .client
        .delete(
            &format!("/api/chats/{chat}/messages/{id}"),
            &ann.access_token,
        )
        .await;
    assert_eq!(by_owner.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn reply_to_must_be_same_chat() {
    let app = TestApp::spawn().await;
    let (ann, bob, chat) = dm(&app).await;
    let first = send(&app, &ann, chat, json!({"content": "question"})).await;
    let first_id = first.body["id"].as_i64().expect("id");
    let reply = send(
        &app,
        &bob,
        chat,
        json!({"content": "answer", "reply_to": first_id}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["reply_to"], first_id);
    let other = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "public_channel", "name": "x"}),
        )
        .await;
    let other_id = other.body["id"].as_i64().expect("id");
    let elsewhere = send(
        &app,
        &ann,
        other_id,
        json!({"content": "x", "reply_to": first_id}),
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(elsewhere.body["error"]["details"]["fields"]["reply_to"].is_array());
    let missing = send(
        &app,
        &ann,
        chat,
        json!({"content": "x", "reply_to": 999_999}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn mentions_resolve_to_members() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let dan = app.client.join(&ann, "dan@example.com").await;
    let group = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        )
        .await;
    let chat = group.body["id"].as_i64().expect("id");
    let sent = send(
        &app,
        &ann,
        chat,
        json!({"content": "@bob and @dan, mail cat@example.com"}),
    )
    .await;
    assert_eq!(sent.body["mentions"], json!([bob.user_id]));
    let id = sent.body["id"].as_i64().expect("id");
    let edited = app
        .client
        .patch(
            &format!("/api/chats/{chat}/messages/{id}"),
            &ann.access_token,
            json!({"content": "@cat only"}),
        )
        .await;
    assert_eq!(edited.body["mentions"], json!([cat.user_id]));
    let all = send(&app, &bob, chat, json!({"content": "@all hi"})).await;
    assert_eq!(all.body["mentions"].as_array().map(Vec::len), Some(3));
    let _ = dan;
}

#[tokio::test]
async fn send_rate_limited_per_chat() {
    let app = TestApp::spawn_with(|config| config.limits.messages_per_chat = 3).await;
    let (ann, _, chat) = dm(&app).await;
    for n in 0..3 {
        let reply = send(&app, &ann, chat, json!({"content": format!("{n}")})).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let limited = send(&app, &ann, chat, json!({"content": "too many"})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.get("retry-after").is_some());
}
