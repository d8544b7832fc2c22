//! Chats, memberships and the authorization check every chat route starts with.
//!
//! Access facts for a (chat, user) pair are cached in Redis as one hash per chat
//! (`chat_access:{chat_id}`: a `meta` field plus one field per user id holding the role or `-`).
//! Any change to the chat or its members deletes the hash. Writes re-check membership inside
//! their transaction, so a stale cache entry can at most let a removed member read for the
//! cache lifetime, never write.

use chrono::{DateTime, Utc};
use fechatter_core::ids::{ChatId, UserId, WorkspaceId};
use fechatter_core::views::ChatView;
use fechatter_protos::v1;
use redis::AsyncCommands;
use sqlx::{PgConnection, PgExecutor};

use crate::error::{AppError, AppResult};
use crate::extract::AuthUser;
use crate::state::AppState;

/// The caller's standing in a chat, which decides what they may do.
#[derive(Debug, Clone)]
pub struct ChatAccess {
    pub chat_id: ChatId,
    pub workspace_id: WorkspaceId,
    pub chat_type: String,
    pub archived: bool,
    /// The caller's chat role, or `None` when previewing a public channel without joining.
    pub role: Option<String>,
}

impl ChatAccess {
    pub fn is_member(&self) -> bool {
        self.role.is_some()
    }

    pub fn is_chat_admin(&self) -> bool {
        matches!(self.role.as_deref(), Some("owner" | "admin"))
    }

    /// Fails unless the caller is a member and the chat is not archived.
    pub fn require_writable_member(&self) -> AppResult<()> {
        if !self.is_member() {
            return Err(AppError::Forbidden("join the channel to post in it".into()));
        }
        if self.archived {
            return Err(AppError::ChatArchived);
        }
        Ok(())
    }

    pub fn require_chat_admin(&self) -> AppResult<()> {
        if !self.is_chat_admin() {
            return Err(AppError::Forbidden(
                "only the chat's owner or admins may do this".into(),
            ));
        }
        Ok(())
    }
}

fn cache_key(state: &AppState, chat_id: ChatId) -> String {
    state.redis_key(&format!("chat_access:{chat_id}"))
}

/// Drops the cached access facts of a chat; call after committing any chat or member change.
pub async fn invalidate(state: &AppState, chat_id: ChatId) {
    let mut redis = state.redis.clone();
    if let Err(err) = redis.del::<_, ()>(cache_key(state, chat_id)).await {
        tracing::warn!(error = %err, chat_id = %chat_id, "failed to invalidate chat access cache");
    }
}

/// Resolves the caller's access to `chat_id`. Chats of other workspaces and private chats the
/// caller is not in are `not_found`, so their existence is not revealed.
pub async fn access(state: &AppState, user: &AuthUser, chat_id: i64) -> AppResult<ChatAccess> {
    let chat_id = ChatId(chat_id);
    let key = cache_key(state, chat_id);
    let mut redis = state.redis.clone();
    let cached: (Option<String>, Option<String>) = redis::pipe()
        .hget(&key, "meta")
        .hget(&key, user.id.0)
        .query_async(&mut redis)
        .await?;
    let (meta, role) = match cached {
        (Some(meta), Some(role)) => (meta, role),
        _ => load_access_facts(state, &key, chat_id, user.id).await?,
    };
    let mut parts = meta.splitn(3, '|');
    let workspace_id: i64 = parts
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let chat_type = parts.next().unwrap_or_default().to_owned();
    let archived = parts.next() == Some("1");
    if workspace_id != user.workspace_id.0 {
        return Err(AppError::NotFound("chat"));
    }
    let role = (role != "-").then_some(role);
    if role.is_none() && chat_type != "public_channel" {
        return Err(AppError::NotFound("chat"));
    }
    Ok(ChatAccess {
        chat_id,
        workspace_id: WorkspaceId(workspace_id),
        chat_type,
        archived,
        role,
    })
}

async fn load_access_facts(
    state: &AppState,
    key: &str,
    chat_id: ChatId,
    user_id: UserId,
) -> AppResult<(String, String)> {
    let row: Option<(i64, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT c.workspace_id, c.chat_type, c.archived_at IS NOT NULL, m.role
         FROM chats c LEFT JOIN chat_members m ON m.chat_id = c.id AND m.user_id = $2
         WHERE c.id = $1",
    )
    .bind(chat_id.0)
    .bind(user_id.0)
    .fetch_optional(&state.pool)
    .await?;
    let (workspace_id, chat_type, archived, role) = row.ok_or(AppError::NotFound("chat"))?;
    let meta = format!("{workspace_id}|{chat_type}|{}", u8::from(archived));
    let role = role.unwrap_or_else(|| "-".into());
    let mut redis = state.redis.clone();
    let stored: Result<(), _> = redis::pipe()
        .hset(key, "meta", &meta)
        .hset(key, user_id.0, &role)
        .expire(key, state.config.limits.membership_cache_secs as i64)
        .query_async(&mut redis)
        .await;
    if let Err(err) = stored {
        tracing::warn!(error = %err, chat_id = %chat_id, "failed to cache chat access");
    }
    Ok((meta, role))
}

