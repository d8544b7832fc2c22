//! Access-token verification at the edge.
//!
//! The gateway checks the signature (EdDSA only), issuer, audience, token type and expiry with
//! the public key. It does not check the session version, because that needs the database:
//! the API server still does, so a token revoked by logout-all passes the gateway and is
//! rejected upstream.

use std::collections::HashMap;
use std::sync::Mutex;

use fechatter_core::jwt::{AccessIdentity, TokenError, TokenVerifier};
use http::HeaderMap;

/// Headers that carry the verified identity to upstreams. Copies sent by clients are removed
/// from every request.
pub const USER_ID_HEADER: &str = "x-fechatter-user-id";
pub const WORKSPACE_ID_HEADER: &str = "x-fechatter-workspace-id";

/// Reason for a 401 rejection, used as the `reason` metrics label and in the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Missing,
    Malformed,
    Expired,
    Invalid,
}

impl Rejection {
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Expired => "expired",
            Self::Invalid => "invalid",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "missing Authorization: Bearer token",
            Self::Malformed => "expected Authorization: Bearer <token>",
            Self::Expired => "access token expired",
            Self::Invalid => "invalid access token",
        }
    }
}

/// Verifies access tokens, remembering recently verified ones.
///
/// An Ed25519 signature check is a large share of the gateway's CPU time per request, and a
/// client sends the same token for its whole lifetime. A token that passed verification is
/// kept with its identity until its `exp`, so later requests skip the check. Entries are only
/// made for tokens that passed, so a forged token is checked every time. After `exp` the token
/// goes through the verifier again, which rejects it.
pub struct Authenticator {
    verifier: TokenVerifier,
    capacity: usize,
    verified: Mutex<HashMap<String, CachedIdentity>>,
}

#[derive(Clone, Copy)]
struct CachedIdentity {
    identity: AccessIdentity,
    /// The token's `exp`, in Unix seconds.
    expires_at: i64,
}

