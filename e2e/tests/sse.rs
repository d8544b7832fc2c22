//! Real-time delivery: outbox, relay, notify_server, resume and presence.

use std::time::Duration;

use fechatter_e2e::events::Credentials;
use fechatter_e2e::{EventStream, Session, Stack};
use reqwest::StatusCode;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(1500);

async fn pair(stack: &Stack) -> (Session, Session, i64) {
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let chat = stack
        .api
        .client
        .create_chat(
            &ann,
            json!({"chat_type": "single", "members": [bob.user_id]}),
        )
        .await;
    (ann, bob, chat)
}

async fn send(stack: &Stack, who: &Session, chat: i64, text: &str) -> i64 {
    let reply = stack
        .api
        .client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &who.access_token,
            json!({"content": text}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "send: {:?}", reply.body);
    reply.body["seq"].as_i64().expect("seq")
}

fn contents(frames: &[fechatter_e2e::events::Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|frame| frame.event == "message.created")
        .filter_map(|frame| frame.data["message"]["content"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn message_reaches_every_connection_of_member() {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let (mut tab1, ready) = stack.listen(&bob).await;
    let (mut tab2, _) = stack.listen(&bob).await;
    assert!(ready["last_event_id"].is_u64());
    send(&stack, &ann, chat, "hello bob").await;
    for tab in [&mut tab1, &mut tab2] {
        let frame = tab.expect("message.created", WAIT).await;
        assert!(!frame.id.is_empty());
        assert_eq!(frame.data["chat_id"], chat);
        assert_eq!(frame.data["kind"], "message.created");
        assert_eq!(frame.data["message"]["content"], "hello bob");
        assert_eq!(frame.data["message"]["seq"], 1);
        assert!(frame.data["event_id"].is_i64());
    }
}

#[tokio::test]
async fn nothing_reaches_non_members() {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let cat = stack.api.client.join(&ann, "cat@example.com").await;
    let stranger = stack.api.client.signup("zed@other.example", "Other").await;
    let (mut cat_stream, _) = stack.listen(&cat).await;
    let (mut stranger_stream, _) = stack.listen(&stranger).await;
    let (mut bob_stream, _) = stack.listen(&bob).await;
    send(&stack, &ann, chat, "private words").await;
    bob_stream.expect("message.created", WAIT).await;
    assert!(cat_stream.collect_events(QUIET).await.is_empty());
    assert!(stranger_stream.collect_events(QUIET).await.is_empty());
}

#[tokio::test]
async fn resume_with_header_gets_missed_events_once() {
    resume_after_gap(true).await;
}

#[tokio::test]
async fn resume_with_query_gets_missed_events_once() {
    resume_after_gap(false).await;
}

async fn resume_after_gap(header: bool) {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let (mut stream, _) = stack.listen(&bob).await;
    send(&stack, &ann, chat, "one").await;
    let first = stream.expect("message.created", WAIT).await;
    drop(stream);
    for text in ["two", "three", "four"] {
        send(&stack, &ann, chat, text).await;
    }
    let position: u64 = first.id.parse().expect("numeric id");
    let (mut resumed, ready) = stack.resume(&bob, Some(position), header).await;
    assert!(ready["last_event_id"].as_u64().expect("position") > position);
    send(&stack, &ann, chat, "five").await;
    let frames = resumed.collect_events(QUIET * 2).await;
    assert_eq!(contents(&frames), vec!["two", "three", "four", "five"]);
    let ids: Vec<u64> = frames.iter().map(|f| f.id.parse().expect("id")).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids not increasing: {ids:?}"
    );
}

#[tokio::test]
async fn resume_after_notify_restart_reads_stream() {
    let mut stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let (mut stream, _) = stack.listen(&bob).await;
    send(&stack, &ann, chat, "before").await;
    let first = stream.expect("message.created", WAIT).await;
    drop(stream);
    send(&stack, &ann, chat, "while away").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.restart_notify().await;
    let (mut resumed, _) = stack.resume(&bob, first.id.parse().ok(), true).await;
    send(&stack, &ann, chat, "after").await;
    let frames = resumed.collect_events(QUIET * 2).await;
    assert_eq!(contents(&frames), vec!["while away", "after"]);
}

#[tokio::test]
async fn resume_past_retention_sends_resync() {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let (mut stream, _) = stack.listen(&bob).await;
    send(&stack, &ann, chat, "old").await;
    stream.expect("message.created", WAIT).await;
    drop(stream);
    let client = async_nats::connect(stack.api.config.nats.url.as_str())
        .await
        .expect("nats");
    let context = async_nats::jetstream::new(client);
    let events_stream = context
        .get_stream(&stack.api.config.nats.stream)
        .await
        .expect("stream");
    events_stream.purge().await.expect("purge");
    send(&stack, &ann, chat, "new").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A fresh instance has no in-memory window, so it must read the purged stream.
    let mut stack = stack;
    stack.restart_notify().await;
    let ticket = stack.ticket(&bob).await;
    let mut resumed = EventStream::open(
        &stack.notify_base,
        Credentials::Ticket(&ticket),
        Some(1),
        true,
    )
    .await;
    resumed.expect("ready", WAIT).await;
    let resync = resumed.expect("resync", WAIT).await;
    assert!(resync.id.is_empty());
    assert!(resync.data["reason"].is_string());
}

#[tokio::test]
async fn removed_member_gets_member_left_then_nothing() {
    let stack = Stack::spawn().await;
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let cat = stack.api.client.join(&ann, "cat@example.com").await;
    let group = stack
        .api
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "group", "members": [bob.user_id, cat.user_id]}),
        )
        .await;
    let chat = group.body["id"].as_i64().expect("id");
    let (mut cat_stream, _) = stack.listen(&cat).await;
    let removed = stack
        .api
        .client
        .delete(
            &format!("/api/chats/{chat}/members/{}", cat.user_id),
            &ann.access_token,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let left = cat_stream.expect("chat.member_left", WAIT).await;
    assert_eq!(left.data["user_id"], cat.user_id);
    send(&stack, &ann, chat, "after removal").await;
    let later = cat_stream.collect_events(QUIET).await;
    assert!(later.is_empty(), "removed member received {later:?}");
}

