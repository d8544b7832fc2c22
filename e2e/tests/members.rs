//! Adding, removing and promoting chat members.

use fechatter_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn add_list_promote_remove() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let id = app
        .client
        .create_chat(&ann, json!({"chat_type": "private_channel", "name": "c"}))
        .await;
    let added = app
        .client
        .post(
            &format!("/api/chats/{id}/members"),
            &ann.access_token,
            json!({"user_ids": [bob.user_id, cat.user_id, bob.user_id]}),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    assert_eq!(added.body["items"].as_array().map(Vec::len), Some(3));
    let denied = app
        .client
        .delete(
            &format!("/api/chats/{id}/members/{}", cat.user_id),
            &bob.access_token,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let promoted = app
        .client
        .patch(
            &format!("/api/chats/{id}/members/{}", bob.user_id),
            &ann.access_token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    assert_eq!(promoted.body["role"], "admin");
    let removed = app
        .client
        .delete(
            &format!("/api/chats/{id}/members/{}", cat.user_id),
            &bob.access_token,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app
        .client
        .get(&format!("/api/chats/{id}"), &cat.access_token)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let listed = app
        .client
        .get(&format!("/api/chats/{id}/members"), &ann.access_token)
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn admin_cannot_take_owner_role() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let id = app
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        )
        .await;
    app.client
        .patch(
            &format!("/api/chats/{id}/members/{}", bob.user_id),
            &ann.access_token,
            json!({"role": "admin"}),
        )
        .await;
    let grab = app
        .client
        .patch(
            &format!("/api/chats/{id}/members/{}", bob.user_id),
            &bob.access_token,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(grab.status, StatusCode::FORBIDDEN);
    let demote_owner = app
        .client
        .patch(
            &format!("/api/chats/{id}/members/{}", ann.user_id),
            &bob.access_token,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(demote_owner.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn last_owner_leaving_promotes_successor() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let id = app
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        )
        .await;
    let left = app
        .client
        .post(
            &format!("/api/chats/{id}/leave"),
            &ann.access_token,
            json!({}),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let members = app
        .client
        .get(&format!("/api/chats/{id}/members"), &bob.access_token)
        .await;
    let owners = members.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|member| member["role"] == "owner")
        .count();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn single_chat_cannot_be_left_or_grown() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let id = app
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let leave = app
        .client
        .post(
            &format!("/api/chats/{id}/leave"),
            &ann.access_token,
            json!({}),
        )
        .await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    let add = app
        .client
        .post(
            &format!("/api/chats/{id}/members"),
            &ann.access_token,
            json!({"user_ids": [cat.user_id]}),
        )
        .await;
    assert_eq!(add.status, StatusCode::CONFLICT);
}
