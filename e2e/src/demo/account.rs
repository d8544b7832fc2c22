//! REST calls of the replay: signup, invites, chats and tickets, with access token refresh.
//!
//! Unlike the test `Client`, every call returns an error instead of panicking, because the replay
//! runs as a command-line tool against servers it does not control.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Password of every replay user.
const PASSWORD: &str = "corpus replay password";

/// Limit on one REST request, so a stalled server fails a step instead of hanging the replay.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Status, headers and JSON body (`Value::Null` when the body is empty or not JSON) of a reply.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Describes an unexpected reply for an error message.
    pub fn describe(&self) -> String {
        format!("status {} with body {}", self.status, self.body)
    }
}

/// A signed-in replay user.
#[derive(Debug)]
pub struct Account {
    pub user_id: i64,
    tokens: Mutex<Tokens>,
}

#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

/// The REST API of one fechatter_server.
pub struct Api {
    base: String,
    http: reqwest::Client,
    refreshes: AtomicU64,
}

impl Api {
    /// Creates a client for the API at `base`, such as `http://127.0.0.1:6688`.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("failed to build the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            refreshes: AtomicU64::new(0),
        })
    }

    /// Number of token refreshes so far.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url} failed"))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("failed to read the reply body of {method} {url}"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Sends `POST path` as `account`. A 401 reply refreshes the account's tokens once and
    /// repeats the request, so a replay outlives the access token lifetime.
    pub async fn post(&self, account: &Account, path: &str, body: &Value) -> anyhow::Result<Reply> {
        let token = account.tokens.lock().await.access.clone();
        let reply = self
            .send(Method::POST, path, Some(&token), Some(body))
            .await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        self.refresh(account, &token).await?;
        let token = account.tokens.lock().await.access.clone();
        self.send(Method::POST, path, Some(&token), Some(body))
            .await
    }

    /// Replaces the tokens of `account` through `POST /api/refresh`, unless another task already
    /// replaced `rejected_access` while this one waited for the lock.
    async fn refresh(&self, account: &Account, rejected_access: &str) -> anyhow::Result<()> {
        let mut tokens = account.tokens.lock().await;
        if tokens.access != rejected_access {
            return Ok(());
        }
        let reply = self
            .send(
                Method::POST,
                "/api/refresh",
                None,
                Some(&json!({ "refresh_token": tokens.refresh })),
            )
            .await?;
        if reply.status != StatusCode::OK {
            bail!(
                "refreshing the tokens of user {} failed: {}",
                account.user_id,
                reply.describe()
            );
        }
        *tokens = Tokens {
            access: string_field(&reply.body, "access_token")?,
            refresh: string_field(&reply.body, "refresh_token")?,
        };
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(user_id = account.user_id, "refreshed access token");
        Ok(())
    }

    /// Signs up `email`, creating workspace `workspace_name`.
    pub async fn signup_owner(&self, email: &str, workspace_name: &str) -> anyhow::Result<Account> {
        let body = json!({
            "email": email,
            "password": PASSWORD,
            "fullname": email,
            "workspace_name": workspace_name,
        });
        self.signup(email, &body).await
    }

    /// Signs up `email` into the workspace of `owner` with a fresh invite code.
    pub async fn signup_invited(&self, owner: &Account, email: &str) -> anyhow::Result<Account> {
        let invite = self
            .post(owner, "/api/workspace/invites", &json!({}))
            .await?;
        if invite.status != StatusCode::CREATED {
            bail!("creating an invite code failed: {}", invite.describe());
        }
        let code = string_field(&invite.body, "code")?;
        let body = json!({
            "email": email,
            "password": PASSWORD,
            "fullname": email,
            "invite_code": code,
        });
        self.signup(email, &body).await
    }

    async fn signup(&self, email: &str, body: &Value) -> anyhow::Result<Account> {
        let reply = self
            .send(Method::POST, "/api/signup", None, Some(body))
            .await?;
        if reply.status != StatusCode::CREATED {
            bail!("signup of {email} failed: {}", reply.describe());
        }
        let user_id = reply.body["user"]["id"]
            .as_i64()
            .with_context(|| format!("signup reply has no user.id: {}", reply.body))?;
        Ok(Account {
            user_id,
            tokens: Mutex::new(Tokens {
                access: string_field(&reply.body, "access_token")?,
                refresh: string_field(&reply.body, "refresh_token")?,
            }),
        })
    }

    /// Creates a chat as `creator` and returns its id.
    pub async fn create_chat(&self, creator: &Account, request: &Value) -> anyhow::Result<i64> {
        let reply = self.post(creator, "/api/chats", request).await?;
        if reply.status != StatusCode::CREATED {
            bail!("creating chat {request} failed: {}", reply.describe());
        }
        reply.body["id"]
            .as_i64()
            .with_context(|| format!("chat reply has no id: {}", reply.body))
    }

    /// Joins public channel `chat_id` as `account`.
    pub async fn join_chat(&self, account: &Account, chat_id: i64) -> anyhow::Result<()> {
        let reply = self
            .post(account, &format!("/api/chats/{chat_id}/join"), &json!({}))
            .await?;
        if !reply.status.is_success() {
            bail!(
                "user {} joining chat {chat_id} failed: {}",
                account.user_id,
                reply.describe()
            );
        }
        Ok(())
    }

    /// Issues a one-time ticket that opens an event stream for `account`.
    pub async fn ticket(&self, account: &Account) -> anyhow::Result<String> {
        let reply = self.post(account, "/api/events/ticket", &json!({})).await?;
        if reply.status != StatusCode::OK {
            bail!(
                "issuing a stream ticket for user {} failed: {}",
                account.user_id,
                reply.describe()
            );
        }
        string_field(&reply.body, "ticket")
    }
}

fn string_field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("reply has no string field {name}: {body}"))
}
