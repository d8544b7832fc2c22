//! JSON shapes of the objects the REST API returns. The event stream embeds the same shapes, so a
//! client handles one representation of a message or a chat.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ChatId, MessageId, UserId, WorkspaceId};
use fechatter_protos::v1;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub fullname: String,
    pub workspace_id: WorkspaceId,
    /// Workspace role: `owner`, `admin` or `member`.
    pub role: String,
    /// `active` or `suspended`.
    pub status: String,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceView {
    pub id: WorkspaceId,
    pub name: String,
    pub owner_id: UserId,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub seq: i64,
    pub sender_id: UserId,
    /// Markdown text; `null` once the message is deleted.
    pub content: Option<String>,
    pub reply_to: Option<MessageId>,
    /// Mentioned users (chat members only).
    pub mentions: Vec<UserId>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatView {
    pub id: ChatId,
    pub workspace_id: WorkspaceId,
    /// `single`, `group`, `private_channel` or `public_channel`.
    pub chat_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub archived: bool,
    /// Current members, the caller included.
    pub members: Vec<UserId>,
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub fn to_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

impl From<&v1::Message> for MessageView {
    fn from(message: &v1::Message) -> Self {
        Self {
            id: MessageId(message.id),
            chat_id: ChatId(message.chat_id),
            seq: message.seq,
            sender_id: UserId(message.sender_id),
            content: message.content.clone(),
            reply_to: message.reply_to.map(MessageId),
            mentions: message.mention_ids.iter().copied().map(UserId).collect(),
            created_at: from_millis(message.created_at_ms),
            edited_at: message.edited_at_ms.map(from_millis),
            deleted_at: message.deleted_at_ms.map(from_millis),
        }
    }
}

impl From<&MessageView> for v1::Message {
    fn from(message: &MessageView) -> Self {
        Self {
            id: message.id.0,
            chat_id: message.chat_id.0,
            seq: message.seq,
            sender_id: message.sender_id.0,
            content: message.content.clone(),
            reply_to: message.reply_to.map(|id| id.0),
            created_at_ms: to_millis(message.created_at),
            edited_at_ms: message.edited_at.map(to_millis),
            deleted_at_ms: message.deleted_at.map(to_millis),
            mention_ids: message.mentions.iter().map(|id| id.0).collect(),
        }
    }
}

impl From<&v1::Chat> for ChatView {
    fn from(chat: &v1::Chat) -> Self {
        Self {
            id: ChatId(chat.id),
            workspace_id: WorkspaceId(chat.workspace_id),
            chat_type: chat.chat_type.clone(),
            name: chat.name.clone(),
            description: chat.description.clone(),
            created_by: UserId(chat.created_by),
            created_at: from_millis(chat.created_at_ms),
            archived: chat.archived,
            members: chat.member_ids.iter().copied().map(UserId).collect(),
        }
    }
}

impl From<&ChatView> for v1::Chat {
    fn from(chat: &ChatView) -> Self {
        Self {
            id: chat.id.0,
            workspace_id: chat.workspace_id.0,
            chat_type: chat.chat_type.clone(),
            name: chat.name.clone(),
            description: chat.description.clone(),
            created_by: chat.created_by.0,
            created_at_ms: to_millis(chat.created_at),
            archived: chat.archived,
            member_ids: chat.members.iter().map(|id| id.0).collect(),
        }
    }
}
