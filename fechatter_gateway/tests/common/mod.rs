//! Test harness: the gateway binary started on free ports with a generated configuration,
//! a stub upstream that records what reaches it, and access tokens (valid and forged).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fechatter_core::ids::{UserId, WorkspaceId};
use fechatter_core::jwt::{AccessIdentity, TokenSigner};
use fechatter_core::keys::{KeyPaths, ensure_dev_keys};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("free port")
}

/// Returns a unique Redis key prefix, so tests never share rate-limit counters.
pub fn redis_prefix() -> String {
    format!("fechatter-test:gateway:{}:", uuid::Uuid::new_v4().simple())
}

pub fn redis_url() -> String {
    fechatter_e2e::server::redis_url()
}

/// An Ed25519 key pair in a temporary folder.
pub struct Keys {
    pub dir: tempfile::TempDir,
    pub paths: KeyPaths,
}

impl Keys {
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("key dir");
        let paths = KeyPaths {
            private_key: dir.path().join("private.pem"),
            public_key: dir.path().join("public.pem"),
        };
        ensure_dev_keys(&paths).expect("generate keys");
        Self { dir, paths }
    }

    pub fn token(&self, user_id: i64, workspace_id: i64) -> String {
        self.token_with_lifetime(user_id, workspace_id, 900)
    }

    pub fn token_with_lifetime(
        &self,
        user_id: i64,
        workspace_id: i64,
        lifetime_secs: i64,
    ) -> String {
        TokenSigner::from_pem_file(&self.paths.private_key, lifetime_secs)
            .expect("signer")
            .sign(AccessIdentity {
                user_id: UserId(user_id),
                workspace_id: WorkspaceId(workspace_id),
                session_version: 1,
            })
            .expect("sign")
    }

    /// Signs `claims` as given with this key.
    pub fn token_with_claims(&self, claims: &Value) -> String {
        let pem = std::fs::read(&self.paths.private_key).expect("read private key");
        let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).expect("encoding key");
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            claims,
            &key,
        )
        .expect("encode")
    }

    /// Signs an HS256 token whose HMAC secret is this public key's PEM text (algorithm
    /// confusion).
    pub fn hmac_token_with_public_key(&self, claims: &Value) -> String {
        let pem = std::fs::read(&self.paths.public_key).expect("read public key");
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&pem),
        )
        .expect("encode")
    }
}

/// Valid access-token claims for user 7 in workspace 3, to alter one field at a time.
pub fn claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "7", "wid": 3, "sv": 1, "typ": "access",
        "iss": "fechatter", "aud": "fechatter-api", "iat": now, "exp": now + 600,
    })
}

/// Builds an unsigned token with `alg: none`.
pub fn alg_none_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// A running gateway process; killed when dropped.
pub struct Gateway {
    pub base: String,
    pub admin: String,
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    log: PathBuf,
}

/// Configuration of a gateway whose upstreams are `api` and `events`.
pub fn config(keys_public: &Path, api: &[String], events: &[String]) -> Value {
    json!({
        "auth": {"public_key_path": keys_public},
        "upstreams": {
            "api": {"addresses": api},
            "events": {"addresses": events},
        },
        "redis": {"url": redis_url(), "key_prefix": redis_prefix()},
        "static_files": {"dir": "/nonexistent/fechatter-test-dist"},
        "server": {"threads": 2},
    })
}

/// Merges `overlay` into `base`: objects key by key, everything else replaced.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, overlay) => *base = overlay,
    }
}

impl Gateway {
    /// Starts the gateway binary with `config` (listen and admin ports are added) and waits
    /// until `/health/live` returns 200.
    pub async fn start(mut config: Value) -> Self {
        let port = free_port();
        let admin_port = free_port();
        merge(
            &mut config,
            json!({"server": {
                "listen": [format!("127.0.0.1:{port}")],
                "admin_listen": format!("127.0.0.1:{admin_port}"),
            }}),
        );

        let dir = tempfile::tempdir().expect("gateway dir");
        let config_path = dir.path().join("gateway.yaml");
        // JSON is valid YAML.
        std::fs::write(&config_path, config.to_string()).expect("write config");

        let log = dir.path().join("gateway.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_fechatter_gateway"))
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .env_remove("FECHATTER_CONFIG")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log"))
            .stderr(log_file)
            .spawn()
            .expect("start fechatter_gateway");
        let mut gateway = Self {
            base: format!("http://127.0.0.1:{port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
            port,
            child: Some(child),
            dir,
            log,
        };
        gateway.wait_live().await;
        gateway
    }

