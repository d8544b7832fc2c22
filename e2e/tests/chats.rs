//! Chat types, membership rules, archive and the chat list.

use fechatter_e2e::{Session, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn team(app: &TestApp) -> (Session, Session, Session) {
    let owner = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&owner, "bob@example.com").await;
    let cat = app.client.join(&owner, "cat@example.com").await;
    (owner, bob, cat)
}

async fn create(app: &TestApp, session: &Session, body: Value) -> Value {
    let reply = app
        .client
        .post("/api/chats", &session.access_token, body)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "create chat: {:?}",
        reply.body
    );
    reply.body
}

#[tokio::test]
async fn single_chat_is_deduplicated() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let first = create(
        &app,
        &ann,
        json!({"chat_type": "single", "members": [bob.user_id]}),
    )
    .await;
    let again = app
        .client
        .post(
            "/api/chats",
            &bob.access_token,
            json!({"chat_type": "single", "members": [ann.user_id]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first["id"]);
}

#[tokio::test]
async fn single_chat_needs_one_other_user() {
    let app = TestApp::spawn().await;
    let (ann, bob, cat) = team(&app).await;
    for members in [
        json!([]),
        json!([ann.user_id]),
        json!([bob.user_id, cat.user_id]),
    ] {
        let reply = app
            .client
            .post(
                "/api/chats",
                &ann.access_token,
                json!({"chat_type": "single", "members": members}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "members {members}"
        );
    }
}

#[tokio::test]
async fn group_needs_two_others() {
    let app = TestApp::spawn().await;
    let (ann, bob, cat) = team(&app).await;
    let small = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "group", "members": [bob.user_id]}),
        )
        .await;
    assert_eq!(small.status, StatusCode::UNPROCESSABLE_ENTITY);
    let group = create(
        &app,
        &ann,
        json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
    )
    .await;
    assert_eq!(group["members"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn members_from_other_workspace_rejected() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let stranger = app.client.signup("zed@other.example", "Other").await;
    let reply = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "group", "members": [bob.user_id, stranger.user_id]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body["error"]["details"]["fields"]["members"].is_array());
}

