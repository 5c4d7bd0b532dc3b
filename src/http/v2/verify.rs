//! Everything checked before a V2 call reaches the pipeline: body size and type, JSON, timestamp window,
//! nonce presence and the signature (signing.md (a), "Verification procedure").
//!
//! Only the nonce replay check is left to the callback's transaction, because it must commit together
//! with the call's effects. Refusals carry the reason for the audit log; neither keys nor the received
//! signature ever appear in a reason or a log line.

use crate::config::{LOG_ONLY_MAX_SKEW_MS, Settings, WindowMode};
use crate::protocol::keys::{KeyRef, KeyType};
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v2::request::Activity;
use crate::protocol::v2::signature::{Match, parse_timestamp_ms, v2_verify};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// Longest nonce accepted (examples use 16 or 64 characters); bounds what the replay cache stores.
pub const NONCE_MAX_CHARS: usize = 128;

/// A call whose signature verified; its nonce is not yet claimed.
pub struct Verified {
    pub body: Bytes,
    pub object: Map<String, Value>,
    pub matched: Match,
    pub nonce: String,
    pub timestamp_ms: i64,
}

/// A call refused before any handler ran.
pub struct Refused {
    pub envelope: Envelope,
    /// Short machine-readable reason for the audit log's `verification` column.
    pub reason: &'static str,
    pub body: Option<Bytes>,
    pub object: Option<Map<String, Value>>,
}

impl Refused {
    fn new(code: ResultCode, reason: &'static str, message: impl Into<String>) -> Box<Refused> {
        Box::new(Refused { envelope: Envelope::refusal(code, message), reason, body: None, object: None })
    }

    fn with_body(mut self: Box<Self>, body: &Bytes, object: Option<&Map<String, Value>>) -> Box<Refused> {
        self.body = Some(body.clone());
        self.object = object.cloned();
        self
    }
}

/// The first value of each signing parameter in the (percent-decoded) query string.
#[derive(Default)]
struct SigningParams {
    signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
}

/// Reads the signing parameters with `+` kept literally (only `%XY` is decoded): nonces may contain a
/// raw `+`, and none of the three is ever form-encoded with `+` for a space.
fn signing_params(query: Option<&str>) -> SigningParams {
    let mut params = SigningParams::default();
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match percent_decode_str(name).decode_utf8_lossy().as_ref() {
            "signature" => &mut params.signature,
            "timestamp" => &mut params.timestamp,
            "nonce" => &mut params.nonce,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(percent_decode_str(value).decode_utf8_lossy().into_owned());
        }
    }
    params
}

