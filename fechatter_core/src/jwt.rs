//! EdDSA (Ed25519) access tokens.
//!
//! Claims: `iss = "fechatter"`, `aud = "fechatter-api"`, `typ = "access"`, `sub` (the user id as a
//! decimal string, as JWT requires a string), `wid` (workspace id), `sv` (the user's session
//! version, bumped by logout-all and password changes so older tokens stop working), `iat`, `exp`.
//! Verification accepts EdDSA only, so `alg: none` and HMAC tokens signed with the public key are
//! rejected.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ids::{UserId, WorkspaceId};

pub const ISSUER: &str = "fechatter";
pub const AUDIENCE: &str = "fechatter-api";
pub const ACCESS_TYPE: &str = "access";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub wid: i64,
    pub sv: i64,
    pub typ: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Identity proven by a verified access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessIdentity {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub session_version: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Signs access tokens with the Ed25519 private key.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    lifetime_secs: i64,
}

impl TokenSigner {
    pub fn from_pem_file(path: &Path, lifetime_secs: i64) -> anyhow::Result<Self> {
        let pem = std::fs::read(path).map_err(|err| {
            anyhow::anyhow!("failed to read private key {}: {err}", path.display())
        })?;
        Ok(Self {
            key: EncodingKey::from_ed_pem(&pem)?,
            lifetime_secs,
        })
    }

    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    /// Signs an access token for `identity` valid from now for the configured lifetime.
    pub fn sign(&self, identity: AccessIdentity) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: identity.user_id.0.to_string(),
            wid: identity.workspace_id.0,
            sv: identity.session_version,
            typ: ACCESS_TYPE.into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + self.lifetime_secs,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &self.key,
        )?)
    }
}

/// Verifies access tokens with the Ed25519 public key.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn from_pem_file(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(path).map_err(|err| {
            anyhow::anyhow!("failed to read public key {}: {err}", path.display())
        })?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            key: DecodingKey::from_ed_pem(&pem)?,
            validation,
        })
    }

    pub fn verify(&self, token: &str) -> Result<AccessIdentity, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|err| {
                match err.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    other => TokenError::Invalid(format!("{other:?}")),
                }
            })?;
        let claims = data.claims;
        if claims.typ != ACCESS_TYPE {
            return Err(TokenError::Invalid(format!("typ is {:?}", claims.typ)));
        }
        let user_id = claims
            .sub
            .parse::<i64>()
            .map_err(|_| TokenError::Invalid("sub is not a user id".into()))?;
        Ok(AccessIdentity {
            user_id: UserId(user_id),
            workspace_id: WorkspaceId(claims.wid),
            session_version: claims.sv,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn encode_segment(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn key_pair() -> (tempfile::TempDir, TokenSigner, TokenVerifier) {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = crate::keys::KeyPaths {
            private_key: dir.path().join("private.pem"),
            public_key: dir.path().join("public.pem"),
        };
        crate::keys::ensure_dev_keys(&paths).expect("generate keys");
        let signer = TokenSigner::from_pem_file(&paths.private_key, 900).expect("signer");
        let verifier = TokenVerifier::from_pem_file(&paths.public_key).expect("verifier");
        (dir, signer, verifier)
    }

    fn identity() -> AccessIdentity {
        AccessIdentity {
            user_id: UserId(7),
            workspace_id: WorkspaceId(3),
            session_version: 1,
        }
    }

    #[test]
    fn verify_accepts_signed_token() {
        let (_dir, signer, verifier) = key_pair();
        let token = signer.sign(identity()).expect("sign");
        assert_eq!(verifier.verify(&token).expect("verify"), identity());
    }

    #[test]
    fn verify_rejects_alg_none() {
        let (_dir, signer, verifier) = key_pair();
        let token = signer.sign(identity()).expect("sign");
        let payload = token.split('.').nth(1).expect("payload");
        let header = encode_segment(br#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{header}.{payload}.");
        assert!(verifier.verify(&forged).is_err());
    }

    #[test]
    fn verify_rejects_tampered_payload() {
        let (_dir, signer, verifier) = key_pair();
        let token = signer.sign(identity()).expect("sign");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let claims = format!(
            r#"{{"sub":"8","wid":3,"sv":1,"typ":"access","iss":"fechatter","aud":"fechatter-api","iat":0,"exp":{}}}"#,
            chrono::Utc::now().timestamp() + 600
        );
        parts[1] = encode_segment(claims.as_bytes());
        assert!(verifier.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn verify_rejects_expired_token() {
        let (_dir, signer, verifier) = key_pair();
        let expired = TokenSigner {
            lifetime_secs: -60,
            ..signer
        };
        let token = expired.sign(identity()).expect("sign");
        assert!(matches!(verifier.verify(&token), Err(TokenError::Expired)));
    }

    #[test]
    fn verify_rejects_other_key() {
        let (_dir, signer, _) = key_pair();
        let (_other_dir, _, other_verifier) = key_pair();
        let token = signer.sign(identity()).expect("sign");
        assert!(other_verifier.verify(&token).is_err());
    }
}