    async fn wait_live(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.try_exit_status() {
                panic!(
                    "gateway exited with {status} before it was live:\n{}",
                    self.log_text()
                );
            }
            let live = client
                .get(format!("{}/health/live", self.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if live.is_ok_and(|response| response.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gateway not live within 20 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `/health/ready` returns 200 with the rate limiter connected.
    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = client
                .get(format!("{}/health/ready", self.base))
                .send()
                .await
                .expect("health request");
            let status = ready.status();
            let body: Value = ready.json().await.unwrap_or(Value::Null);
            if status == 200 && body["rate_limiter"] == "ok" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gateway not ready within 20 s: {status} {body}\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running gateway")
    }

    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.try_exit_status() {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- gateway log ---\n{}", self.log_text());
        }
    }
}

/// What one request to the stub upstream carried.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
pub struct StubState {
    requests: std::sync::Mutex<Vec<Seen>>,
    open_streams: AtomicUsize,
}

impl StubState {
    fn requests(&self) -> std::sync::MutexGuard<'_, Vec<Seen>> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An upstream that records every request except its health checks and responds with JSON
/// describing what it received. `/api/slow` responds after 2 s; `/events` is an SSE stream
/// that counts its open connections.
pub struct Stub {
    pub address: SocketAddr,
    pub state: Arc<StubState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Seen {
    fn of(request: &Request) -> Self {
        Self {
            method: request.method().to_string(),
            path_and_query: request
                .uri()
                .path_and_query()
                .map(|value| value.to_string())
                .unwrap_or_default(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        value.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        }
    }
}

struct StreamGuard(Arc<StubState>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn record(State(state): State<Arc<StubState>>, request: Request) -> Response {
    let seen = Seen::of(&request);
    state.requests().push(seen.clone());
    if seen.path_and_query.starts_with("/api/slow") {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    axum::Json(json!({
        "stub": true,
        "method": seen.method,
        "path": seen.path_and_query,
        "headers": seen.headers,
    }))
    .into_response()
}

async fn events(State(state): State<Arc<StubState>>, request: Request) -> Response {
    let seen = Seen::of(&request);
    state.requests().push(seen);
    state.open_streams.fetch_add(1, Ordering::SeqCst);
    let guard = StreamGuard(Arc::clone(&state));
    let stream = futures::stream::unfold((guard, 0u64), |(guard, n)| async move {
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let event = Event::default()
            .id(n.to_string())
            .event("tick")
            .data(json!({"n": n}).to_string());
        Some((Ok::<_, std::convert::Infallible>(event), (guard, n + 1)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

impl Stub {
    pub async fn start() -> Self {
        let state = Arc::new(StubState::default());
        let app = Router::new()
            .route("/health/ready", get(|| async { "ok" }))
            .route("/events", get(events))
            .fallback(any(record))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let address = listener.local_addr().expect("stub address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            address,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn addr(&self) -> String {
        self.address.to_string()
    }

    /// Requests recorded so far (health checks excluded).
    pub fn hits(&self) -> usize {
        self.state.requests().len()
    }

    pub fn last(&self) -> Seen {
        self.state
            .requests()
            .last()
            .cloned()
            .expect("the stub received a request")
    }

    pub fn open_streams(&self) -> usize {
        self.state.open_streams.load(Ordering::SeqCst)
    }

    /// Stops the stub: its listener closes at once and idle connections right after.
    pub async fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        wait_closed(self.address).await;
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Returns the status, headers and JSON body (or `Value::Null`) of a response.
pub async fn json_of(
    response: reqwest::Response,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Waits until nothing accepts connections at `address`.
pub async fn wait_closed(address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{address} still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
