//! Writes events to the outbox inside the transaction of the change they describe.

use fechatter_core::ids::{ChatId, UserId, WorkspaceId};
use fechatter_protos::v1;
use prost::Message as _;
use sqlx::PgConnection;

use crate::error::AppResult;

/// The actor, workspace and chat of an event.
#[derive(Debug, Clone, Copy)]
pub struct EventScope {
    pub workspace_id: WorkspaceId,
    pub chat_id: ChatId,
    pub actor_id: UserId,
}

/// Inserts one event row. `recipients` are the users the event must reach.
pub async fn write(
    conn: &mut PgConnection,
    scope: EventScope,
    kind: &str,
    recipients: &[i64],
    body: v1::event::Body,
) -> AppResult<i64> {
    let (id, occurred_at_ms): (i64, i64) = sqlx::query_as(
        "SELECT nextval(pg_get_serial_sequence('outbox', 'id')),
                (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
    )
    .fetch_one(&mut *conn)
    .await?;
    let event = v1::Event {
        event_id: id,
        kind: kind.to_owned(),
        occurred_at_ms,
        workspace_id: scope.workspace_id.0,
        chat_id: scope.chat_id.0,
        actor_id: scope.actor_id.0,
        recipient_ids: recipients.to_vec(),
        body: Some(body),
    };
    sqlx::query(
        "INSERT INTO outbox (id, kind, workspace_id, chat_id, payload) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(kind)
    .bind(scope.workspace_id.0)
    .bind(scope.chat_id.0)
    .bind(event.encode_to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
