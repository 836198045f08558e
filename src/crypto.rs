//! Secrets at rest: provider credentials are sealed with ChaCha20-Poly1305 (an authenticated
//! cipher) under a key derived from the configured secret. Tokens are stored as SHA-256 hashes.
//! A second key derived from the same secret signs values the server hands out and must
//! recognise later (HMAC-SHA256, [`Secrets::mac`]).
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Seals and opens secrets with the service key, and signs values with a key derived
/// separately from the same secret. Its `Debug` never shows either key.
#[derive(Clone)]
pub struct Secrets {
    cipher: ChaCha20Poly1305,
    mac_key: [u8; 32],
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
        let mac_key = Sha256::new()
            .chain_update(b"prompter/signing/v1\0")
            .chain_update(secret.as_bytes())
            .finalize();
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&digest)),
            mac_key: mac_key.into(),
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

impl Secrets {
    /// The HMAC-SHA256 (hex) of `message` for `purpose` under the signing key; a value signed
    /// for one purpose never verifies for another.
    pub fn mac(&self, purpose: &str, message: &[u8]) -> String {
        let mut input = Vec::with_capacity(purpose.len() + 1 + message.len());
        input.extend_from_slice(purpose.as_bytes());
        input.push(0);
        input.extend_from_slice(message);
        hex::encode(hmac_sha256(&self.mac_key, &input))
    }

    /// Whether `tag` is [`Secrets::mac`] of `message` for `purpose`, compared in constant time.
    pub fn verify_mac(&self, purpose: &str, message: &[u8], tag: &str) -> bool {
        constant_time_eq(self.mac(purpose, message).as_bytes(), tag.as_bytes())
    }
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether two byte strings are equal, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    #[test]
    fn hmac_matches_rfc_4231_and_signatures_are_bound_to_key_and_purpose() {
        // RFC 4231, test cases 1 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let secrets = Secrets::from_secret("0123456789abcdef-test").expect("key");
        let tag = secrets.mac("login", b"nonce");
        assert!(secrets.verify_mac("login", b"nonce", &tag));
        assert!(!secrets.verify_mac("form", b"nonce", &tag));
        assert!(!secrets.verify_mac("login", b"nonce2", &tag));
        let other = Secrets::from_secret("another-secret-of-16+").expect("key");
        assert!(!other.verify_mac("login", b"nonce", &tag));
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }
}
