//! The built web client served by the gateway: caching headers, client-side routes served
//! with `index.html`, and JSON (never `index.html`) for API, health and missing files.

mod common;

use std::time::Duration;

use common::{Gateway, Keys, Stub, config, json_of, merge};
use reqwest::StatusCode;
use serde_json::json;

const INDEX: &str = "<!doctype html><title>Fechatter</title><div id=app></div>";
const SCRIPT: &str = "console.log('fechatter');";

async fn gateway_with_dist() -> (Gateway, Stub, Keys, tempfile::TempDir) {
    let dist = tempfile::tempdir().expect("dist dir");
    std::fs::create_dir_all(dist.path().join("assets")).expect("assets dir");
    std::fs::write(dist.path().join("index.html"), INDEX).expect("index");
    std::fs::write(dist.path().join("assets/index-3f9a1c.js"), SCRIPT).expect("script");
    std::fs::write(dist.path().join("robots.txt"), "User-agent: *\n").expect("robots");
    let stub = Stub::start().await;
    let keys = Keys::generate();
    let mut settings = config(&keys.paths.public_key, &[stub.addr()], &[stub.addr()]);
    merge(&mut settings, json!({"static_files": {"dir": dist.path()}}));
    let gateway = Gateway::start(settings).await;
    (gateway, stub, keys, dist)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn files_carry_caching_headers() {
    let (gateway, stub, _keys, _dist) = gateway_with_dist().await;
    let http = reqwest::Client::new();

    let index = http.get(gateway.url("/")).send().await.expect("send");
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(header(&index, "cache-control"), "no-cache");
    assert!(header(&index, "content-type").starts_with("text/html"));
    assert!(header(&index, "content-security-policy").contains("default-src 'self'"));
    assert_eq!(header(&index, "x-frame-options"), "DENY");
    assert_eq!(header(&index, "x-content-type-options"), "nosniff");
    let last_modified = header(&index, "last-modified");
    assert!(!last_modified.is_empty());
    assert_eq!(index.text().await.expect("body"), INDEX);

    let script = http
        .get(gateway.url("/assets/index-3f9a1c.js"))
        .send()
        .await
        .expect("send");
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        header(&script, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&script, "content-type").contains("javascript"));
    assert_eq!(script.text().await.expect("body"), SCRIPT);

    let robots = http
        .get(gateway.url("/robots.txt"))
        .send()
        .await
        .expect("send");
    assert_eq!(robots.status(), StatusCode::OK);
    assert_eq!(header(&robots, "cache-control"), "no-cache");

    let unchanged = http
        .get(gateway.url("/index.html"))
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .expect("send");
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

    let head = http.head(gateway.url("/")).send().await.expect("send");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), INDEX.len().to_string());
    assert_eq!(stub.hits(), 0, "a file request reached the upstream");
}

#[tokio::test]
async fn client_routes_fall_back_to_index() {
    let (gateway, _stub, _keys, _dist) = gateway_with_dist().await;
    let http = reqwest::Client::new();
    for path in ["/chats/42", "/settings/profile", "/u/ann.lee"] {
        let page = http
            .get(gateway.url(path))
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .expect("send");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&page, "cache-control"), "no-cache", "{path}");
        assert_eq!(page.text().await.expect("body"), INDEX, "{path}");
    }
    for path in ["/assets/index-0000.js", "/missing.png"] {
        let (status, headers, body) =
            json_of(http.get(gateway.url(path)).send().await.expect("send")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let (status, _, body) = json_of(
        http.post(gateway.url("/chats/42"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn api_and_health_never_get_index() {
    let (gateway, _stub, keys, _dist) = gateway_with_dist().await;
    let http = reqwest::Client::new();
    for path in [
        "/health/ready",
        "/health/live",
        "/health/other",
        "/metrics",
        "/api/unknown/path",
    ] {
        let response = http
            .get(gateway.url(path))
            .header("accept", "text/html")
            .bearer_auth(keys.token(7, 3))
            .send()
            .await
            .expect("send");
        assert!(
            header(&response, "content-type").starts_with("application/json"),
            "{path}: {}",
            header(&response, "content-type")
        );
        let body = response.text().await.expect("body");
        assert!(!body.contains("<!doctype html>"), "{path} got index.html");
    }
}

#[tokio::test]
async fn missing_dist_gives_json_404() {
    let stub = Stub::start().await;
    let keys = Keys::generate();
    let mut settings = config(&keys.paths.public_key, &[stub.addr()], &[stub.addr()]);
    merge(
        &mut settings,
        json!({"static_files": {"dir": "/nonexistent/fechatter-dist"}}),
    );
    let gateway = Gateway::start(settings).await;
    let http = reqwest::Client::new();
    for path in ["/", "/chats/1", "/index.html"] {
        let (status, _, body) = json_of(
            http.get(gateway.url(path))
                .header("accept", "text/html")
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("not built")),
            "{path}: {body}"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let live = http
        .get(gateway.url("/health/live"))
        .send()
        .await
        .expect("send");
    assert_eq!(live.status(), StatusCode::OK);
}
