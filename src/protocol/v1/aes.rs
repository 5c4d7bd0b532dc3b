//! V1 field encryption (signing.md (e)): AES-CBC-PKCS5 with a key derived by Java's `SHA1PRNG`.
//!
//! V1 encrypts personal data the marketplace sends (`mobilePhone`, `email`) and the credentials koogate
//! returns (`appInfo.userName`, `appInfo.password`). A field is `IV16 + Base64(AES-CBC(key, IV16, UTF-8))`,
//! and the AES key is not the configured Key itself but the first output bytes of a Java
//! `SecureRandom("SHA1PRNG")` seeded with it, as `KeyGenerator("AES").init(bits, random)` draws them.
//! No crate implements that generator and the protocol requires it bit for bit, so [`sha1prng`] is
//! written here. Pure apart from [`V1Cipher::encrypt`], which draws a fresh IV from the operating
//! system's CSPRNG; errors never contain the key or the plaintext.

use aes::{Aes128, Aes256};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha1::{Digest, Sha1};

/// Length of the IV prefix of every encrypted field, in characters (= bytes, it is ASCII).
pub const IV_LEN: usize = 16;
/// Maximum length of an encrypted `appInfo.userName` / `appInfo.password`, IV included (saas-v1.md §2).
pub const CREDENTIAL_FIELD_MAX_LEN: usize = 128;
const BLOCK: usize = 16;
const SHA1_LEN: usize = 20;

/// Decoder for the ciphertext part: standard alphabet, `=` padding optional (the value may have passed
/// through hands that strip it); non-canonical trailing bits are still refused.
const LENIENT_BASE64: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent));

/// The AES key size; on the wire it is the response member `encryptType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySize {
    /// `encryptType` `"2"`.
    Aes128,
    /// `encryptType` `"1"`, the documented default and what koogate sends.
    Aes256,
}

impl KeySize {
    pub const fn bits(self) -> u32 {
        match self {
            KeySize::Aes128 => 128,
            KeySize::Aes256 => 256,
        }
    }

    pub const fn bytes(self) -> usize {
        self.bits() as usize / 8
    }

    /// From a configured bit count (`v1.request_encrypt_bits`).
    pub fn from_bits(bits: u32) -> Option<KeySize> {
        match bits {
            128 => Some(KeySize::Aes128),
            256 => Some(KeySize::Aes256),
            _ => None,
        }
    }

    /// From an `encryptType` value: `"1"` → AES-256, `"2"` → AES-128.
    pub fn from_encrypt_type(value: &str) -> Option<KeySize> {
        match value.trim() {
            "1" => Some(KeySize::Aes256),
            "2" => Some(KeySize::Aes128),
            _ => None,
        }
    }

    /// The `encryptType` value announcing this size.
    pub const fn encrypt_type(self) -> &'static str {
        match self {
            KeySize::Aes128 => "2",
            KeySize::Aes256 => "1",
        }
    }

    /// The other size: the fallback when a request field does not decrypt with the configured one.
    pub const fn other(self) -> KeySize {
        match self {
            KeySize::Aes128 => KeySize::Aes256,
            KeySize::Aes256 => KeySize::Aes128,
        }
    }
}

/// Why a V1 field could not be encrypted or decrypted. Carries neither key nor plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AesError {
    #[error("the IV must be 16 characters from [A-Za-z0-9]")]
    InvalidIv,
    #[error("the encrypted value does not start with a 16-character ASCII IV")]
    MissingIv,
    #[error("the ciphertext after the IV is not Base64")]
    NotBase64,
    #[error("the ciphertext is not a non-empty multiple of 16 bytes")]
    CiphertextLength,
    #[error("the value does not decrypt: bad padding (wrong key or key size, or a damaged value)")]
    Padding,
    #[error("the decrypted value is not UTF-8 (wrong key or key size, or a damaged value)")]
    NotUtf8,
}

