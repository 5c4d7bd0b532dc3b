//! Standard Webhooks signing (https://www.standardwebhooks.com): how koogate signs every request it
//! sends to the merchant's application — the event feed and provisioning calls — so that receivers
//! can verify them with existing libraries in any language.
//!
//! `webhook-signature: v1,<Base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))>`, where
//! the key is the Base64-decoded part of the `whsec_…` secret and the timestamp is in Unix seconds.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
/// Shortest key accepted (Standard Webhooks recommends 24 to 64 bytes).
const MIN_KEY_BYTES: usize = 24;

/// The HMAC key of a `whsec_<base64>` secret.
pub fn signing_key(secret: &SecretString) -> anyhow::Result<Vec<u8>> {
    let Some(encoded) = secret.expose_secret().trim().strip_prefix(SECRET_PREFIX) else {
        bail!("webhook.secret must start with {SECRET_PREFIX}");
    };
    let key = STANDARD.decode(encoded).ok().context("webhook.secret must be whsec_ followed by Base64")?;
    if key.len() < MIN_KEY_BYTES {
        bail!("webhook.secret must hold at least {MIN_KEY_BYTES} bytes of key");
    }
    Ok(key)
}

/// The `webhook-signature` header value for one message.
pub fn signature(key: &[u8], id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_example() {
        // The example of the Standard Webhooks reference libraries' test suites.
        let key = signing_key(&SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_checked() {
        assert!(signing_key(&SecretString::from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).is_err());
        assert!(signing_key(&SecretString::from("whsec_not base64!")).is_err());
        assert!(signing_key(&SecretString::from("whsec_c2hvcnQ=")).unwrap_err().to_string().contains("24 bytes"));
    }
}
