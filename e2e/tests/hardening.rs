//! Cases found by breaking the chat core on purpose: races with membership changes, resume
//! positions the stream never had, a recreated stream, and inputs at the edges.

use std::time::Duration;

use fechatter_e2e::events::Credentials;
use fechatter_e2e::{EventStream, Stack, TestApp};
use reqwest::StatusCode;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn send_waiting_on_lock_sees_removal() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let cat = app.client.join(&ann, "cat@example.com").await;
    let chat = app
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        )
        .await;
    let pool = app.pool().await;
    let mut blocker = pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE")
        .bind(chat)
        .execute(&mut *blocker)
        .await
        .expect("lock chat");
    let client = app.client.clone();
    let token = bob.access_token.clone();
    let send = tokio::spawn(async move {
        client
            .post(
                &format!("/api/chats/{chat}/messages"),
                &token,
                json!({"content": "too late"}),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
        .bind(chat)
        .bind(bob.user_id)
        .execute(&mut *blocker)
        .await
        .expect("remove member");
    blocker.commit().await.expect("commit");
    let reply = send.await.expect("send task");
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE chat_id = $1")
        .bind(chat)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn former_member_cannot_edit_or_delete() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let dan = app.client.join(&ann, "dan@example.com").await;
    let chat = app
        .client
        .create_chat(&ann, json!({"chat_type": "public_channel", "name": "open"}))
        .await;
    app.client
        .post(
            &format!("/api/chats/{chat}/join"),
            &dan.access_token,
            json!({}),
        )
        .await;
    let sent = app
        .client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &dan.access_token,
            json!({"content": "mine"}),
        )
        .await;
    let message = sent.body["id"].as_i64().expect("message id");
    let left = app
        .client
        .post(
            &format!("/api/chats/{chat}/leave"),
            &dan.access_token,
            json!({}),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let path = format!("/api/chats/{chat}/messages/{message}");
    let edit = app
        .client
        .patch(&path, &dan.access_token, json!({"content": "rewritten"}))
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    let delete = app.client.delete(&path, &dan.access_token).await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    let list = app
        .client
        .get(&format!("/api/chats/{chat}/messages"), &ann.access_token)
        .await;
    assert_eq!(list.body["items"][0]["content"], "mine");
}

#[tokio::test]
async fn direct_message_cannot_be_archived() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let chat = app
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let reply = app
        .client
        .delete(&format!("/api/chats/{chat}"), &ann.access_token)
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn ownerless_channel_gets_next_joiner_as_owner() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let chat = app
        .client
        .create_chat(&ann, json!({"chat_type": "public_channel", "name": "solo"}))
        .await;
    app.client
        .post(
            &format!("/api/chats/{chat}/leave"),
            &ann.access_token,
            json!({}),
        )
        .await;
    app.client
        .post(
            &format!("/api/chats/{chat}/join"),
            &bob.access_token,
            json!({}),
        )
        .await;
    let renamed = app
        .client
        .patch(
            &format!("/api/chats/{chat}"),
            &bob.access_token,
            json!({"name": "bobs"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
}

#[tokio::test]
async fn edge_inputs_rejected_with_field_errors() {
    let app = TestApp::spawn().await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let cases = [
        (
            "/api/signup",
            json!({"email": "n@example.com", "password": "correct horse battery", "fullname": "N", "invite_code": "a\u{0}b"}),
            "invite_code",
        ),
        (
            "/api/signup",
            json!({"email": "all@example.com", "password": "correct horse battery", "fullname": "A", "workspace_name": "W", "username": "all"}),
            "username",
        ),
        (
            "/api/signup",
            json!({"email": "d@example.com", "password": "correct horse battery", "fullname": "x\u{202E}y", "workspace_name": "W"}),
            "fullname",
        ),
    ];
    for (path, body, field) in cases {
        let reply = app.client.post_public(path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {:?}",
            reply.body
        );
        assert!(
            reply.body["error"]["details"]["fields"][field].is_array(),
            "{field}"
        );
    }
    let dot = app
        .client
        .patch("/api/users/me", &ann.access_token, json!({"username": "."}))
        .await;
    assert_eq!(dot.status, StatusCode::UNPROCESSABLE_ENTITY);
    let chat = app
        .client
        .create_chat(&ann, json!({"chat_type": "public_channel", "name": "c"}))
        .await;
    let window = app
        .client
        .get(
            &format!("/api/chats/{chat}/messages?after=5&before=2"),
            &ann.access_token,
        )
        .await;
    assert_eq!(window.status, StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<i64> = (1..=1001).collect();
    let big = app
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "group", "members": many}),
        )
        .await;
    assert_eq!(big.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn resume_beyond_stream_end_sends_resync() {
    let stack = Stack::spawn().await;
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let dm = stack
        .api
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let chat = dm.body["id"].as_i64().expect("chat id");
    let (mut stream, _) = stack.resume(&bob, Some(1_000_000), true).await;
    let resync = stream.expect("resync", WAIT).await;
    assert_eq!(resync.data["reason"], "position_unknown");
    stack
        .api
        .client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &ann.access_token,
            json!({"content": "live"}),
        )
        .await;
    let live = stream.expect("message.created", WAIT).await;
    assert_eq!(live.data["message"]["content"], "live");
}

#[tokio::test]
async fn recreated_stream_resets_positions() {
    let stack = Stack::spawn().await;
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let dm = stack
        .api
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let chat = dm.body["id"].as_i64().expect("chat id");
    let send = |text: &'static str| {
        let client = stack.api.client.clone();
        let token = ann.access_token.clone();
        async move {
            client
                .post(
                    &format!("/api/chats/{chat}/messages"),
                    &token,
                    json!({"content": text}),
                )
                .await
        }
    };
    let (mut stream, _) = stack.listen(&bob).await;
    for text in ["one", "two", "three"] {
        send(text).await;
    }
    let mut last_id = 0;
    for _ in 0..3 {
        last_id = stream
            .expect("message.created", WAIT)
            .await
            .id
            .parse()
            .expect("id");
    }
    let client = async_nats::connect(stack.api.config.nats.url.as_str())
        .await
        .expect("nats");
    let context = async_nats::jetstream::new(client);
    context
        .delete_stream(&stack.api.config.nats.stream)
        .await
        .expect("delete stream");
    send("after loss").await;
    // The open stream ends once notify notices the new stream.
    assert!(
        stream.wait_closed(Duration::from_secs(30)).await,
        "stream stayed open after the reset"
    );
    let mut resumed = None;
    for _ in 0..20 {
        let ticket = stack.ticket(&bob).await;
        let attempt = EventStream::try_open(
            &stack.notify_base,
            Credentials::Ticket(&ticket),
            Some(last_id),
            true,
        )
        .await;
        if let Ok(stream) = attempt {
            resumed = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut resumed = resumed.expect("reconnect after the reset");
    resumed.expect("resync", WAIT).await;
    send("fresh").await;
    let fresh = resumed.expect("message.created", WAIT).await;
    assert_eq!(fresh.data["message"]["content"], "fresh");
}

#[tokio::test]
async fn streams_per_user_are_capped() {
    let stack = Stack::spawn().await;
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(stack.listen(&ann).await.0);
    }
    let ticket = stack.ticket(&ann).await;
    let extra = EventStream::try_open(
        &stack.notify_base,
        Credentials::Ticket(&ticket),
        None,
        false,
    )
    .await;
    let Err((status, body)) = extra else {
        panic!("stream over the cap accepted");
    };
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("rate_limited"), "body {body}");
}

#[tokio::test]
async fn typing_is_rate_limited() {
    let app = TestApp::spawn_with(|config| config.limits.typing_per_chat = 2).await;
    let ann = app.client.signup("ann@example.com", "Team").await;
    let bob = app.client.join(&ann, "bob@example.com").await;
    let chat = app
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    let path = format!("/api/chats/{chat}/typing");
    for _ in 0..2 {
        assert_eq!(
            app.client
                .post(&path, &ann.access_token, json!({}))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
    }
    let limited = app.client.post(&path, &ann.access_token, json!({})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
}