impl AesError {
    /// Whether the other key size might succeed: the value was well-formed but did not decrypt.
    pub fn may_be_wrong_key(self) -> bool {
        matches!(self, AesError::Padding | AesError::NotUtf8)
    }
}

/// The first `out.len()` bytes that Java's `SecureRandom.getInstance("SHA1PRNG")` returns from one
/// `nextBytes` call after `setSeed(seed)` on a fresh instance (`sun.security.provider.SecureRandom`).
///
/// The generator keeps a 20-byte state, initially `SHA1(seed)`. Each output block is `SHA1(state)`;
/// after each block the state becomes `state + block + 1`, added byte by byte from index 0 with Java's
/// *signed* bytes: the carry is `v >> 8` of an `int`, so it can be -1, 0 or 1 (an unsigned carry
/// gives a different second block, and so a wrong AES-256 key). If the addition left the state
/// unchanged, `state[0]` is incremented. Bytes beyond the request are discarded, which is exact for a
/// single call on a fresh instance — the only way `KeyGenerator` uses it.
pub fn sha1prng(seed: &[u8], out: &mut [u8]) {
    let mut state: [u8; SHA1_LEN] = Sha1::digest(seed).into();
    for chunk in out.chunks_mut(SHA1_LEN) {
        let block: [u8; SHA1_LEN] = Sha1::digest(state).into();
        chunk.copy_from_slice(&block[..chunk.len()]);
        next_state(&mut state, &block);
    }
}

/// `updateState` of the Java provider.
fn next_state(state: &mut [u8; SHA1_LEN], block: &[u8; SHA1_LEN]) {
    let mut carry: i32 = 1;
    let mut changed = false;
    for (byte, &out) in state.iter_mut().zip(block) {
        let v = i32::from(*byte as i8) + i32::from(out as i8) + carry;
        let t = v as u8;
        changed |= *byte != t;
        *byte = t;
        carry = v >> 8;
    }
    if !changed {
        state[0] = state[0].wrapping_add(1);
    }
}

/// The length of the field that encrypting `plaintext_len` UTF-8 bytes produces, IV included; compare
/// with [`CREDENTIAL_FIELD_MAX_LEN`] before sending credentials.
pub const fn encrypted_len(plaintext_len: usize) -> usize {
    let padded = (plaintext_len / BLOCK + 1) * BLOCK;
    IV_LEN + padded.div_ceil(3) * 4
}

/// Whether a credential of `plaintext_len` bytes still fits the marketplace's 128 characters encrypted.
pub const fn fits_credential_field(plaintext_len: usize) -> bool {
    encrypted_len(plaintext_len) <= CREDENTIAL_FIELD_MAX_LEN
}

/// A fresh IV: 16 characters drawn uniformly from `[A-Za-z0-9]` by the operating system's CSPRNG.
pub fn random_iv() -> String {
    rand::rngs::OsRng.sample_iter(&Alphanumeric).take(IV_LEN).map(char::from).collect()
}

/// The AES key derived from a V1 Key for one key size. `Debug` does not show the key.
#[derive(Clone)]
pub struct V1Cipher {
    key: [u8; 32],
    size: KeySize,
}

impl std::fmt::Debug for V1Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V1Cipher(AES-{}, ..)", self.size.bits())
    }
}

impl V1Cipher {
    /// Derives the AES key: `sha1prng(Key as UTF-8)`, the first 16 or 32 bytes.
    pub fn new(key: &str, size: KeySize) -> V1Cipher {
        let mut bytes = [0u8; 32];
        sha1prng(key.as_bytes(), &mut bytes[..size.bytes()]);
        V1Cipher { key: bytes, size }
    }

    pub fn size(&self) -> KeySize {
        self.size
    }