impl Authenticator {
    /// `capacity` bounds the remembered tokens; 0 verifies every request.
    pub fn new(verifier: TokenVerifier, capacity: usize) -> Self {
        Self {
            verifier,
            capacity,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies the `Authorization: Bearer` token of a request.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<AccessIdentity, Rejection> {
        let token = bearer_token(headers)?;
        let now = chrono::Utc::now().timestamp();
        if let Some(cached) = self.lookup(token, now) {
            return Ok(cached);
        }
        let identity = self.verifier.verify(token).map_err(|err| match err {
            TokenError::Expired => Rejection::Expired,
            TokenError::Invalid(_) => Rejection::Invalid,
        })?;
        if let Some(expires_at) = expiry_of(token) {
            self.remember(token, identity, expires_at, now);
        }
        Ok(identity)
    }

    fn lookup(&self, token: &str, now: i64) -> Option<AccessIdentity> {
        if self.capacity == 0 {
            return None;
        }
        let verified = self.lock();
        verified
            .get(token)
            .filter(|cached| now < cached.expires_at)
            .map(|cached| cached.identity)
    }

    fn remember(&self, token: &str, identity: AccessIdentity, expires_at: i64, now: i64) {
        if self.capacity == 0 || expires_at <= now {
            return;
        }
        let mut verified = self.lock();
        if verified.len() >= self.capacity {
            verified.retain(|_, cached| now < cached.expires_at);
        }
        if verified.len() >= self.capacity {
            // Still full of live tokens: start over rather than track recency.
            verified.clear();
        }
        verified.insert(
            token.to_owned(),
            CachedIdentity {
                identity,
                expires_at,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedIdentity>> {
        // A panic while the lock is held cannot leave the map inconsistent, so poisoning is
        // ignored.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns how many verified tokens are remembered.
    pub fn remembered(&self) -> usize {
        self.lock().len()
    }
}

/// Extracts the token of the single `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::Missing);
    };
    if values.next().is_some() {
        return Err(Rejection::Malformed);
    }
    value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(Rejection::Malformed)
}

/// Reads `exp` from a token's payload without checking anything; call it only on a token that
/// passed verification.
fn expiry_of(token: &str) -> Option<i64> {
    use base64::Engine;

    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fechatter_core::ids::{UserId, WorkspaceId};
    use fechatter_core::jwt::TokenSigner;
    use fechatter_core::keys::{KeyPaths, ensure_dev_keys};

    struct Keys {
        _dir: tempfile::TempDir,
        paths: KeyPaths,
    }

    fn keys() -> Keys {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = KeyPaths {
            private_key: dir.path().join("private.pem"),
            public_key: dir.path().join("public.pem"),
        };
        ensure_dev_keys(&paths).expect("generate keys");
        Keys { _dir: dir, paths }
    }

    fn token(keys: &Keys, user: i64, lifetime_secs: i64) -> String {
        TokenSigner::from_pem_file(&keys.paths.private_key, lifetime_secs)
            .expect("signer")
            .sign(AccessIdentity {
                user_id: UserId(user),
                workspace_id: WorkspaceId(3),
                session_version: 1,
            })
            .expect("sign")
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
        headers
    }

    fn authenticator(keys: &Keys, capacity: usize) -> Authenticator {
        let verifier = TokenVerifier::from_pem_file(&keys.paths.public_key).expect("verifier");
        Authenticator::new(verifier, capacity)
    }

    #[test]
    fn verified_token_is_remembered() {
        let keys = keys();
        let authenticator = authenticator(&keys, 10);
        let headers = bearer(&token(&keys, 7, 600));
        let first = authenticator.authenticate(&headers).expect("valid");
        assert_eq!(authenticator.remembered(), 1);
        let second = authenticator.authenticate(&headers).expect("remembered");
        assert_eq!(first, second);
        assert_eq!(second.user_id, UserId(7));
    }

    #[test]
    fn rejected_token_is_not_remembered() {
        let keys = keys();
        let other = self::keys();
        let authenticator = authenticator(&keys, 10);
        let forged = bearer(&token(&other, 7, 600));
        for _ in 0..2 {
            assert_eq!(authenticator.authenticate(&forged), Err(Rejection::Invalid));
        }
        assert_eq!(authenticator.remembered(), 0);
    }

    #[test]
    fn expired_entry_goes_back_to_verifier() {
        let keys = keys();
        let authenticator = authenticator(&keys, 10);
        let expired = token(&keys, 7, -3600);
        let identity = AccessIdentity {
            user_id: UserId(7),
            workspace_id: WorkspaceId(3),
            session_version: 1,
        };
        let now = chrono::Utc::now().timestamp();
        // An entry past its `exp`, as if the token had been verified while it was valid.
        authenticator.lock().insert(
            expired.clone(),
            CachedIdentity {
                identity,
                expires_at: now - 1,
            },
        );
        assert_eq!(
            authenticator.authenticate(&bearer(&expired)),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn capacity_bounds_remembered_tokens() {
        let keys = keys();
        let authenticator = authenticator(&keys, 3);
        for user in 0..10 {
            authenticator
                .authenticate(&bearer(&token(&keys, user, 600)))
                .expect("valid");
            assert!(authenticator.remembered() <= 3);
        }
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let keys = keys();
        let authenticator = authenticator(&keys, 0);
        authenticator
            .authenticate(&bearer(&token(&keys, 7, 600)))
            .expect("valid");
        assert_eq!(authenticator.remembered(), 0);
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let keys = keys();
        let authenticator = authenticator(&keys, 10);
        assert_eq!(
            authenticator.authenticate(&HeaderMap::new()),
            Err(Rejection::Missing)
        );
        let mut basic = HeaderMap::new();
        basic.insert(
            http::header::AUTHORIZATION,
            "Basic abc".parse().expect("header"),
        );
        assert_eq!(
            authenticator.authenticate(&basic),
            Err(Rejection::Malformed)
        );
    }
}
