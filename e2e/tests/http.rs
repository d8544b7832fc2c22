//! Error shapes for malformed requests, health checks, metrics and the OpenAPI document.

use fechatter_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .http
        .post(app.client.url("/api/signin"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    let reply = fechatter_e2e::Client::reply(response).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_request");
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_are_invalid_request() {
    let app = TestApp::spawn().await;
    for body in [
        json!({"email": 5, "password": "x"}),
        json!({"email": "a@b.c", "password": "xxxxxxxxxxxx", "extra": true}),
        json!([]),
    ] {
        let reply = app.client.post_public("/api/signin", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "body {body}");
        assert_eq!(reply.code(), "invalid_request");
    }
}

#[tokio::test]
async fn missing_content_type_is_unsupported() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .http
        .post(app.client.url("/api/signin"))
        .body(r#"{"email":"a@b.c","password":"x"}"#)
        .send()
        .await
        .expect("send");
    let reply = fechatter_e2e::Client::reply(response).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.code(), "unsupported_media_type");
}

#[tokio::test]
async fn oversized_body_is_payload_too_large() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(200_000);
    let reply = app
        .client
        .post_public("/api/signin", json!({"email": huge, "password": "x"}))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code(), "payload_too_large");
}

#[tokio::test]
async fn unknown_route_and_method_use_error_shape() {
    let app = TestApp::spawn().await;
    let missing = app
        .client
        .send(reqwest::Method::GET, "/api/nothing", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");
    let method = app
        .client
        .send(reqwest::Method::GET, "/api/signin", None, None)
        .await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(method.code(), "method_not_allowed");
}

#[tokio::test]
async fn health_ready_reports_backends() {
    let app = TestApp::spawn().await;
    let live = app
        .client
        .send(reqwest::Method::GET, "/health/live", None, None)
        .await;
    assert_eq!(live.status, StatusCode::OK);
    let ready = app
        .client
        .send(reqwest::Method::GET, "/health/ready", None, None)
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["postgres"], "ok");
    assert_eq!(ready.body["redis"], "ok");
}

#[tokio::test]
async fn request_id_is_returned() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .http
        .get(app.client.url("/health/live"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("send");
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn metrics_expose_request_counter() {
    let app = TestApp::spawn().await;
    app.client
        .send(reqwest::Method::GET, "/health/live", None, None)
        .await;
    let text = app
        .client
        .http
        .get(app.client.url("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("http_requests_total"), "metrics: {text}");
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let app = TestApp::spawn().await;
    let doc = app
        .client
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().expect("paths");
    for path in [
        "/api/signup",
        "/api/signin",
        "/api/refresh",
        "/api/logout",
        "/api/logout-all",
        "/api/users/me",
        "/api/users/me/password",
        "/api/workspace",
        "/api/workspace/users",
        "/api/workspace/users/{user_id}",
        "/api/workspace/invites",
        "/api/chats",
        "/api/chats/public",
        "/api/chats/{chat_id}",
        "/api/chats/{chat_id}/join",
        "/api/chats/{chat_id}/leave",
        "/api/chats/{chat_id}/members",
        "/api/chats/{chat_id}/members/{user_id}",
        "/api/chats/{chat_id}/messages",
        "/api/chats/{chat_id}/messages/{message_id}",
        "/api/chats/{chat_id}/messages/{message_id}/history",
        "/api/chats/{chat_id}/read",
        "/api/chats/{chat_id}/typing",
        "/api/events/ticket",
        "/health/live",
        "/health/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
}

#[tokio::test]
async fn docs_page_served() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .http
        .get(app.client.url("/api/docs/"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("text");
    assert!(html.contains("swagger"), "docs page: {html}");
}
