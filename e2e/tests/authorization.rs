//! Every chat and message route hides private chats from non-members and other workspaces.

use fechatter_e2e::{Session, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Fixture {
    app: TestApp,
    member: Session,
    outsider: Session,
    stranger: Session,
    chat: i64,
    message: i64,
}

async fn fixture(chat_type: &str) -> Fixture {
    let app = TestApp::spawn().await;
    let member = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&member, "bob@example.com").await;
    let cat = app.client.join(&member, "cat@example.com").await;
    let outsider = app.client.join(&member, "out@example.com").await;
    let stranger = app.client.signup("zed@other.example", "Other").await;
    let body = match chat_type {
        "single" => json!({"chat_type": "single", "members": [bob.user_id]}),
        "group" => json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        _ => json!({"chat_type": chat_type, "name": "room", "members": [bob.user_id]}),
    };
    let chat = app
        .client
        .post("/api/chats", &member.access_token, body)
        .await;
    assert_eq!(chat.status, StatusCode::CREATED);
    let chat = chat.body["id"].as_i64().expect("chat id");
    let sent = app
        .client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &member.access_token,
            json!({"content": "top secret"}),
        )
        .await;
    let message = sent.body["id"].as_i64().expect("message id");
    Fixture {
        app,
        member,
        outsider,
        stranger,
        chat,
        message,
    }
}

fn routes(chat: i64, message: i64, user: i64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/api/chats/{chat}"), None),
        (
            Method::PATCH,
            format!("/api/chats/{chat}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/api/chats/{chat}"), None),
        (
            Method::POST,
            format!("/api/chats/{chat}/join"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/chats/{chat}/leave"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/chats/{chat}/members"), None),
        (
            Method::POST,
            format!("/api/chats/{chat}/members"),
            Some(json!({"user_ids": [user]})),
        ),
        (
            Method::PATCH,
            format!("/api/chats/{chat}/members/{user}"),
            Some(json!({"role": "admin"})),
        ),
        (
            Method::DELETE,
            format!("/api/chats/{chat}/members/{user}"),
            None,
        ),
        (Method::GET, format!("/api/chats/{chat}/messages"), None),
        (
            Method::POST,
            format!("/api/chats/{chat}/messages"),
            Some(json!({"content": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/chats/{chat}/messages/{message}"),
            Some(json!({"content": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/chats/{chat}/messages/{message}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/chats/{chat}/messages/{message}/history"),
            None,
        ),
        (
            Method::POST,
            format!("/api/chats/{chat}/read"),
            Some(json!({"seq": 1})),
        ),
        (
            Method::POST,
            format!("/api/chats/{chat}/typing"),
            Some(json!({})),
        ),
    ]
}

async fn assert_hidden(fixture: &Fixture, intruder: &Session) {
    for (method, path, body) in routes(fixture.chat, fixture.message, fixture.member.user_id) {
        let reply = fixture
            .app
            .client
            .send(method.clone(), &path, Some(&intruder.access_token), body)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {:?}",
            reply.body
        );
        assert_eq!(reply.code(), "not_found", "{method} {path}");
        assert!(
            !reply.body.to_string().contains("top secret"),
            "{method} {path} leaked content"
        );
    }
    let list = fixture
        .app
        .client
        .get("/api/chats", &intruder.access_token)
        .await;
    assert_eq!(list.body["items"], json!([]));
    let still_there = fixture
        .app
        .client
        .get(
            &format!("/api/chats/{}/messages", fixture.chat),
            &fixture.member.access_token,
        )
        .await;
    assert_eq!(still_there.body["items"][0]["content"], "top secret");
}

#[tokio::test]
async fn private_chats_hidden_from_non_members() {
    for chat_type in ["single", "group", "private_channel"] {
        let fixture = fixture(chat_type).await;
        assert_hidden(&fixture, &fixture.outsider).await;
    }
}

#[tokio::test]
async fn chats_hidden_from_other_workspaces() {
    for chat_type in ["single", "group", "private_channel", "public_channel"] {
        let fixture = fixture(chat_type).await;
        assert_hidden(&fixture, &fixture.stranger).await;
    }
}

#[tokio::test]
async fn public_channel_readable_but_not_writable_before_join() {
    let fixture = fixture("public_channel").await;
    let client = &fixture.app.client;
    let token = &fixture.outsider.access_token;
    let read = client
        .get(&format!("/api/chats/{}/messages", fixture.chat), token)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let post = client
        .post(
            &format!("/api/chats/{}/messages", fixture.chat),
            token,
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    let edit = client
        .patch(
            &format!("/api/chats/{}/messages/{}", fixture.chat, fixture.message),
            token,
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    let typing = client
        .post(
            &format!("/api/chats/{}/typing", fixture.chat),
            token,
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let fixture = fixture("group").await;
    let client = &fixture.app.client;
    let token = &fixture.member.access_token;
    for path in [
        "/api/chats/999999".to_owned(),
        "/api/chats/999999/messages".to_owned(),
        format!("/api/chats/{}/messages/999999/history", fixture.chat),
    ] {
        let reply = client.get(&path, token).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let bad = client.get("/api/chats/abc", token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let huge = client
        .get("/api/chats/99999999999999999999999", token)
        .await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST);
}
