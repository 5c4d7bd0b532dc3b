//! SaaS V1 wire primitives (saas-v1.md, signing.md (e)): the AES-CBC field encryption with its SHA1PRNG
//! key derivation.
//!
//! V1 is deprecated but still called for products listed under it, and it differs from V2 in every
//! primitive, so it lives in its own module. Everything here is pure (no I/O, no clock, no database);
//! the V1 adapter does the transport, the configuration and the result codes. The `Body-Sign` response
//! header, shared with V2, is in [`super::signature`].

pub mod aes;

pub use aes::{AesError, CREDENTIAL_FIELD_MAX_LEN, IV_LEN, KeySize, V1Cipher, decrypt_with_fallback, encrypted_len, random_iv, sha1prng};
