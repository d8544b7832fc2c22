//! Sign-up, sign-in, token rotation and session ending.

use fechatter_e2e::TestApp;
use fechatter_e2e::api::PASSWORD;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signup_creates_owner_and_workspace() {
    let app = TestApp::spawn().await;
    let reply = app
        .client
        .post_public(
            "/api/signup",
            json!({"email": "Alice@Example.com", "password": PASSWORD, "fullname": "Alice", "workspace_name": "Acme"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["user"]["email"], "alice@example.com");
    assert_eq!(reply.body["user"]["username"], "alice");
    assert_eq!(reply.body["user"]["role"], "owner");
    assert_eq!(reply.body["workspace"]["name"], "Acme");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
}

#[tokio::test]
async fn signup_rejects_taken_email_case_insensitively() {
    let app = TestApp::spawn().await;
    app.client.signup("bob@example.com", "One").await;
    let reply = app
        .client
        .post_public(
            "/api/signup",
            json!({"email": "BOB@example.com", "password": PASSWORD, "fullname": "Bob", "workspace_name": "Two"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "already_exists");
}

#[tokio::test]
async fn signup_validates_fields() {
    let app = TestApp::spawn().await;
    let reply = app
        .client
        .post_public(
            "/api/signup",
            json!({"email": "nope", "password": "short", "fullname": " ", "workspace_name": "W"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &reply.body["error"]["details"]["fields"];
    assert!(fields["email"].is_array());
    assert!(fields["password"].is_array());
    assert!(fields["fullname"].is_array());
}

#[tokio::test]
async fn signup_with_invite_joins_workspace_and_dedups_username() {
    let app = TestApp::spawn().await;
    let owner = app.client.signup("sam@one.example", "One").await;
    let joined = app.client.join(&owner, "sam@two.example").await;
    assert_eq!(joined.workspace_id, owner.workspace_id);
    assert_eq!(joined.username, "sam2");
}

#[tokio::test]
async fn signup_rejects_unknown_invite() {
    let app = TestApp::spawn().await;
    let reply = app
        .client
        .post_public(
            "/api/signup",
            json!({"email": "eve@example.com", "password": PASSWORD, "fullname": "Eve", "invite_code": "guess"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body["error"]["details"]["fields"]["invite_code"].is_array());
}

#[tokio::test]
async fn signup_closed_without_open_signup() {
    let app = TestApp::spawn_with(|config| config.auth.open_signup = false).await;
    let reply = app
        .client
        .post_public(
            "/api/signup",
            json!({"email": "x@example.com", "password": PASSWORD, "fullname": "X", "workspace_name": "W"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn signin_accepts_right_and_rejects_wrong_password() {
    let app = TestApp::spawn().await;
    app.client.signup("carol@example.com", "C").await;
    let ok = app
        .client
        .post_public(
            "/api/signin",
            json!({"email": "CAROL@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body["access_token"].is_string());
    let wrong = app
        .client
        .post_public(
            "/api/signin",
            json!({"email": "carol@example.com", "password": "wrong password!"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "unauthorized");
}

#[tokio::test]
async fn signin_rate_limited_per_email() {
    let app = TestApp::spawn_with(|config| config.limits.signin_attempts = 3).await;
    app.client.signup("dave@example.com", "D").await;
    for _ in 0..3 {
        let reply = app
            .client
            .post_public(
                "/api/signin",
                json!({"email": "dave@example.com", "password": "wrong password!"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let limited = app
        .client
        .post_public(
            "/api/signin",
            json!({"email": "dave@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn refresh_rotates_token() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("erin@example.com", "E").await;
    let first = app
        .client
        .post_public(
            "/api/refresh",
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let rotated = first.body["refresh_token"].as_str().expect("new token");
    assert_ne!(rotated, session.refresh_token);
    let second = app
        .client
        .post_public("/api/refresh", json!({"refresh_token": rotated}))
        .await;
    assert_eq!(second.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_twice_at_once_returns_same_pair() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("tabs@example.com", "T").await;
    let body = json!({"refresh_token": session.refresh_token});
    let (a, b) = tokio::join!(
        app.client.post_public("/api/refresh", body.clone()),
        app.client.post_public("/api/refresh", body.clone())
    );
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(a.body["refresh_token"], b.body["refresh_token"]);
    let me = app
        .client
        .get(
            "/api/users/me",
            b.body["access_token"].as_str().expect("access"),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_reuse_after_grace_revokes_family() {
    let app = TestApp::spawn_with(|config| config.auth.refresh_grace_secs = 1).await;
    let session = app.client.signup("frank@example.com", "F").await;
    let rotated = app
        .client
        .post_public(
            "/api/refresh",
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    let successor = rotated.body["refresh_token"]
        .as_str()
        .expect("successor")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let reuse = app
        .client
        .post_public(
            "/api/refresh",
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    let successor_reply = app
        .client
        .post_public("/api/refresh", json!({"refresh_token": successor}))
        .await;
    assert_eq!(successor_reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_revokes_refresh_token() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("gina@example.com", "G").await;
    let logout = app
        .client
        .post_public(
            "/api/logout",
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let refresh = app
        .client
        .post_public(
            "/api/refresh",
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_all_cuts_off_access_token() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("hank@example.com", "H").await;
    let reply = app
        .client
        .post("/api/logout-all", &session.access_token, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let me = app.client.get("/api/users/me", &session.access_token).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let refresh = app
        .client
        .post_public(
            "/api/refresh",
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_change_cuts_off_old_sessions() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("ivy@example.com", "I").await;
    let other = app
        .client
        .post_public(
            "/api/signin",
            json!({"email": "ivy@example.com", "password": PASSWORD}),
        )
        .await;
    let other_token = other.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let wrong = app
        .client
        .post(
            "/api/users/me/password",
            &session.access_token,
            json!({"current_password": "not the password", "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body["error"]["details"]["fields"]["current_password"].is_array());
    let changed = app
        .client
        .post(
            "/api/users/me/password",
            &session.access_token,
            json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let fresh = changed.body["access_token"].as_str().expect("fresh token");
    assert_eq!(
        app.client.get("/api/users/me", &other_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client
            .get("/api/users/me", &session.access_token)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client.get("/api/users/me", fresh).await.status,
        StatusCode::OK
    );
    let signin = app
        .client
        .post_public(
            "/api/signin",
            json!({"email": "ivy@example.com", "password": "a brand new secret"}),
        )
        .await;
    assert_eq!(signin.status, StatusCode::OK);
}

#[tokio::test]
async fn tokens_rejected_when_tampered_or_missing() {
    let app = TestApp::spawn().await;
    let session = app.client.signup("jo@example.com", "J").await;
    let mut tampered = session.access_token.clone();
    tampered.push('x');
    for token in [tampered.as_str(), "not-a-jwt", ""] {
        let reply = app.client.get("/api/users/me", token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "token {token:?}");
        assert_eq!(reply.code(), "unauthorized");
    }
    let missing = app
        .client
        .send(reqwest::Method::GET, "/api/users/me", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_from_other_key_rejected() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let session = other.client.signup("kim@example.com", "K").await;
    let reply = app.client.get("/api/users/me", &session.access_token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}