#[tokio::test]
async fn deleted_message_event_carries_tombstone() {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let (mut stream, _) = stack.listen(&bob).await;
    let sent = stack
        .api
        .client
        .post(
            &format!("/api/chats/{chat}/messages"),
            &ann.access_token,
            json!({"content": "oops"}),
        )
        .await;
    let id = sent.body["id"].as_i64().expect("id");
    stack
        .api
        .client
        .delete(
            &format!("/api/chats/{chat}/messages/{id}"),
            &ann.access_token,
        )
        .await;
    let deleted = stream.expect("message.deleted", WAIT).await;
    assert!(deleted.data["message"]["content"].is_null());
    assert!(deleted.data["message"]["deleted_at"].is_string());
}

#[tokio::test]
async fn chat_events_reach_members() {
    let stack = Stack::spawn().await;
    let ann = stack.api.client.signup("ann@example.com", "Team").await;
    let bob = stack.api.client.join(&ann, "bob@example.com").await;
    let (mut stream, _) = stack.listen(&bob).await;
    let channel = stack
        .api
        .client
        .post(
            "/api/chats",
            &ann.access_token,
            json!({"chat_type": "private_channel", "name": "ops", "members": [bob.user_id]}),
        )
        .await;
    let chat = channel.body["id"].as_i64().expect("id");
    let created = stream.expect("chat.created", WAIT).await;
    assert_eq!(created.data["chat"]["name"], "ops");
    send(&stack, &ann, chat, "hi").await;
    stream.expect("message.created", WAIT).await;
    stack
        .api
        .client
        .post(
            &format!("/api/chats/{chat}/read"),
            &bob.access_token,
            json!({"seq": 1}),
        )
        .await;
    let read = stream.expect("chat.read", WAIT).await;
    assert_eq!(read.data["user_id"], bob.user_id);
    assert_eq!(read.data["seq"], 1);
    stack
        .api
        .client
        .delete(&format!("/api/chats/{chat}"), &ann.access_token)
        .await;
    let archived = stream.expect("chat.archived", WAIT).await;
    assert_eq!(archived.data["chat"]["archived"], true);
}

