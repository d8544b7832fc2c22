//! Development key pair: generated at first start when both key files are missing, so no key is
//! ever committed. Production deployments mount their own keys at the configured paths.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey, KeypairBytes};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyPaths {
    /// PEM (PKCS#8) Ed25519 private key; only the API server reads it.
    pub private_key: PathBuf,
    /// PEM (SPKI) Ed25519 public key that every verifier reads.
    pub public_key: PathBuf,
}

/// Generates an Ed25519 key pair at `paths` when neither file exists.
///
/// Returns `true` when it wrote new keys. One file without the other is an error, because
/// replacing half a pair would invalidate tokens other services still verify.
pub fn ensure_dev_keys(paths: &KeyPaths) -> anyhow::Result<bool> {
    let private_exists = paths.private_key.exists();
    let public_exists = paths.public_key.exists();
    match (private_exists, public_exists) {
        (true, true) => return Ok(false),
        (false, false) => {}
        _ => anyhow::bail!(
            "only one of {} and {} exists; remove it or provide both keys",
            paths.private_key.display(),
            paths.public_key.display()
        ),
    }
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    // PKCS#8 v1 (private key only), the form `openssl genpkey` writes and every tool reads;
    // OpenSSL 3.0 rejects the v2 form that embeds the public key.
    let private_pem = KeypairBytes {
        secret_key: signing.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)?;
    let public_pem = signing.verifying_key().to_public_key_pem(LineEnding::LF)?;
    write_new(&paths.private_key, private_pem.as_bytes(), 0o600)?;
    write_new(&paths.public_key, public_pem.as_bytes(), 0o644)?;
    Ok(true)
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|err| anyhow::anyhow!("failed to create {}: {err}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}