#[derive(Debug, sqlx::FromRow)]
pub struct ChatRow {
    pub id: i64,
    pub workspace_id: i64,
    pub chat_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
    pub last_seq: i64,
    pub members: Vec<i64>,
}

/// Columns of [`ChatRow`], selected from `chats c`.
pub const CHAT_COLUMNS: &str = "c.id, c.workspace_id, c.chat_type, c.name, c.description,
        c.created_by, c.created_at, c.archived_at, c.last_seq,
        ARRAY(SELECT user_id FROM chat_members WHERE chat_id = c.id ORDER BY user_id) AS members";

impl From<ChatRow> for ChatView {
    fn from(row: ChatRow) -> Self {
        Self {
            id: ChatId(row.id),
            workspace_id: WorkspaceId(row.workspace_id),
            chat_type: row.chat_type,
            name: row.name,
            description: row.description,
            created_by: UserId(row.created_by),
            created_at: row.created_at,
            archived: row.archived_at.is_some(),
            members: row.members.into_iter().map(UserId).collect(),
        }
    }
}

pub async fn find_chat(db: impl PgExecutor<'_>, chat_id: ChatId) -> AppResult<ChatView> {
    let row: Option<ChatRow> = sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats c WHERE c.id = $1"
    ))
    .bind(chat_id.0)
    .fetch_optional(db)
    .await?;
    Ok(row.ok_or(AppError::NotFound("chat"))?.into())
}

/// A chat row locked for the rest of a transaction, with the caller's role read after the lock.
#[derive(Debug)]
pub struct LockedChat {
    pub archived: bool,
    pub last_seq: i64,
    /// The caller's chat role as committed when the lock was granted; `None` for non-members.
    pub role: Option<String>,
}

impl LockedChat {
    pub fn is_chat_admin(&self) -> bool {
        matches!(self.role.as_deref(), Some("owner" | "admin"))
    }

    /// Fails unless the caller is still a member.
    pub fn require_member(&self) -> AppResult<()> {
        match self.role {
            Some(_) => Ok(()),
            None => Err(AppError::Forbidden(
                "you are not a member of this chat".into(),
            )),
        }
    }

    /// Fails unless the caller is still a member and the chat is not archived.
    pub fn require_writable(&self) -> AppResult<()> {
        self.require_member()?;
        if self.archived {
            return Err(AppError::ChatArchived);
        }
        Ok(())
    }

    /// Fails unless the caller still has the chat's owner or admin role and the chat is not
    /// archived.
    pub fn require_admin(&self) -> AppResult<()> {
        if !self.is_chat_admin() {
            return Err(AppError::Forbidden(
                "only the chat's owner or admins may do this".into(),
            ));
        }
        if self.archived {
            return Err(AppError::ChatArchived);
        }
        Ok(())
    }
}

/// Locks the chat row for the rest of the transaction and reads `user_id`'s role under the lock.
///
/// Every transaction that writes events of a chat takes this lock first, so the chat's outbox
/// ids follow its commit order. The role is read by a separate statement after the lock is
/// granted: in READ COMMITTED that statement reads every change committed before it, so a member
/// removed or demoted meanwhile can no longer act. Permission checks before the lock (from the
/// access cache) only decide what the caller may see.
pub async fn lock_chat(
    conn: &mut PgConnection,
    chat_id: ChatId,
    user_id: UserId,
) -> AppResult<LockedChat> {
    let row: Option<(bool, i64)> = sqlx::query_as(
        "SELECT archived_at IS NOT NULL, last_seq FROM chats WHERE id = $1 FOR UPDATE",
    )
    .bind(chat_id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let (archived, last_seq) = row.ok_or(AppError::NotFound("chat"))?;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind(chat_id.0)
            .bind(user_id.0)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(LockedChat {
        archived,
        last_seq,
        role,
    })
}

/// Current member ids of a chat, the recipients of its events.
pub async fn member_ids(conn: &mut PgConnection, chat_id: ChatId) -> AppResult<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT user_id FROM chat_members WHERE chat_id = $1 ORDER BY user_id")
            .bind(chat_id.0)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Wraps a chat view as an event body.
pub fn chat_body(view: &ChatView) -> v1::event::Body {
    v1::event::Body::Chat(v1::Chat::from(view))
}
