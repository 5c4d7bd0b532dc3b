//! Usage push, new and old (open-api.md §3–§5): the new push's body signature (signing.md (g)), the
//! record checks, and the records kept (duplicates marked as the marketplace would ignore them).

use super::{Answer, Api, CLOCK_WINDOW_MS, KeptUsageRecord, PlatformState, header};
use crate::protocol::apig::DATE_FORMAT;
use crate::protocol::usage_sign::usage_push_matches;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDateTime;
use secrecy::ExposeSecret;
use serde_json::Value;

/// Records per usage push (open-api.md §3).
const MAX_USAGE_RECORDS: usize = 1000;

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Text,
    /// UTC `yyyyMMdd'T'HHmmss'Z'`.
    Time,
    /// A decimal string > 0 with at most 4 decimals.
    Amount,
}

/// One member of a usage record: name, maximum length, kind, required.
pub(super) type Field = (&'static str, usize, Kind, bool);

pub(super) const NEW_USAGE_FIELDS: &[Field] = &[
    ("instance_id", 64, Kind::Text, true),
    ("record_time", 17, Kind::Time, true),
    ("begin_time", 17, Kind::Time, true),
    ("end_time", 17, Kind::Time, true),
    ("usage_value", 20, Kind::Amount, true),
    ("metering_sn", 64, Kind::Text, true),
    ("relate_pkg_instance", 64, Kind::Text, false),
];

pub(super) const OLD_USAGE_FIELDS: &[Field] = &[
    ("instance_id", 64, Kind::Text, true),
    ("product_id", 64, Kind::Text, true),
    ("record_time", 17, Kind::Time, true),
    ("begin_time", 17, Kind::Time, true),
    ("end_time", 17, Kind::Time, true),
    ("usage_value", 20, Kind::Amount, true),
    ("relate_pkg_instance", 64, Kind::Text, false),
];

fn is_usage_time(text: &str) -> bool {
    NaiveDateTime::parse_from_str(text, DATE_FORMAT).is_ok_and(|time| time.format(DATE_FORMAT).to_string() == text)
}

fn is_usage_value(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let well_formed =
        !whole.is_empty() && digits(whole) && digits(fraction) && fraction.len() <= 4 && !(text.contains('.') && fraction.is_empty());
    well_formed && text.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Checks one record against `fields`; the error names the offending member.
fn check_record(index: usize, record: &Value, fields: &[Field]) -> Result<(), String> {
    let Some(record) = record.as_object() else {
        return Err(format!("usage_records[{index}] is not an object"));
    };
    if let Some(unknown) = record.keys().find(|name| !fields.iter().any(|(known, ..)| known == name)) {
        return Err(format!("usage_records[{index}].{unknown} is not a known member"));
    }
    for &(name, max, kind, required) in fields {
        let text = match record.get(name) {
            Some(Value::String(text)) => text,
            None | Some(Value::Null) if !required => continue,
            None | Some(Value::Null) => return Err(format!("usage_records[{index}].{name} is required")),
            Some(_) => return Err(format!("usage_records[{index}].{name} must be a string")),
        };
        if (required && text.is_empty()) || text.chars().count() > max {
            return Err(format!("usage_records[{index}].{name} must have 1 to {max} characters"));
        }
        match kind {
            Kind::Time if !is_usage_time(text) => return Err(format!("usage_records[{index}].{name} is not UTC yyyyMMdd'T'HHmmss'Z'")),
            Kind::Amount if !is_usage_value(text) => {
                return Err(format!("usage_records[{index}].{name} must be a decimal > 0 with at most 4 decimals"));
            }
            _ => {}
        }
    }
    // Our addition: a window ending before it begins is refused (same-format times compare as text).
    let time = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
    if time("end_time") < time("begin_time") {
        return Err(format!("usage_records[{index}].end_time is before begin_time"));
    }
    Ok(())
}

impl PlatformState {
    /// The new usage push's header signature (signing.md (g)); refusals are HTTP 400 `MKT.0102`.
    pub(super) fn verify_usage_signature(&self, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Result<(), Answer> {
        let refuse = |detail: &str| Answer::market(StatusCode::BAD_REQUEST, "MKT.0102", detail);
        let Some(key) = &self.0.config.usage_key else {
            return Err(refuse("invalid body signature: no usage key is configured on this platform"));
        };
        let (Some(signature), Some(ts), Some(nonce)) = (header(headers, "signature"), header(headers, "ts"), header(headers, "nonce"))
        else {
            return Err(refuse("invalid body signature: the signature, ts and nonce headers are required"));
        };
        if signature.len() > 1000 || ts.len() > 20 || nonce.is_empty() || nonce.len() > 64 {
            return Err(Answer::market(
                StatusCode::BAD_REQUEST,
                "MKT.0101",
                "invalid parameter: signature (≤ 1000), ts (≤ 20) or nonce (1..64) has a bad length",
            ));
        }
        let ts_ms = ts.bytes().all(|b| b.is_ascii_digit()).then(|| ts.parse::<i64>().ok()).flatten();
        let Some(ts_ms) = ts_ms else {
            return Err(refuse("invalid body signature: ts is not Unix milliseconds"));
        };
        if (now_ms - ts_ms).abs() > CLOCK_WINDOW_MS {
            return Err(refuse("invalid body signature: ts is not within 15 minutes of now"));
        }
        if !usage_push_matches(key.expose_secret(), ts, nonce, body, signature) {
            return Err(refuse("invalid body signature"));
        }
        Ok(())
    }

    /// Validates a usage push body and keeps its records. Any invalid record refuses the whole call.
    pub(super) fn usage_push(&self, api: Api, body: &[u8], fields: &[Field], now_ms: i64) -> Result<Answer, Answer> {
        let invalid = |message: String| Answer::market(StatusCode::BAD_REQUEST, "MKT.0101", &format!("invalid parameter: {message}"));
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return Err(invalid("the body must be a JSON object".into()));
        };
        if let Some(unknown) = body.keys().find(|name| *name != "usage_records") {
            return Err(invalid(format!("{unknown} is not a known member")));
        }
        let Some(Value::Array(records)) = body.get("usage_records") else {
            return Err(invalid("usage_records (a list) is required".into()));
        };
        if records.is_empty() {
            return Err(invalid("usage_records is empty".into()));
        }
        if records.len() > MAX_USAGE_RECORDS {
            // Documented code for too many records (open-api.md §5).
            return Err(Answer::market(StatusCode::INTERNAL_SERVER_ERROR, "MKT.9003", "too many records: at most 1000 per call"));
        }
        for (index, record) in records.iter().enumerate() {
            check_record(index, record, fields).map_err(invalid)?;
        }
        let mut data = self.data();
        for record in records {
            let member = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let first = data.usage_keys.insert((member("instance_id"), member("begin_time"), member("end_time")));
            data.usage.push(KeptUsageRecord { at_ms: now_ms, api: api.name().to_owned(), record: record.clone(), duplicate: !first });
        }
        Ok(Answer::market(StatusCode::OK, "MKT.0000", "success"))
    }
}
