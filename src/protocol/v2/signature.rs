//! V2 request signatures (signing.md (a)): base interfaces, License 2.0 and online-activation License.
//!
//! Pure functions over bytes and keys: the HTTP layer extracts the query parameters and the body, this
//! module says whether they verify and with which key and payload candidate. Received signatures are
//! hex-decoded and compared in constant time by `Mac::verify_slice`.

use crate::protocol::canonical::{Candidate, candidates};
use crate::protocol::keys::{KeyRef, KeyType};
use crate::protocol::{HmacSha256, hmac};
use hmac::Mac;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

/// `lowercase_hex(HMAC_SHA256(key, payload))`, the inner digest of the V2 scheme.
pub fn v2_inner(key: &str, payload: &[u8]) -> String {
    hex::encode(hmac(key.as_bytes(), &[payload]).finalize().into_bytes())
}

fn v2_outer_mac(key: &str, nonce: &str, timestamp: &str, payload: &[u8]) -> HmacSha256 {
    let inner = v2_inner(key, payload);
    hmac(key.as_bytes(), &[key.as_bytes(), nonce.as_bytes(), timestamp.as_bytes(), inner.as_bytes()])
}

/// The lower-case hex V2 signature of `payload`, as the marketplace computes it.
///
/// Spec vector `v2-sig-001`:
/// ```
/// use koogate::protocol::v2::signature::v2_sign;
/// let body = br#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
/// let nonce = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
/// assert_eq!(v2_sign("testkey", nonce, "1680508066618", body), "81b7b630a47c8f1e2498438f0b5aa4ec34d9a100e16b008a49d1b43a782fc877");
/// ```
pub fn v2_sign(key: &str, nonce: &str, timestamp: &str, payload: &[u8]) -> String {
    hex::encode(v2_outer_mac(key, nonce, timestamp, payload).finalize().into_bytes())
}

/// Constant-time check of a received hex signature (either case) against one key and payload.
pub fn v2_matches(key: &str, nonce: &str, timestamp: &str, payload: &[u8], received_hex: &str) -> bool {
    let Ok(received) = hex::decode(received_hex.trim()) else {
        return false;
    };
    v2_outer_mac(key, nonce, timestamp, payload).verify_slice(&received).is_ok()
}

/// What verified a request: recorded in the audit log, never the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub key_type: KeyType,
    /// Which of the type's configured keys (rotation) matched; the answer is signed with the same one.
    pub key_index: usize,
    pub candidate: Candidate,
}

impl Match {
    pub fn describe(&self) -> String {
        format!("{}/{}", self.key_type.as_str(), self.candidate.as_str())
    }
}

/// Tries every key (in the order given) against every payload candidate of the body.
pub fn v2_verify<'k>(
    keys: impl IntoIterator<Item = KeyRef<'k>>,
    nonce: &str,
    timestamp: &str,
    raw_body: &[u8],
    parsed: Option<&Map<String, Value>>,
    received_hex: &str,
) -> Option<Match> {
    let payloads = candidates(raw_body, parsed);
    for key in keys {
        for (candidate, payload) in &payloads {
            if v2_matches(key.key.expose_secret(), nonce, timestamp, payload, received_hex) {
                return Some(Match { key_type: key.key_type, key_index: key.index, candidate: *candidate });
            }
        }
    }
    None
}

/// Reads a V2 `timestamp` parameter as Unix milliseconds; values of at most 10 digits are seconds.
pub fn parse_timestamp_ms(raw: &str) -> Option<i64> {
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    if digits.len() <= 10 { value.checked_mul(1000) } else { Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_units() {
        assert_eq!(parse_timestamp_ms("1680508066618"), Some(1_680_508_066_618));
        assert_eq!(parse_timestamp_ms("1680508066"), Some(1_680_508_066_000));
        assert_eq!(parse_timestamp_ms("-1"), None);
        assert_eq!(parse_timestamp_ms("12a"), None);
        assert_eq!(parse_timestamp_ms(""), None);
        assert_eq!(parse_timestamp_ms("99999999999999999999999"), None);
    }

    #[test]
    fn rejects_malformed_hex_and_wrong_length() {
        assert!(!v2_matches("k", "n", "1", b"{}", "zz"));
        assert!(!v2_matches("k", "n", "1", b"{}", "abcd"));
        let good = v2_sign("k", "n", "1", b"{}");
        assert!(v2_matches("k", "n", "1", b"{}", &good));
        assert!(v2_matches("k", "n", "1", b"{}", &good.to_uppercase()));
        assert!(!v2_matches("other", "n", "1", b"{}", &good));
    }
}
