//! Private keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the
//! key-encryption secret, with the `kid` as associated data so a sealed key cannot
//! be moved to another row. Previous secrets keep opening keys after a rotation.

use hkdf::Hkdf;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// One derived key-encryption key and its public fingerprint.
#[derive(Clone)]
struct Kek {
    id: String,
    key: [u8; 32],
}

impl Kek {
    fn derive(secret: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"auth-server/signing-keys/v1"), secret);
        let mut key = [0u8; 32];
        hk.expand(b"aes-256-gcm private key seal", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let digest = Sha256::digest(key);
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, key }
    }
}

/// Why a sealed key could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no configured key-encryption secret matches kek_id {0}")]
    UnknownKek(String),
    #[error("sealed key is corrupt or was sealed for another key id")]
    Corrupt,
    #[error("encryption failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// Seals with the current secret; opens with the current or any previous one.
#[derive(Clone)]
pub struct Sealer {
    current: Kek,
    previous: Vec<Kek>,
}

impl Sealer {
    /// Builds the sealer from the current secret and the ones it replaced.
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Self {
        Self {
            current: Kek::derive(current),
            previous: previous.iter().map(|s| Kek::derive(s)).collect(),
        }
    }

    /// Fingerprint of the current secret (stored as `kek_id`).
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// `nonce ‖ ciphertext ‖ tag` of `plaintext`, bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce)?;
        let mut tag = [0u8; TAG_LEN];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.current.key,
            Some(&nonce),
            kid.as_bytes(),
            plaintext,
            &mut tag,
        )?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens what [`Sealer::seal`] produced under the secret named by `kek_id`.
    pub fn open(&self, kid: &str, kek_id: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let kek = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kek_id)
            .ok_or_else(|| SealError::UnknownKek(kek_id.to_owned()))?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &kek.key,
            Some(nonce),
            kid.as_bytes(),
            ct,
            tag,
        )
        .map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rotation() {
        let old = Sealer::new(b"old-kek-old-kek-old-kek-old-kek-", &[]);
        let sealed = old.seal("kid-1", b"private key bytes").expect("seal");
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        let rotated = Sealer::new(
            b"new-kek-new-kek-new-kek-new-kek-",
            &[b"old-kek-old-kek-old-kek-old-kek-".to_vec()],
        );
        assert_ne!(rotated.current_id(), old.current_id());
        assert_eq!(
            rotated
                .open("kid-1", old.current_id(), &sealed)
                .expect("open"),
            b"private key bytes"
        );
        // Bound to its kid.
        assert!(matches!(
            rotated.open("kid-2", old.current_id(), &sealed),
            Err(SealError::Corrupt)
        ));
        // Without the old secret it cannot be opened.
        let stranger = Sealer::new(b"new-kek-new-kek-new-kek-new-kek-", &[]);
        assert!(matches!(
            stranger.open("kid-1", old.current_id(), &sealed),
            Err(SealError::UnknownKek(_))
        ));
    }
}
