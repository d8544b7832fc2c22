//! Message rows and their REST shape.

use chrono::{DateTime, Utc};
use fechatter_core::ids::{ChatId, MessageId, UserId};
use fechatter_core::views::MessageView;
use sqlx::PgExecutor;

use crate::error::AppResult;

pub const MESSAGE_SELECT: &str = "SELECT m.id, m.chat_id, m.seq, m.sender_id, m.content, m.reply_to,
        m.created_at, m.edited_at, m.deleted_at,
        ARRAY(SELECT user_id FROM message_mentions WHERE message_id = m.id ORDER BY user_id) AS mentions
    FROM messages m";

#[derive(Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub chat_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub content: Option<String>,
    pub reply_to: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub mentions: Vec<i64>,
}

impl From<MessageRow> for MessageView {
    fn from(row: MessageRow) -> Self {
        Self {
            id: MessageId(row.id),
            chat_id: ChatId(row.chat_id),
            seq: row.seq,
            sender_id: UserId(row.sender_id),
            content: row.content,
            reply_to: row.reply_to.map(MessageId),
            mentions: row.mentions.into_iter().map(UserId).collect(),
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted_at: row.deleted_at,
        }
    }
}

/// Loads a message of `chat_id`; a message of another chat is not found.
pub async fn find_in_chat(
    db: impl PgExecutor<'_>,
    chat_id: ChatId,
    message_id: i64,
) -> AppResult<Option<MessageView>> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "{MESSAGE_SELECT} WHERE m.id = $1 AND m.chat_id = $2"
    ))
    .bind(message_id)
    .bind(chat_id.0)
    .fetch_optional(db)
    .await?;
    Ok(row.map(MessageView::from))
}
