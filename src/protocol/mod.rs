//! Pure wire formats of the marketplace protocol: canonical JSON, signatures, result codes and typed
//! requests, one file per scheme. Nothing here touches the network, the database or the clock; everything is unit-tested
//! against `shared/spec/vectors.json` (see `tests/vectors.rs`).

pub mod apig;
pub mod ascii_json;
pub mod body_sign;
pub mod canonical;
pub mod keys;
pub mod result;
pub mod usage_sign;
pub mod v1;
pub mod v2;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`, ready to finalise or verify.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}
