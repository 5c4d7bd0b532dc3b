//! Secrets at rest: initial passwords are stored sealed with AES-256-GCM.
//!
//! The 256-bit key is derived from `security.encryption_key` with HKDF-SHA256, so any sufficiently
//! random string works as the setting. A sealed value is `v1:` + Base64(nonce ‖ ciphertext ‖ tag);
//! the version prefix leaves room for key rotation later.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    /// Separate HKDF output for deterministic derivations, so they never reuse the encryption key.
    derive_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a sealed value could not be opened (wrong security.encryption_key, or damaged data)")]
pub struct OpenError;

impl Sealer {
    pub fn new(secret: &SecretString) -> Sealer {
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"koogate"), secret.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        hkdf.expand(b"koogate app_info password v1", &mut key).expect("32 bytes is a valid HKDF-SHA256 output length");
        let mut derive_key = [0u8; 32];
        hkdf.expand(b"koogate derive v1", &mut derive_key).expect("32 bytes is a valid HKDF-SHA256 output length");
        Sealer { cipher: Aes256Gcm::new(&key.into()), derive_key }
    }

    /// 32 bytes that depend only on the secret and `context`: HMAC-SHA256 under a derived key.
    pub fn derive(&self, context: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.derive_key).expect("HMAC accepts 32-byte keys");
        mac.update(context);
        mac.finalize().into_bytes().into()
    }

    /// Seals `plaintext`, bound to `context` (e.g. the instance ID): it opens only with the same context,
    /// so sealed values cannot be swapped between rows.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() };
        let ciphertext = self.cipher.encrypt(Nonce::from_slice(&nonce), payload).expect("AES-GCM encryption of a short value cannot fail");
        let mut packed = nonce.to_vec();
        packed.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", STANDARD.encode(packed))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, OpenError> {
        let packed = sealed.strip_prefix(PREFIX).and_then(|b64| STANDARD.decode(b64).ok()).ok_or(OpenError)?;
        if packed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = packed.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: context.as_bytes() };
        let plaintext = self.cipher.decrypt(Nonce::from_slice(nonce), payload).map_err(|_| OpenError)?;
        String::from_utf8(plaintext).map(SecretString::from).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces() {
        let sealer = Sealer::new(&SecretString::from("a secret"));
        let a = sealer.seal("pässword", "i-1");
        let b = sealer.seal("pässword", "i-1");
        assert_ne!(a, b);
        assert!(!a.contains("pässword"));
        assert_eq!(sealer.open(&a, "i-1").unwrap().expose_secret(), "pässword");
        assert_eq!(sealer.open(&a, "i-2").unwrap_err(), OpenError, "bound to its context");
    }

    #[test]
    fn derivations_are_deterministic_per_secret_and_context() {
        let one = Sealer::new(&SecretString::from("one"));
        assert_eq!(one.derive(b"a"), one.derive(b"a"));
        assert_ne!(one.derive(b"a"), one.derive(b"b"));
        assert_ne!(one.derive(b"a"), Sealer::new(&SecretString::from("two")).derive(b"a"));
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let sealed = Sealer::new(&SecretString::from("one")).seal("pw", "c");
        assert_eq!(Sealer::new(&SecretString::from("two")).open(&sealed, "c").unwrap_err(), OpenError);
        let sealer = Sealer::new(&SecretString::from("one"));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(sealer.open(std::str::from_utf8(&tampered).unwrap(), "c").is_err());
        assert!(sealer.open("plain", "c").is_err());
        assert!(sealer.open("v1:AAAA", "c").is_err());
    }
}
