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
    /// 000100–000107: the merchant's refusals of a new order (spec README §4), see [`ResultCode::REFUSALS`].
    Refusal(Refusal),
}

/// Why a merchant refuses a new order (`newInstance`), as the marketplace lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 000100: no instance resource available.
    NoResource,
    /// 000101: the mobile number is empty or already used.
    MobilePhone,
    /// 000102: the e-mail address is empty or already used.
    Email,
    /// 000103: the product cannot be bought twice.
    AlreadyBought,
    /// 000104: the product's internal service failed.
    ProductError,
    /// 000105: the account already holds this entitlement.
    AlreadyEntitled,
    /// 000106: sold out.
    SoldOut,
    /// 000107: the SaaS e-mail domain is already taken.
    EmailDomain,
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
            ResultCode::Refusal(refusal) => match refusal {
                Refusal::NoResource => "000100",
                Refusal::MobilePhone => "000101",
                Refusal::Email => "000102",
                Refusal::AlreadyBought => "000103",
                Refusal::ProductError => "000104",
                Refusal::AlreadyEntitled => "000105",
                Refusal::SoldOut => "000106",
                Refusal::EmailDomain => "000107",
            },
        }
    }

    /// The merchant's refusal codes, 000100 to 000107.
    pub const REFUSALS: [Refusal; 8] = [
        Refusal::NoResource,
        Refusal::MobilePhone,
        Refusal::Email,
        Refusal::AlreadyBought,
        Refusal::ProductError,
        Refusal::AlreadyEntitled,
        Refusal::SoldOut,
        Refusal::EmailDomain,
    ];

    /// The code a `resultCode` names, if koogate answers it.
    pub fn parse(code: &str) -> Option<ResultCode> {
        [
            ResultCode::Success,
            ResultCode::AuthFailed,
            ResultCode::InvalidParam,
            ResultCode::InstanceNotFound,
            ResultCode::InProgress,
            ResultCode::Internal,
        ]
        .into_iter()
        .find(|known| known.code() == code)
        .or_else(|| ResultCode::refusal(code))
    }

    /// The refusal a code names (`000100`–`000107`), if it names one.
    pub fn refusal(code: &str) -> Option<ResultCode> {
        ResultCode::REFUSALS.into_iter().map(ResultCode::Refusal).find(|refusal| refusal.code() == code)
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
    fn refusal_codes_are_000100_to_000107() {
        let codes: Vec<&str> = ResultCode::REFUSALS.into_iter().map(|refusal| ResultCode::Refusal(refusal).code()).collect();
        assert_eq!(codes, ["000100", "000101", "000102", "000103", "000104", "000105", "000106", "000107"]);
        assert_eq!(ResultCode::refusal("000105"), Some(ResultCode::Refusal(Refusal::AlreadyEntitled)));
        assert_eq!(ResultCode::refusal("000000"), None);
        assert_eq!(ResultCode::refusal("000108"), None);
        assert_eq!(ResultCode::parse("000002"), Some(ResultCode::InvalidParam));
        assert_eq!(ResultCode::parse("000107"), Some(ResultCode::Refusal(Refusal::EmailDomain)));
        assert_eq!(ResultCode::parse("12345"), None);
    }

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