#[tokio::test]
async fn public_channel_names_unique_case_insensitively() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    create(
        &app,
        &ann,
        json!({"chat_type": "public_channel", "name": "General"}),
    )
    .await;
    let taken = app
        .client
        .post(
            "/api/chats",
            &bob.access_token,
            json!({"chat_type": "public_channel", "name": "general"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.code(), "already_exists");
    let private = app
        .client
        .post(
            "/api/chats",
            &bob.access_token,
            json!({"chat_type": "private_channel", "name": "general"}),
        )
        .await;
    assert_eq!(private.status, StatusCode::CREATED);
}

#[tokio::test]
async fn public_channel_listed_previewed_and_joined() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let channel = create(
        &app,
        &ann,
        json!({"chat_type": "public_channel", "name": "news"}),
    )
    .await;
    let id = channel["id"].as_i64().expect("id");
    app.client
        .post(
            &format!("/api/chats/{id}/messages"),
            &ann.access_token,
            json!({"content": "hello"}),
        )
        .await;
    let listed = app.client.get("/api/chats/public", &bob.access_token).await;
    assert_eq!(listed.body["items"][0]["id"], id);
    let preview = app
        .client
        .get(&format!("/api/chats/{id}/messages"), &bob.access_token)
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert_eq!(preview.body["items"][0]["content"], "hello");
    let post = app
        .client
        .post(
            &format!("/api/chats/{id}/messages"),
            &bob.access_token,
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert_eq!(post.code(), "forbidden");
    let joined = app
        .client
        .post(
            &format!("/api/chats/{id}/join"),
            &bob.access_token,
            json!({}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK);
    let twice = app
        .client
        .post(
            &format!("/api/chats/{id}/join"),
            &bob.access_token,
            json!({}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    let post = app
        .client
        .post(
            &format!("/api/chats/{id}/messages"),
            &bob.access_token,
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::CREATED);
}

#[tokio::test]
async fn joining_private_channel_is_not_found() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let channel = create(
        &app,
        &ann,
        json!({"chat_type": "private_channel", "name": "secret"}),
    )
    .await;
    let id = channel["id"].as_i64().expect("id");
    let reply = app
        .client
        .post(
            &format!("/api/chats/{id}/join"),
            &bob.access_token,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn update_needs_chat_admin() {
    let app = TestApp::spawn().await;
    let (ann, bob, cat) = team(&app).await;
    let chat = create(
        &app,
        &ann,
        json!({"chat_type": "private_channel", "name": "ops", "members": [bob.user_id, cat.user_id]}),
    )
    .await;
    let id = chat["id"].as_i64().expect("id");
    let denied = app
        .client
        .patch(
            &format!("/api/chats/{id}"),
            &bob.access_token,
            json!({"name": "mine"}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let renamed = app
        .client
        .patch(
            &format!("/api/chats/{id}"),
            &ann.access_token,
            json!({"name": "ops-team", "description": "on call"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["name"], "ops-team");
    assert_eq!(renamed.body["description"], "on call");
}

#[tokio::test]
async fn archived_chat_is_read_only() {
    let app = TestApp::spawn().await;
    let (ann, bob, cat) = team(&app).await;
    let chat = create(
        &app,
        &ann,
        json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
    )
    .await;
    let id = chat["id"].as_i64().expect("id");
    let sent = app
        .client
        .post(
            &format!("/api/chats/{id}/messages"),
            &bob.access_token,
            json!({"content": "before"}),
        )
        .await;
    let message_id = sent.body["id"].as_i64().expect("message id");
    assert_eq!(
        app.client
            .delete(&format!("/api/chats/{id}"), &bob.access_token)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.client
            .delete(&format!("/api/chats/{id}"), &ann.access_token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let post = app
        .client
        .post(
            &format!("/api/chats/{id}/messages"),
            &bob.access_token,
            json!({"content": "after"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert_eq!(post.code(), "chat_archived");
    let edit = app
        .client
        .patch(
            &format!("/api/chats/{id}/messages/{message_id}"),
            &bob.access_token,
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(edit.code(), "chat_archived");
    let add = app
        .client
        .post(
            &format!("/api/chats/{id}/members"),
            &ann.access_token,
            json!({"user_ids": [cat.user_id]}),
        )
        .await;
    assert_eq!(add.code(), "chat_archived");
    let read = app
        .client
        .get(&format!("/api/chats/{id}/messages"), &bob.access_token)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let got = app
        .client
        .get(&format!("/api/chats/{id}"), &bob.access_token)
        .await;
    assert_eq!(got.body["archived"], true);
    let mark = app
        .client
        .post(
            &format!("/api/chats/{id}/read"),
            &cat.access_token,
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(mark.status, StatusCode::NO_CONTENT);
    let leave = app
        .client
        .post(
            &format!("/api/chats/{id}/leave"),
            &cat.access_token,
            json!({}),
        )
        .await;
    assert_eq!(leave.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn workspace_admin_archives_any_channel() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let channel = create(
        &app,
        &bob,
        json!({"chat_type": "public_channel", "name": "bobs"}),
    )
    .await;
    let id = channel["id"].as_i64().expect("id");
    let reply = app
        .client
        .delete(&format!("/api/chats/{id}"), &ann.access_token)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn chat_list_orders_by_activity_with_counts() {
    let app = TestApp::spawn().await;
    let (ann, bob, cat) = team(&app).await;
    let dm = create(
        &app,
        &ann,
        json!({"chat_type": "single", "members": [bob.user_id]}),
    )
    .await;
    let group = create(
        &app,
        &ann,
        json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
    )
    .await;
    let dm_id = dm["id"].as_i64().expect("dm");
    let group_id = group["id"].as_i64().expect("group");
    for text in ["one", "two @ann"] {
        app.client
            .post(
                &format!("/api/chats/{group_id}/messages"),
                &bob.access_token,
                json!({"content": text}),
            )
            .await;
    }
    app.client
        .post(
            &format!("/api/chats/{dm_id}/messages"),
            &bob.access_token,
            json!({"content": "dm"}),
        )
        .await;
    let list = app.client.get("/api/chats", &ann.access_token).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], dm_id);
    assert_eq!(items[0]["last_message"]["content"], "dm");
    assert_eq!(items[0]["unread_count"], 1);
    assert_eq!(items[1]["unread_count"], 2);
    assert_eq!(items[1]["mention_count"], 1);
    let bobs = app.client.get("/api/chats", &bob.access_token).await;
    assert_eq!(bobs.body["items"][0]["unread_count"], 0);
}

#[tokio::test]
async fn read_cursor_moves_forward_only() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let dm = create(
        &app,
        &ann,
        json!({"chat_type": "single", "members": [bob.user_id]}),
    )
    .await;
    let id = dm["id"].as_i64().expect("id");
    for n in 0..3 {
        app.client
            .post(
                &format!("/api/chats/{id}/messages"),
                &bob.access_token,
                json!({"content": format!("m{n}")}),
            )
            .await;
    }
    let unread = |body: &Value| body["items"][0]["unread_count"].as_i64();
    let mark = app
        .client
        .post(
            &format!("/api/chats/{id}/read"),
            &ann.access_token,
            json!({"seq": 2}),
        )
        .await;
    assert_eq!(mark.status, StatusCode::NO_CONTENT);
    assert_eq!(
        unread(&app.client.get("/api/chats", &ann.access_token).await.body),
        Some(1)
    );
    app.client
        .post(
            &format!("/api/chats/{id}/read"),
            &ann.access_token,
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(
        unread(&app.client.get("/api/chats", &ann.access_token).await.body),
        Some(1)
    );
    app.client
        .post(
            &format!("/api/chats/{id}/read"),
            &ann.access_token,
            json!({"seq": 999}),
        )
        .await;
    let list = app.client.get("/api/chats", &ann.access_token).await;
    assert_eq!(unread(&list.body), Some(0));
    assert_eq!(list.body["items"][0]["last_read_seq"], 3);
}

#[tokio::test]
async fn deleted_message_leaves_counts_and_last_message() {
    let app = TestApp::spawn().await;
    let (ann, bob, _) = team(&app).await;
    let dm = create(
        &app,
        &ann,
        json!({"chat_type": "single", "members": [bob.user_id]}),
    )
    .await;
    let id = dm["id"].as_i64().expect("id");
    app.client
        .post(
            &format!("/api/chats/{id}/messages"),
            &bob.access_token,
            json!({"content": "first"}),
        )
        .await;
    let second = app
        .client
        .post(
            &format!("/api/chats/{id}/messages"),
            &bob.access_token,
            json!({"content": "second @ann"}),
        )
        .await;
    let second_id = second.body["id"].as_i64().expect("id");
    app.client
        .delete(
            &format!("/api/chats/{id}/messages/{second_id}"),
            &bob.access_token,
        )
        .await;
    let list = app.client.get("/api/chats", &ann.access_token).await;
    let item = &list.body["items"][0];
    assert_eq!(item["last_message"]["content"], "first");
    assert_eq!(item["unread_count"], 1);
    assert_eq!(item["mention_count"], 0);
}
