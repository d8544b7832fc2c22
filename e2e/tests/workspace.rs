//! Profile, workspace users, roles and invites.

use fechatter_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn me_update_changes_profile() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("lee@example.com", "L").await;
    let reply = app
        .client
        .patch(
            "/api/users/me",
            &session.access_token,
            json!({"fullname": "Lee Chen", "username": "lee.c", "avatar_url": "https://img.example/lee.png"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["fullname"], "Lee Chen");
    assert_eq!(reply.body["username"], "lee.c");
    assert_eq!(reply.body["avatar_url"], "https://img.example/lee.png");
}

#[tokio::test]
async fn me_update_rejects_taken_username() {
    let app = TestApp::spawn().await;
    let owner = app.client.signup("max@example.com", "M").await;
    let member = app.client.join(&owner, "nia@example.com").await;
    let reply = app
        .client
        .patch(
            "/api/users/me",
            &member.access_token,
            json!({"username": "MAX"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "already_exists");
}

#[tokio::test]
async fn workspace_users_paginate() {
    let app = TestApp::spawn().await;
    let owner = app.client.signup("o@example.com", "O").await;
    for i in 0..3 {
        app.client.join(&owner, &format!("u{i}@example.com")).await;
    }
    let first = app
        .client
        .get("/api/workspace/users?limit=2", &owner.access_token)
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(2));
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let second = app
        .client
        .get(
            &format!("/api/workspace/users?limit=2&cursor={cursor}"),
            &owner.access_token,
        )
        .await;
    assert_eq!(second.body["items"].as_array().map(Vec::len), Some(2));
    assert!(second.body["next_cursor"].is_null());
}

#[tokio::test]
async fn workspace_users_hide_other_workspaces() {
    let app = TestApp::spawn().await;
    let one = app.client.signup("a@one.example", "One").await;
    app.client.signup("b@two.example", "Two").await;
    let reply = app
        .client
        .get("/api/workspace/users", &one.access_token)
        .await;
    let emails: Vec<&str> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|user| user["email"].as_str())
        .collect();
    assert_eq!(emails, vec!["a@one.example"]);
}

#[tokio::test]
async fn roles_set_by_owner_only() {
    let app = TestApp::spawn().await;
    let owner = app.client.signup("p@example.com", "P").await;
    let member = app.client.join(&owner, "q@example.com").await;
    let denied = app
        .client
        .patch(
            &format!("/api/workspace/users/{}", owner.user_id),
            &member.access_token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let promoted = app
        .client
        .patch(
            &format!("/api/workspace/users/{}", member.user_id),
            &owner.access_token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    assert_eq!(promoted.body["role"], "admin");
    let invite = app
        .client
        .post("/api/workspace/invites", &member.access_token, json!({}))
        .await;
    assert_eq!(invite.status, StatusCode::CREATED);
}

#[tokio::test]
async fn invites_need_admin() {
    let app = TestApp::spawn().await;
    let owner = app.client.signup("r@example.com", "R").await;
    let member = app.client.join(&owner, "s@example.com").await;
    let reply = app
        .client
        .post("/api/workspace/invites", &member.access_token, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn role_of_other_workspace_user_is_not_found() {
    let app = TestApp::spawn().await;
    let one = app.client.signup("t@one.example", "One").await;
    let two = app.client.signup("u@two.example", "Two").await;
    let reply = app
        .client
        .patch(
            &format!("/api/workspace/users/{}", two.user_id),
            &one.access_token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
