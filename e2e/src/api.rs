//! A thin HTTP client for the REST API that returns status and JSON, so tests assert on both.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: i64,
    pub workspace_id: i64,
    pub email: String,
    pub username: String,
}

/// Status and parsed JSON body (`Value::Null` when the body is empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Returns the `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl Client {
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send request");
        Self::reply(response).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(Method::DELETE, path, Some(token), None).await
    }

    pub async fn post_public(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, None, Some(body)).await
    }

    /// Creates a chat from a `POST /api/chats` body and returns its id; panics unless the server
    /// returns 201 (or 200 for an existing direct message).
    pub async fn create_chat(&self, owner: &Session, body: Value) -> i64 {
        let reply = self.post("/api/chats", &owner.access_token, body).await;
        assert!(
            reply.status == StatusCode::CREATED || reply.status == StatusCode::OK,
            "create chat failed: {:?}",
            reply.body
        );
        reply.body["id"].as_i64().expect("chat id")
    }

    /// Signs up `email` creating workspace `workspace`; panics unless it succeeds.
    pub async fn signup(&self, email: &str, workspace: &str) -> Session {
        let reply = self
            .post_public(
                "/api/signup",
                json!({"email": email, "password": PASSWORD, "fullname": email, "workspace_name": workspace}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "signup failed: {:?}",
            reply.body
        );
        session_from(email, &reply.body)
    }

    /// Signs up `email` into the workspace of `inviter` through a fresh invite code.
    pub async fn join(&self, inviter: &Session, email: &str) -> Session {
        let invite = self
            .post("/api/workspace/invites", &inviter.access_token, json!({}))
            .await;
        assert_eq!(
            invite.status,
            StatusCode::CREATED,
            "invite failed: {:?}",
            invite.body
        );
        let code = invite.body["code"].as_str().expect("invite code");
        let reply = self
            .post_public(
                "/api/signup",
                json!({"email": email, "password": PASSWORD, "fullname": email, "invite_code": code}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "signup failed: {:?}",
            reply.body
        );
        session_from(email, &reply.body)
    }
}

pub fn session_from(email: &str, body: &Value) -> Session {
    Session {
        access_token: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh_token: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        user_id: body["user"]["id"].as_i64().expect("user.id"),
        workspace_id: body["workspace"]["id"].as_i64().expect("workspace.id"),
        email: email.to_owned(),
        username: body["user"]["username"]
            .as_str()
            .expect("username")
            .to_owned(),
    }
}
