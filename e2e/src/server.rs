//! Starting the API server for a test.

use std::net::SocketAddr;

use fechatter_server::config::Config;
use sqlx::{Connection, PgConnection};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::api::Client;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub fn admin_database_url() -> String {
    env_or(
        "FECHATTER_TEST_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

pub fn redis_url() -> String {
    env_or("FECHATTER_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

pub fn nats_url() -> String {
    env_or("FECHATTER_TEST_NATS_URL", "nats://127.0.0.1:4222")
}

/// Creates an empty database and returns its URL.
pub async fn create_database(name: &str) -> anyhow::Result<String> {
    let admin = admin_database_url();
    let mut conn = PgConnection::connect(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .ok_or_else(|| anyhow::anyhow!("FECHATTER_TEST_DATABASE_URL has no database name"))?;
    Ok(format!("{base}/{name}"))
}

static STALE_STREAMS_REMOVED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Deletes test streams older than an hour from the shared NATS server, so repeated runs do not
/// pile them up. Runs once per test process; younger streams may belong to a run in progress.
async fn remove_stale_streams() {
    use futures::StreamExt;

    let Ok(client) = async_nats::connect(nats_url()).await else {
        return;
    };
    let context = async_nats::jetstream::new(client);
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut stale = Vec::new();
    let mut streams = context.streams();
    while let Some(Ok(info)) = streams.next().await {
        if info.config.name.starts_with("FECHATTER_TEST_") && info.created < cutoff {
            stale.push(info.config.name);
        }
    }
    for name in stale {
        let _ = context.delete_stream(&name).await;
    }
}

/// Configuration isolated for one test: fresh database, unique stream, subjects and Redis keys,
/// generous per-account limits (every test request comes from one address).
pub async fn isolated_config(keys: &tempfile::TempDir) -> anyhow::Result<Config> {
    STALE_STREAMS_REMOVED
        .get_or_init(remove_stale_streams)
        .await;
    let id = Uuid::new_v4().simple().to_string();
    let short = &id[..12];
    let mut config = Config::default();
    config.server.port = 0;
    config.database.url = create_database(&format!("fechatter_test_{short}")).await?;
    config.database.max_connections = 10;
    config.redis.url = redis_url();
    config.redis.key_prefix = format!("fechatter-test:{short}:");
    config.nats.url = nats_url();
    config.nats.stream = format!("FECHATTER_TEST_{short}");
    config.nats.subject_prefix = format!("fechatter_test_{short}");
    config.auth.private_key_path = keys.path().join("private.pem");
    config.auth.public_key_path = keys.path().join("public.pem");
    config.limits.signin_attempts = 1000;
    config.limits.messages_per_chat = 100_000;
    config.relay.instance_id = short.to_owned();
    config.relay.stream_max_age_hours = 1;
    Ok(config)
}

/// A running API server for one test; stops when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub config: Config,
    pub client: Client,
    pub keys: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed the isolated configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let keys = tempfile::tempdir().expect("create key dir");
        let mut config = isolated_config(&keys).await.expect("isolated config");
        adjust(&mut config);
        Self::start(config, keys).await
    }

    pub async fn start(config: Config, keys: tempfile::TempDir) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let server = fechatter_server::spawn(config.clone(), async {
            let _ = stopped.await;
        })
        .await
        .expect("start fechatter_server");
        let addr = server.addr;
        Self {
            addr,
            config,
            client: Client::new(format!("http://{addr}")),
            keys,
            stop: Some(stop),
        }
    }
}

impl TestApp {
    /// Opens a connection pool to the test's database, for checks the API does not expose.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.config.database.url)
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The API server and notify_server of one test, sharing its isolated configuration.
pub struct Stack {
    pub api: TestApp,
    pub notify_base: String,
    stop_notify: Option<oneshot::Sender<()>>,
}

impl Stack {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let api = TestApp::spawn_with(adjust).await;
        let (notify_base, stop_notify) = start_notify(&api).await;
        Self {
            api,
            notify_base,
            stop_notify: Some(stop_notify),
        }
    }

    /// Stops notify_server and starts a fresh instance, as after a crash or deploy.
    pub async fn restart_notify(&mut self) {
        if let Some(stop) = self.stop_notify.take() {
            let _ = stop.send(());
        }
        let (notify_base, stop_notify) = start_notify(&self.api).await;
        self.notify_base = notify_base;
        self.stop_notify = Some(stop_notify);
    }

    /// Issues a one-time SSE ticket for `session`.
    pub async fn ticket(&self, session: &crate::Session) -> String {
        let reply = self
            .api
            .client
            .post(
                "/api/events/ticket",
                &session.access_token,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(
            reply.status,
            reqwest::StatusCode::OK,
            "ticket: {:?}",
            reply.body
        );
        reply.body["ticket"].as_str().expect("ticket").to_owned()
    }

    /// Opens an event stream for `session` with a fresh ticket and waits for its `ready` frame.
    pub async fn listen(
        &self,
        session: &crate::Session,
    ) -> (crate::EventStream, serde_json::Value) {
        self.resume(session, None, false).await
    }

    /// Opens a stream resuming after `position`, sent as the header or the query parameter.
    pub async fn resume(
        &self,
        session: &crate::Session,
        position: Option<u64>,
        header: bool,
    ) -> (crate::EventStream, serde_json::Value) {
        let ticket = self.ticket(session).await;
        let mut stream = crate::EventStream::open(
            &self.notify_base,
            crate::events::Credentials::Ticket(&ticket),
            position,
            header,
        )
        .await;
        let ready = stream
            .next_within(std::time::Duration::from_secs(5))
            .await
            .expect("ready frame");
        assert_eq!(ready.event, "ready");
        (stream, ready.data)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_notify.take() {
            let _ = stop.send(());
        }
    }
}

/// notify_server configuration matching an API server's isolated configuration.
pub fn notify_config(api: &Config) -> notify_server::config::Config {
    let mut config = notify_server::config::Config::default();
    config.server.port = 0;
    config.database.url = api.database.url.clone();
    config.database.max_connections = 5;
    config.redis = api.redis.clone();
    config.nats = api.nats.clone();
    config.auth.public_key_path = api.auth.public_key_path.clone();
    config.delivery.stream_max_age_hours = api.relay.stream_max_age_hours;
    config.presence.ttl_secs = 4;
    config.presence.refresh_secs = 1;
    config
}

async fn start_notify(api: &TestApp) -> (String, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = notify_server::spawn(notify_config(&api.config), async {
        let _ = stopped.await;
    })
    .await
    .expect("start notify_server");
    (format!("http://{}", server.addr), stop)
}
