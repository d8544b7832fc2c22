//! Token pairs: a short-lived access JWT and a rotating refresh token.
//!
//! Refresh tokens are random 256-bit strings stored as SHA-256 hashes and grouped in families
//! (one family per sign-in). Each use rotates the token. Presenting a rotated token again within
//! the grace window returns the pair its rotation produced, which Redis keeps for that window
//! only. Later reuse is treated as theft and revokes the whole family.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use fechatter_core::ids::{UserId, WorkspaceId};
use fechatter_core::jwt::AccessIdentity;
use rand::RngCore;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn grace_key(state: &AppState, hash: &[u8]) -> String {
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    state.redis_key(&format!("refresh_grace:{hex}"))
}

/// Issues a pair for `user_id` inside the caller's transaction, in `family` or a new family.
pub async fn issue_pair(
    state: &AppState,
    conn: &mut PgConnection,
    user_id: UserId,
    workspace_id: WorkspaceId,
    session_version: i64,
    family: Option<Uuid>,
) -> AppResult<TokenPair> {
    let refresh_token = new_refresh_token();
    let expires_at =
        Utc::now() + chrono::Duration::seconds(state.config.auth.refresh_token_ttl_secs);
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user_id.0)
    .bind(family.unwrap_or_else(Uuid::new_v4))
    .bind(hash_token(&refresh_token))
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    let access_token = state.signer.sign(AccessIdentity {
        user_id,
        workspace_id,
        session_version,
    })?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.signer.lifetime_secs(),
    })
}

#[derive(sqlx::FromRow)]
struct StoredToken {
    id: i64,
    user_id: i64,
    family_id: Uuid,
    expired: bool,
    rotated_at: Option<chrono::DateTime<Utc>>,
    revoked_at: Option<chrono::DateTime<Utc>>,
    workspace_id: i64,
    session_version: i64,
    status: String,
}

fn invalid() -> AppError {
    AppError::Unauthorized("invalid or expired refresh token".into())
}

/// Rotates a refresh token and returns the new pair.
pub async fn refresh(state: &AppState, presented: &str) -> AppResult<TokenPair> {
    let hash = hash_token(presented);
    let mut tx = state.pool.begin().await?;
    let stored: Option<StoredToken> = sqlx::query_as(
        "SELECT t.id, t.user_id, t.family_id, t.expires_at < now() AS expired, t.rotated_at,
                t.revoked_at, u.workspace_id, u.session_version, u.status
         FROM refresh_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1
         FOR UPDATE OF t",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(stored) = stored else {
        return Err(invalid());
    };
    if stored.revoked_at.is_some() || stored.expired || stored.status != "active" {
        return Err(invalid());
    }
    if let Some(rotated_at) = stored.rotated_at {
        tx.rollback().await?;
        let age = Utc::now() - rotated_at;
        if age <= chrono::Duration::seconds(state.config.auth.refresh_grace_secs as i64)
            && let Some(pair) = grace_pair(state, &hash).await?
        {
            return Ok(pair);
        }
        tracing::warn!(user_id = stored.user_id, family = %stored.family_id,
            "rotated refresh token reused after the grace window; revoking its family");
        revoke_family(&state.pool, stored.family_id).await?;
        return Err(invalid());
    }
    sqlx::query("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1")
        .bind(stored.id)
        .execute(&mut *tx)
        .await?;
    let pair = issue_pair(
        state,
        &mut tx,
        UserId(stored.user_id),
        WorkspaceId(stored.workspace_id),
        stored.session_version,
        Some(stored.family_id),
    )
    .await?;
    // Stored before the commit: a concurrent request for the same token waits on the row lock
    // above and finds the pair as soon as it reads the rotated row.
    let mut redis = state.redis.clone();
    let _: () = redis
        .set_ex(
            grace_key(state, &hash),
            serde_json::to_string(&pair).map_err(anyhow::Error::from)?,
            state.config.auth.refresh_grace_secs.max(1),
        )
        .await?;
    tx.commit().await?;
    Ok(pair)
}

async fn grace_pair(state: &AppState, hash: &[u8]) -> AppResult<Option<TokenPair>> {
    let mut redis = state.redis.clone();
    let key = grace_key(state, hash);
    // The rotating request writes the pair just before it commits; allow it a moment.
    for _ in 0..10 {
        let cached: Option<String> = redis.get(&key).await?;
        if let Some(json) = cached {
            return Ok(Some(
                serde_json::from_str(&json).map_err(anyhow::Error::from)?,
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(None)
}

pub async fn revoke_family(pool: &PgPool, family: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(pool)
    .await?;
    Ok(())
}

/// Revokes the family of `presented`, if it is a known token.
pub async fn logout(state: &AppState, presented: &str) -> AppResult<()> {
    let family: Option<Uuid> =
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash_token(presented))
            .fetch_optional(&state.pool)
            .await?;
    if let Some(family) = family {
        revoke_family(&state.pool, family).await?;
    }
    Ok(())
}

/// Ends every session of a user: bumps the session version, which invalidates access tokens
/// already issued, and revokes every refresh token. Returns the new session version.
pub async fn end_all_sessions(conn: &mut PgConnection, user_id: UserId) -> AppResult<i64> {
    let version: i64 = sqlx::query_scalar(
        "UPDATE users SET session_version = session_version + 1, updated_at = now()
         WHERE id = $1 RETURNING session_version",
    )
    .bind(user_id.0)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id.0)
    .execute(&mut *conn)
    .await?;
    Ok(version)
}
