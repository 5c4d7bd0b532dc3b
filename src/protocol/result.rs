//! Result codes (spec README §4) and the response envelope every marketplace call gets.

use serde_json::{Map, Value};

/// The `resultCode` values koogate answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// 000000
    Success,
    /// 000001: missing or wrong signature, replayed nonce.
    AuthFailed,
    /// 000002: invalid parameter, stale timestamp, missing nonce, unknown activity.
    InvalidParam,
    /// 000003: the instance does not exist (or no longer does).
    InstanceNotFound,
    /// 000004: accepted, still being processed.
    InProgress,
    /// 000005: any other internal error (including an unreachable database).
    Internal,
}

impl ResultCode {
    pub fn code(self) -> &'static str {
        match self {
            ResultCode::Success => "000000",
            ResultCode::AuthFailed => "000001",
            ResultCode::InvalidParam => "000002",
            ResultCode::InstanceNotFound => "000003",
            ResultCode::InProgress => "000004",
            ResultCode::Internal => "000005",
        }
    }
}

/// Longest `resultMsg` the marketplace accepts.
pub const RESULT_MSG_MAX_CHARS: usize = 255;

/// A response envelope: `resultCode`, `resultMsg` and the call-specific members, in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub code: ResultCode,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl Envelope {
    pub fn success() -> Self {
        Envelope { code: ResultCode::Success, message: "success.".into(), extra: Map::new() }
    }

    pub fn refusal(code: ResultCode, message: impl Into<String>) -> Self {
        Envelope { code, message: message.into(), extra: Map::new() }
    }

    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.extra.insert(name.to_owned(), value);
        self
    }

    /// The body as a JSON value, with `resultMsg` cut to the marketplace's 255-character limit.
    pub fn to_value(&self) -> Value {
        let mut object = Map::with_capacity(2 + self.extra.len());
        object.insert("resultCode".into(), Value::String(self.code.code().into()));
        let message: String = self.message.chars().take(RESULT_MSG_MAX_CHARS).collect();
        object.insert("resultMsg".into(), Value::String(message));
        for (name, value) in &self.extra {
            object.insert(name.clone(), value.clone());
        }
        Value::Object(object)
    }

    /// The exact response bytes: compact JSON, ASCII only (non-ASCII as `\uXXXX`).
    pub fn to_bytes(&self) -> Vec<u8> {
        super::ascii_json::to_vec(&self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_orders_members_and_limits_message() {
        let long = "x".repeat(300);
        let body = Envelope::refusal(ResultCode::InvalidParam, long).with("instanceId", "i-1".into()).to_bytes();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("{\"resultCode\":\"000002\",\"resultMsg\":\"xxx"));
        assert!(text.ends_with(&format!("{}\",\"instanceId\":\"i-1\"}}", "x".repeat(10))));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["resultMsg"].as_str().unwrap().len(), RESULT_MSG_MAX_CHARS);
    }
}