#[tokio::test]
async fn ticket_works_once() {
    let stack = Stack::spawn().await;
    let (_, bob, _) = pair(&stack).await;
    let ticket = stack.ticket(&bob).await;
    let first = EventStream::try_open(
        &stack.notify_base,
        Credentials::Ticket(&ticket),
        None,
        false,
    )
    .await;
    assert!(first.is_ok());
    let second = EventStream::try_open(
        &stack.notify_base,
        Credentials::Ticket(&ticket),
        None,
        false,
    )
    .await;
    let Err((status, body)) = second else {
        panic!("spent ticket accepted");
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("invalid_ticket"), "body {body}");
    let unknown = EventStream::try_open(
        &stack.notify_base,
        Credentials::Ticket("made-up"),
        None,
        false,
    )
    .await;
    assert!(matches!(unknown, Err((StatusCode::UNAUTHORIZED, _))));
}

#[tokio::test]
async fn bearer_stream_checks_session_version() {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let mut stream = EventStream::open(
        &stack.notify_base,
        Credentials::Bearer(&bob.access_token),
        None,
        false,
    )
    .await;
    stream.expect("ready", WAIT).await;
    send(&stack, &ann, chat, "via bearer").await;
    stream.expect("message.created", WAIT).await;
    stack
        .api
        .client
        .post("/api/logout-all", &bob.access_token, json!({}))
        .await;
    let refused = EventStream::try_open(
        &stack.notify_base,
        Credentials::Bearer(&bob.access_token),
        None,
        false,
    )
    .await;
    assert!(matches!(refused, Err((StatusCode::UNAUTHORIZED, _))));
    let missing = reqwest::get(format!("{}/events", stack.notify_base))
        .await
        .expect("request");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn typing_reaches_other_members_only() {
    let stack = Stack::spawn().await;
    let (ann, bob, chat) = pair(&stack).await;
    let (mut ann_stream, _) = stack.listen(&ann).await;
    let (mut bob_stream, _) = stack.listen(&bob).await;
    let reply = stack
        .api
        .client
        .post(
            &format!("/api/chats/{chat}/typing"),
            &ann.access_token,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let typing = bob_stream.expect("typing", WAIT).await;
    assert!(typing.id.is_empty());
    assert_eq!(typing.data["user_id"], ann.user_id);
    assert_eq!(typing.data["chat_id"], chat);
    assert!(
        typing.data["expires_in_ms"]
            .as_i64()
            .is_some_and(|ms| ms > 0)
    );
    let mut ann_saw_typing = false;
    while let Some(frame) = ann_stream.next_within(QUIET).await {
        ann_saw_typing |= frame.event == "typing";
    }
    assert!(!ann_saw_typing);
}

#[tokio::test]
async fn presence_online_and_offline_reach_peers() {
    let stack = Stack::spawn().await;
    let (ann, bob, _) = pair(&stack).await;
    let (mut bob_stream, _) = stack.listen(&bob).await;
    let (ann_stream, ready) = stack.listen(&ann).await;
    assert_eq!(ready["online"], json!([bob.user_id]));
    let online = bob_stream.expect("presence", WAIT).await;
    assert_eq!(
        online.data,
        json!({"user_id": ann.user_id, "status": "online"})
    );
    drop(ann_stream);
    let offline = bob_stream.expect("presence", WAIT).await;
    assert_eq!(
        offline.data,
        json!({"user_id": ann.user_id, "status": "offline"})
    );
}

#[tokio::test]
async fn bad_resume_position_is_invalid_request() {
    let stack = Stack::spawn().await;
    let (_, bob, _) = pair(&stack).await;
    let ticket = stack.ticket(&bob).await;
    let response = reqwest::get(format!(
        "{}/events?ticket={ticket}&last_event_id=abc",
        stack.notify_base
    ))
    .await
    .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let mut stack = Stack::spawn().await;
    let (_, bob, _) = pair(&stack).await;
    let (mut stream, _) = stack.listen(&bob).await;
    let started = std::time::Instant::now();
    stack.restart_notify().await;
    assert!(stream.next_within(Duration::from_secs(10)).await.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stream stayed open {:?}",
        started.elapsed()
    );
}