    /// `iv + Base64(AES-CBC-PKCS5(plaintext))` with the given IV, which must be 16 characters from
    /// `[A-Za-z0-9]`. Deterministic: for tests and vectors; responses use [`V1Cipher::encrypt`].
    ///
    /// Spec vector `aes-001`:
    /// ```
    /// use koogate::protocol::v1::{KeySize, V1Cipher};
    /// let cipher = V1Cipher::new("my-test-key-123", KeySize::Aes128);
    /// assert_eq!(cipher.encrypt_with_iv("fdtest", "t00349j083UC8Og7").unwrap(), "t00349j083UC8Og7B3PDcOk6rDA3uOZqNHufww==");
    /// ```
    pub fn encrypt_with_iv(&self, plaintext: &str, iv: &str) -> Result<String, AesError> {
        if iv.len() != IV_LEN || !iv.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AesError::InvalidIv);
        }
        let iv_bytes = iv.as_bytes();
        let key = &self.key[..self.size.bytes()];
        let ciphertext = match self.size {
            KeySize::Aes128 => cbc::Encryptor::<Aes128>::new_from_slices(key, iv_bytes)
                .expect("16-byte key and IV")
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
            KeySize::Aes256 => cbc::Encryptor::<Aes256>::new_from_slices(key, iv_bytes)
                .expect("32-byte key and 16-byte IV")
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
        };
        Ok(format!("{iv}{}", STANDARD.encode(ciphertext)))
    }

    /// Encrypts with a fresh random IV (a repeated call for the same plaintext gives another field).
    pub fn encrypt(&self, plaintext: &str) -> String {
        self.encrypt_with_iv(plaintext, &random_iv()).expect("random_iv yields 16 alphanumerics")
    }

    /// Decrypts a received field. Spaces are first turned back into `+` (a form decoding may have
    /// changed them); the first 16 characters are the IV and must be printable ASCII.
    pub fn decrypt(&self, field: &str) -> Result<String, AesError> {
        let field = field.replace(' ', "+");
        let (iv, body) = match field.as_bytes().get(..IV_LEN) {
            Some(iv) if iv.iter().all(u8::is_ascii_graphic) => (iv, &field[IV_LEN..]),
            _ => return Err(AesError::MissingIv),
        };
        let ciphertext = LENIENT_BASE64.decode(body).map_err(|_| AesError::NotBase64)?;
        if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
            return Err(AesError::CiphertextLength);
        }
        let key = &self.key[..self.size.bytes()];
        let plaintext = match self.size {
            KeySize::Aes128 => {
                cbc::Decryptor::<Aes128>::new_from_slices(key, iv).expect("16-byte key and IV").decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
            }
            KeySize::Aes256 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
                .expect("32-byte key and 16-byte IV")
                .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext),
        }
        .map_err(|_| AesError::Padding)?;
        String::from_utf8(plaintext).map_err(|_| AesError::NotUtf8)
    }
}

