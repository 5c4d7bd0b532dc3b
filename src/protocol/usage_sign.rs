//! The new usage-push signature (signing.md (g)), headers `signature`, `ts` and `nonce`: what koogate
//! signs usage records with and what `sim platform` checks them with.

use super::hmac;
use base64::Engine;
use hmac::Mac;

/// New usage-push signature (signing.md (g)): `Base64(HMAC_SHA256(key, "ts=" + ts + "&nonce=" + nonce + "&body=" + body))`.
pub fn usage_push_signature(key: &str, ts: &str, nonce: &str, body: &[u8]) -> String {
    let mac = hmac(key.as_bytes(), &[b"ts=", ts.as_bytes(), b"&nonce=", nonce.as_bytes(), b"&body=", body]);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a received usage-push signature (Base64, compared after decoding).
pub fn usage_push_matches(key: &str, ts: &str, nonce: &str, body: &[u8], received_base64: &str) -> bool {
    let Ok(received) = base64::engine::general_purpose::STANDARD.decode(received_base64.trim()) else {
        return false;
    };
    hmac(key.as_bytes(), &[b"ts=", ts.as_bytes(), b"&nonce=", nonce.as_bytes(), b"&body=", body]).verify_slice(&received).is_ok()
}
