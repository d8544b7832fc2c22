//! Event names, NATS subjects and the JSON the SSE stream sends for each stored event.

use fechatter_protos::v1;
use serde_json::{Value, json};

use crate::views::{ChatView, MessageView};

pub const MESSAGE_CREATED: &str = "message.created";
pub const MESSAGE_UPDATED: &str = "message.updated";
pub const MESSAGE_DELETED: &str = "message.deleted";
pub const CHAT_CREATED: &str = "chat.created";
pub const CHAT_UPDATED: &str = "chat.updated";
pub const CHAT_ARCHIVED: &str = "chat.archived";
pub const MEMBER_JOINED: &str = "chat.member_joined";
pub const MEMBER_LEFT: &str = "chat.member_left";
pub const MEMBER_ROLE_CHANGED: &str = "chat.member_role_changed";
pub const CHAT_READ: &str = "chat.read";

pub const SIGNAL_TYPING: &str = "typing";
pub const SIGNAL_PRESENCE: &str = "presence";

/// Subject of a stored event: `{prefix}.events.{workspace_id}.{kind}`.
pub fn event_subject(prefix: &str, workspace_id: i64, kind: &str) -> String {
    format!("{prefix}.events.{workspace_id}.{kind}")
}

/// Wildcard covering every stored event, used as the stream's subject filter.
pub fn event_subjects(prefix: &str) -> String {
    format!("{prefix}.events.>")
}

/// Subject of an ephemeral signal: `{prefix}.signals.{workspace_id}.{kind}`.
pub fn signal_subject(prefix: &str, workspace_id: i64, kind: &str) -> String {
    format!("{prefix}.signals.{workspace_id}.{kind}")
}

pub fn signal_subjects(prefix: &str) -> String {
    format!("{prefix}.signals.>")
}

/// Renders the SSE `data` JSON of a stored event. Ids are JSON numbers, unlike protobuf's own
/// JSON mapping, which renders 64-bit integers as strings.
pub fn event_json(event: &v1::Event) -> Value {
    let mut data = json!({
        "event_id": event.event_id,
        "kind": event.kind,
        "chat_id": event.chat_id,
    });
    let fields = match &event.body {
        Some(v1::event::Body::Message(message)) => {
            json!({ "message": MessageView::from(message) })
        }
        Some(v1::event::Body::Chat(chat)) => json!({ "chat": ChatView::from(chat) }),
        Some(v1::event::Body::Member(member)) => {
            let mut value = json!({ "user_id": member.user_id });
            if !member.role.is_empty() {
                value["role"] = json!(member.role);
            }
            value
        }
        Some(v1::event::Body::Read(read)) => json!({ "user_id": read.user_id, "seq": read.seq }),
        None => json!({}),
    };
    if let (Value::Object(target), Value::Object(extra)) = (&mut data, fields) {
        target.extend(extra);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_renders_ids_as_numbers() {
        let event = v1::Event {
            event_id: 9_007_199_254_740_993,
            kind: CHAT_READ.into(),
            chat_id: 4,
            body: Some(v1::event::Body::Read(v1::ReadCursor { user_id: 2, seq: 5 })),
            ..Default::default()
        };
        let data = event_json(&event);
        assert_eq!(data["event_id"], json!(9_007_199_254_740_993_i64));
        assert_eq!(data["seq"], json!(5));
        assert_eq!(data["user_id"], json!(2));
    }

    #[test]
    fn event_json_omits_empty_role() {
        let event = v1::Event {
            kind: MEMBER_LEFT.into(),
            body: Some(v1::event::Body::Member(v1::Member {
                user_id: 3,
                role: String::new(),
            })),
            ..Default::default()
        };
        assert!(event_json(&event).get("role").is_none());
    }
}
