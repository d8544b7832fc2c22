//! Fixed-window rate limits counted in Redis, so every replica shares one budget.

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Counts one hit on `subject`; past `limit` hits per `window_secs` it returns 429 with the
/// seconds until the window ends.
pub async fn hit(state: &AppState, subject: &str, limit: u64, window_secs: u64) -> AppResult<()> {
    let key = state.redis_key(&format!("ratelimit:{subject}"));
    let mut redis = state.redis.clone();
    let (count, ttl): (u64, i64) = redis::pipe()
        .atomic()
        .incr(&key, 1)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(window_secs.max(1))
        .arg("NX")
        .ignore()
        .ttl(&key)
        .query_async(&mut redis)
        .await?;
    if count > limit {
        let retry_after_secs = u64::try_from(ttl).unwrap_or(window_secs).max(1);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    Ok(())
}
