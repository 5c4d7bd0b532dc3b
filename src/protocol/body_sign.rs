//! The `Body-Sign` response header (signing.md (d)): `Base64(HMAC-SHA256(key, body))` over the exact
//! bytes sent, in the exact header form the marketplace's checker reads.

use super::hmac;
use base64::Engine;
use hmac::Mac;

/// `Base64(HMAC_SHA256(key, body))` for the `Body-Sign` header.
pub fn body_signature(key: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac(key.as_bytes(), &[body]).finalize().into_bytes())
}

/// The full `Body-Sign` header value, in the exact form the marketplace's checker expects.
pub fn body_sign_header(key: &str, body: &[u8]) -> String {
    format!("sign_type=\"HMAC-SHA256\", signature=\"{}\"", body_signature(key, body))
}
