//! Secrets at rest: provider credentials are sealed with ChaCha20-Poly1305 (an authenticated
//! cipher) under a key derived from the configured secret. Tokens are stored as SHA-256 hashes.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Seals and opens secrets with the service key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Secrets {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

/// A failure to set up or use the service key.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret is too short to be a key.
    #[error("the secret key must be at least 16 characters")]
    TooShort,
    /// The key file could not be read or written.
    #[error("secret key file {path}: {source}")]
    File {
        /// The key file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A sealed value did not open: wrong key, or the value was tampered with.
    #[error("a stored secret could not be decrypted (was PROMPTER_SECRET_KEY changed?)")]
    Open,
}

impl Secrets {
    /// Derives the key from `secret` (SHA-256 of a domain tag and the secret).
    pub fn from_secret(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        if secret.len() < 16 {
            return Err(SecretError::TooShort);
        }
        let digest = Sha256::new()
            .chain_update(b"prompter/provider-credentials/v1\0")
            .chain_update(secret.as_bytes())
            .finalize();
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&digest)),
        })
    }

    /// Reads the secret from `path`, or writes a new random one there (mode 0600) if missing.
    pub fn from_key_file(path: &Path) -> Result<Self, SecretError> {
        let file_err = |source| SecretError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(secret) => Self::from_secret(&secret),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let secret = random_hex(32);
                write_private(path, &secret).map_err(file_err)?;
                tracing::info!(path = %path.display(), "generated a new secret key file");
                Self::from_secret(&secret)
            }
            Err(err) => Err(file_err(err)),
        }
    }

    /// Encrypts `plain`; the output is base64 of a random nonce followed by the ciphertext.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    /// Decrypts a value made by [`Secrets::seal`].
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let bytes = B64.decode(sealed).map_err(|_| SecretError::Open)?;
        if bytes.len() < 12 {
            return Err(SecretError::Open);
        }
        let (nonce, body) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of an API token: hex SHA-256 of its text.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_tampering_fails() {
        let secrets = Secrets::from_secret("0123456789abcdef-test").expect("key");
        let sealed = secrets.seal("sk-very-secret");
        assert!(!sealed.contains("sk-very-secret"));
        assert_eq!(secrets.open(&sealed).expect("open"), "sk-very-secret");
        let other = Secrets::from_secret("another-secret-of-16+").expect("key");
        assert!(other.open(&sealed).is_err());
        let mut raw = B64.decode(&sealed).expect("b64");
        raw[20] ^= 1;
        assert!(secrets.open(&B64.encode(raw)).is_err());
        assert!(Secrets::from_secret("short").is_err());
    }
}