/// Reads at most `limit` bytes; a declared or actual larger body is refused without reading it whole.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Box<Refused>> {
    let too_large =
        || Refused::new(ResultCode::InvalidParam, "body_too_large", format!("request body exceeds limits.max_body_bytes ({limit} bytes)"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(Refused::new(ResultCode::InvalidParam, "body_unreadable", "request body could not be read")),
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        // Tolerated: the body is still required to be JSON.
        return true;
    };
    let Ok(text) = value.to_str() else { return false };
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Runs every check of a V2 POST before its call runs. The key type follows the call: its activity's
/// (base activities: `basic`), with the fallback of `security.key_fallback`.
pub async fn verify_v2(
    settings: &Settings,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
    now_ms: i64,
) -> Result<Verified, Box<Refused>> {
    let body = read_body(headers, body, settings.limits.max_body_bytes).await?;
    if !is_json_content_type(headers) {
        return Err(Refused::new(ResultCode::InvalidParam, "content_type", "Content-Type must be application/json").with_body(&body, None));
    }
    let object = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(
                Refused::new(ResultCode::InvalidParam, "body_not_object", "request body must be a JSON object").with_body(&body, None)
            );
        }
        Err(_) => {
            return Err(Refused::new(ResultCode::InvalidParam, "body_not_json", "request body is not valid JSON").with_body(&body, None));
        }
    };
    let refuse = |code, reason, message: String| Err(Refused::new(code, reason, message).with_body(&body, Some(&object)));
    let expected = object.get("activity").and_then(Value::as_str).and_then(Activity::parse).map_or(KeyType::Basic, Activity::key_type);
    let params = signing_params(query);

    let Some(timestamp) = params.timestamp.filter(|t| !t.is_empty()) else {
        return refuse(ResultCode::InvalidParam, "timestamp_missing", "timestamp query parameter is required".into());
    };
    let Some(timestamp_ms) = parse_timestamp_ms(&timestamp) else {
        return refuse(ResultCode::InvalidParam, "timestamp_invalid", "timestamp must be Unix time in milliseconds".into());
    };
    let window_ms = settings.security.window_ms();
    if (now_ms - timestamp_ms).abs() > window_ms {
        match settings.security.enforce_window {
            WindowMode::Enforce => {
                return refuse(
                    ResultCode::InvalidParam,
                    "timestamp_outside_window",
                    format!("timestamp is more than {} s away from the server clock", settings.security.timestamp_window_secs),
                );
            }
            WindowMode::LogOnly if (now_ms - timestamp_ms).abs() > LOG_ONLY_MAX_SKEW_MS => {
                return refuse(
                    ResultCode::InvalidParam,
                    "timestamp_outside_window",
                    "timestamp is more than a day away from the server clock".into(),
                );
            }
            WindowMode::LogOnly => tracing::warn!(
                skew_ms = now_ms - timestamp_ms,
                "timestamp outside the window; accepted (security.enforce_window = log_only)"
            ),
        }
    }
    let Some(nonce) = params.nonce.filter(|n| !n.is_empty()) else {
        return refuse(ResultCode::InvalidParam, "nonce_missing", "nonce query parameter is required".into());
    };
    if nonce.chars().count() > NONCE_MAX_CHARS {
        return refuse(ResultCode::InvalidParam, "nonce_too_long", format!("nonce exceeds {NONCE_MAX_CHARS} characters"));
    }
    if !nonce.bytes().all(|b| b.is_ascii_graphic()) {
        return refuse(ResultCode::InvalidParam, "nonce_invalid", "nonce must be printable ASCII without spaces".into());
    }
    let Some(signature) = params.signature.filter(|s| !s.is_empty()) else {
        return refuse(ResultCode::AuthFailed, "signature_missing", "signature query parameter is required".into());
    };

    let key_types: Vec<KeyType> = if settings.security.key_fallback {
        std::iter::once(expected).chain(KeyType::V2_ORDER.into_iter().filter(|t| *t != expected)).collect()
    } else {
        vec![expected]
    };
    let keys = key_types
        .iter()
        .flat_map(|&key_type| settings.keys.of(key_type).0.iter().enumerate().map(move |(index, key)| KeyRef { key_type, index, key }));
    match v2_verify(keys, &nonce, &timestamp, &body, Some(&object), &signature) {
        Some(matched) => {
            if matched.key_type != expected {
                tracing::warn!(
                    expected = expected.as_str(),
                    matched = matched.key_type.as_str(),
                    "signature verified with a fallback key type"
                );
            }
            Ok(Verified { body, object, matched, nonce, timestamp_ms })
        }
        None => refuse(ResultCode::AuthFailed, "signature_mismatch", "signature verification failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_params_take_the_first_value_and_decode() {
        let params = signing_params(Some("nonce=a%2Bb&nonce=second&timestamp=1&other=x"));
        assert_eq!(params.nonce.as_deref(), Some("a+b"));
        assert_eq!(params.timestamp.as_deref(), Some("1"));
        assert!(params.signature.is_none());
        assert_eq!(signing_params(Some("nonce=a+b")).nonce.as_deref(), Some("a+b"), "a raw + stays a +");
        assert_eq!(signing_params(Some("%73ignature=abc")).signature.as_deref(), Some("abc"));
    }

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        assert!(is_json_content_type(&headers));
        for (value, ok) in [
            ("application/json;charset=utf8", true),
            ("Application/JSON", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json_content_type(&headers), ok, "{value}");
        }
    }
}