/// Decrypts a request field with the configured size and, if it does not decrypt (padding or UTF-8),
/// with the other one; returns the plaintext and the size that worked. A malformed field fails at once
/// with its own error; if both sizes fail, the error of the configured size is returned.
pub fn decrypt_with_fallback(key: &str, preferred: KeySize, field: &str) -> Result<(String, KeySize), AesError> {
    match V1Cipher::new(key, preferred).decrypt(field) {
        Ok(plaintext) => Ok((plaintext, preferred)),
        Err(error) if error.may_be_wrong_key() => {
            let other = preferred.other();
            V1Cipher::new(key, other).decrypt(field).map(|plaintext| (plaintext, other)).map_err(|_| error)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "my-test-key-123";

    #[test]
    fn state_update_uses_signed_carries() {
        // signing.md (e), worked derivation.
        let mut state: [u8; 20] = Sha1::digest(KEY).into();
        assert_eq!(hex::encode(state), "457ea94e2d5dd94c52e28b31b333fb85f1bbcda1");
        let block: [u8; 20] = Sha1::digest(state).into();
        assert_eq!(hex::encode(block), "a5dfa47ef10defe924d25685ba9ca55fcbe3a552");
        next_state(&mut state, &block);
        assert_eq!(hex::encode(state), "eb5c4dcb1e6ac83476b4e0b56cce9fe3bb9d71f2");
        assert_eq!(hex::encode(Sha1::digest(state)), "239db9eefa0841b8731cafda0b9ec46e1cede9d5");
    }

    #[test]
    fn unchanged_state_is_bumped() {
        // With signed carries, [7; 20] is left unchanged by the block [-1, 0, 0, …]: -1 + 1 cancels at
        // index 0 and, 7 being non-negative, no carry goes on. (Unsigned arithmetic would need all 0xFF.)
        let mut state = [7u8; 20];
        let mut block = [0u8; 20];
        block[0] = 0xFF;
        next_state(&mut state, &block);
        assert_eq!(state[0], 8);
        assert_eq!(&state[1..], &[7u8; 19]);
    }

    #[test]
    fn output_is_a_prefix_of_longer_output() {
        let mut short = [0u8; 16];
        let mut long = [0u8; 45];
        sha1prng(b"seed", &mut short);
        sha1prng(b"seed", &mut long);
        assert_eq!(short, long[..16]);
        let mut nothing = [0u8; 0];
        sha1prng(b"seed", &mut nothing);
    }

    #[test]
    fn round_trip_both_sizes_with_random_ivs() {
        for size in [KeySize::Aes128, KeySize::Aes256] {
            let cipher = V1Cipher::new(KEY, size);
            for plaintext in ["", "a", "exactly16bytes!!", "管理员-administrator-0001"] {
                let first = cipher.encrypt(plaintext);
                let second = cipher.encrypt(plaintext);
                assert_ne!(first[..IV_LEN], second[..IV_LEN], "fresh IV per value");
                assert!(first[..IV_LEN].bytes().all(|b| b.is_ascii_alphanumeric()));
                assert_eq!(first.len(), encrypted_len(plaintext.len()));
                assert_eq!(cipher.decrypt(&first).unwrap(), plaintext);
            }
        }
    }

    #[test]
    fn a_64_character_user_name_fits_the_field() {
        let user = "u".repeat(64);
        let field = V1Cipher::new(KEY, KeySize::Aes256).encrypt(&user);
        assert_eq!(field.len(), 124);
        assert!(field.len() <= CREDENTIAL_FIELD_MAX_LEN);
        assert!(encrypted_len(79) <= CREDENTIAL_FIELD_MAX_LEN);
        assert!(encrypted_len(80) > CREDENTIAL_FIELD_MAX_LEN);
    }

    #[test]
    fn wrong_key_or_size_fails_cleanly() {
        let field = V1Cipher::new(KEY, KeySize::Aes256).encrypt_with_iv("15905222222", "Ab3dE5gH7jK9mN1p").unwrap();
        let error = V1Cipher::new(KEY, KeySize::Aes128).decrypt(&field).unwrap_err();
        assert!(error.may_be_wrong_key(), "{error:?}");
        let error = V1Cipher::new("another-key-456", KeySize::Aes256).decrypt(&field).unwrap_err();
        assert!(error.may_be_wrong_key(), "{error:?}");
        assert_eq!(decrypt_with_fallback(KEY, KeySize::Aes128, &field), Ok(("15905222222".to_owned(), KeySize::Aes256)));
        assert_eq!(decrypt_with_fallback(KEY, KeySize::Aes256, &field), Ok(("15905222222".to_owned(), KeySize::Aes256)));
        assert!(decrypt_with_fallback("another-key-456", KeySize::Aes256, &field).unwrap_err().may_be_wrong_key());
    }

    #[test]
    fn tampered_ciphertext_or_iv_does_not_return_the_plaintext() {
        let cipher = V1Cipher::new(KEY, KeySize::Aes128);
        let field = cipher.encrypt_with_iv("buyer@example.com", "Xq7Lm2Pz9Rt4Vw6Y").unwrap();
        // Changing the last ciphertext block breaks the padding.
        let mut bytes = STANDARD.decode(&field[IV_LEN..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let tampered = format!("{}{}", &field[..IV_LEN], STANDARD.encode(&bytes));
        assert!(cipher.decrypt(&tampered).is_err());
        // Changing the IV changes the first block of plaintext (CBC is not authenticated).
        let other_iv = format!("Y{}", &field[1..]);
        assert_ne!(cipher.decrypt(&other_iv).ok().as_deref(), Some("buyer@example.com"));
    }

    #[test]
    fn spaces_from_form_decoding_are_repaired() {
        let cipher = V1Cipher::new("Tk9oX2V4YW1wbGVfdjFfa2V5XzAx", KeySize::Aes128);
        let field = "Xq7Lm2Pz9Rt4Vw6YyY+6I7g67c83FEclGlMniTJ20vfp7RamE7qNpL2vnak=";
        assert_eq!(cipher.decrypt(&field.replace('+', " ")).unwrap(), "buyer@example.com");
        assert_eq!(cipher.decrypt(field.trim_end_matches('=')).unwrap(), "buyer@example.com", "padding optional");
    }

    #[test]
    fn malformed_fields() {
        let cipher = V1Cipher::new(KEY, KeySize::Aes256);
        assert_eq!(cipher.decrypt(""), Err(AesError::MissingIv));
        assert_eq!(cipher.decrypt("short"), Err(AesError::MissingIv));
        assert_eq!(cipher.decrypt("t00349j083UC8Og"), Err(AesError::MissingIv));
        assert_eq!(cipher.decrypt("t00349j083UC8O\u{e9}sabsvKUVsGB8cbqKqAtMZA=="), Err(AesError::MissingIv));
        assert_eq!(cipher.decrypt("t00349j083UC8Og\tsabsvKUVsGB8cbqKqAtMZA=="), Err(AesError::MissingIv));
        assert_eq!(cipher.decrypt("t00349j083UC8Og7"), Err(AesError::CiphertextLength));
        assert_eq!(cipher.decrypt("t00349j083UC8Og7!!!!"), Err(AesError::NotBase64));
        assert_eq!(cipher.decrypt("t00349j083UC8Og7AAAA"), Err(AesError::CiphertextLength));
        assert_eq!(decrypt_with_fallback(KEY, KeySize::Aes256, "t00349j083UC8Og7!!!!"), Err(AesError::NotBase64));
    }

    #[test]
    fn encryption_demands_an_alphanumeric_iv() {
        let cipher = V1Cipher::new(KEY, KeySize::Aes256);
        for iv in ["", "t00349j083UC8Og", "t00349j083UC8Og77", "t00349j083UC8Og+", "t00349j083UC8Og\u{e9}"] {
            assert_eq!(cipher.encrypt_with_iv("x", iv), Err(AesError::InvalidIv), "{iv:?}");
        }
    }

    #[test]
    fn key_sizes_and_encrypt_types() {
        assert_eq!(KeySize::from_encrypt_type("1"), Some(KeySize::Aes256));
        assert_eq!(KeySize::from_encrypt_type("2"), Some(KeySize::Aes128));
        assert_eq!(KeySize::from_encrypt_type("3"), None);
        assert_eq!(KeySize::from_bits(128), Some(KeySize::Aes128));
        assert_eq!(KeySize::from_bits(192), None);
        for size in [KeySize::Aes128, KeySize::Aes256] {
            assert_eq!(KeySize::from_encrypt_type(size.encrypt_type()), Some(size));
            assert_eq!(KeySize::from_bits(size.bits()), Some(size));
            assert_eq!(size.other().other(), size);
        }
        assert_eq!(format!("{:?}", V1Cipher::new(KEY, KeySize::Aes256)), "V1Cipher(AES-256, ..)");
    }
}
