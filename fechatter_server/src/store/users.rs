//! Users and workspaces.

use chrono::{DateTime, Utc};
use fechatter_core::ids::{UserId, WorkspaceId};
use fechatter_core::views::{UserView, WorkspaceView};
use sqlx::PgExecutor;

use crate::error::AppResult;

pub const USER_COLUMNS: &str =
    "id, workspace_id, email, username, fullname, role, status, avatar_url, created_at";

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub workspace_id: i64,
    pub email: String,
    pub username: String,
    pub fullname: String,
    pub role: String,
    pub status: String,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        Self {
            id: UserId(row.id),
            email: row.email,
            username: row.username,
            fullname: row.fullname,
            workspace_id: WorkspaceId(row.workspace_id),
            role: row.role,
            status: row.status,
            avatar_url: row.avatar_url,
            created_at: row.created_at,
        }
    }
}

pub async fn find_user(db: impl PgExecutor<'_>, id: UserId) -> AppResult<Option<UserView>> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(db)
            .await?;
    Ok(row.map(UserView::from))
}

#[derive(Debug, sqlx::FromRow)]
struct WorkspaceRow {
    id: i64,
    name: String,
    owner_id: Option<i64>,
    created_at: DateTime<Utc>,
}

pub async fn find_workspace(
    db: impl PgExecutor<'_>,
    id: WorkspaceId,
) -> AppResult<Option<WorkspaceView>> {
    let row: Option<WorkspaceRow> =
        sqlx::query_as("SELECT id, name, owner_id, created_at FROM workspaces WHERE id = $1")
            .bind(id.0)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|row| WorkspaceView {
        id: WorkspaceId(row.id),
        name: row.name,
        owner_id: UserId(row.owner_id.unwrap_or_default()),
        created_at: row.created_at,
    }))
}
