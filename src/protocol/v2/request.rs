//! Reading V2 request bodies (saas-v2.md §3–§9): the activities, and member access that validates type
//! and documented length as it reads.
//!
//! The V2 adapter (`crate::http::v2`) builds its commands with these; a violation is a [`ParamError`]
//! whose message names the member (with its path for nested objects), answered with `000002`.

use crate::protocol::keys::KeyType;
use serde_json::{Map, Value};
use std::fmt;

/// A rejected request member; the message always names the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(pub String);

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamError {}

fn invalid(message: impl Into<String>) -> ParamError {
    ParamError(message.into())
}

/// The seven V2 base activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    NewInstance,
    QueryInstance,
    RefreshInstance,
    UpdateInstanceStatus,
    ReleaseInstance,
    UpgradeInstance,
    ChangeInstanceCheck,
}

impl Activity {
    pub fn parse(name: &str) -> Option<Activity> {
        Some(match name {
            "newInstance" => Activity::NewInstance,
            "queryInstance" => Activity::QueryInstance,
            "refreshInstance" => Activity::RefreshInstance,
            "updateInstanceStatus" => Activity::UpdateInstanceStatus,
            "releaseInstance" => Activity::ReleaseInstance,
            "upgradeInstance" => Activity::UpgradeInstance,
            "changeInstanceCheck" => Activity::ChangeInstanceCheck,
            _ => return None,
        })
    }

    /// The key type bound to the activity's interface family: the base interfaces use `basic`.
    pub fn key_type(self) -> KeyType {
        KeyType::Basic
    }
}

/// Reads members of one JSON object, producing errors that name the member.
#[derive(Debug)]
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// `productInfo.` for the members of a nested object, so errors name the full path.
    prefix: String,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Fields { object, prefix: String::new() }
    }

    /// The members of the mandatory object `member`.
    pub fn nested(&self, member: &str) -> Result<Fields<'a>, ParamError> {
        match self.object.get(member) {
            Some(Value::Object(object)) => Ok(Fields { object, prefix: format!("{}.", self.name(member)) }),
            None | Some(Value::Null) => Err(invalid(format!("{} is required", self.name(member)))),
            Some(_) => Err(invalid(format!("{} must be an object", self.name(member)))),
        }
    }

    fn name(&self, member: &str) -> String {
        format!("{}{}", self.prefix, member)
    }

    /// A mandatory, non-empty string of at most `max` characters.
    pub fn required(&self, member: &str, max: usize) -> Result<String, ParamError> {
        self.optional(member, max)?.ok_or_else(|| invalid(format!("{} is required", self.name(member))))
    }

    /// An optional string of at most `max` characters; absent, null and empty all read as `None`.
    pub fn optional(&self, member: &str, max: usize) -> Result<Option<String>, ParamError> {
        match self.object.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => {
                if text.chars().count() > max {
                    Err(invalid(format!("{} exceeds {} characters", self.name(member), max)))
                } else if text.chars().any(char::is_control) {
                    // No V2 member is free text; control characters (NUL above all) are never valid.
                    Err(invalid(format!("{} contains control characters", self.name(member))))
                } else {
                    Ok(Some(text.clone()))
                }
            }
            Some(_) => Err(invalid(format!("{} must be a string", self.name(member)))),
        }
    }

    /// An optional integer (a JSON number without a fraction, as the spec types it).
    pub fn optional_integer(&self, member: &str) -> Result<Option<i64>, ParamError> {
        match self.object.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(format!("{} must be an integer", self.name(member)))),
            Some(_) => Err(invalid(format!("{} must be an integer", self.name(member)))),
        }
    }

    /// `testFlag`: debug iff its trimmed string form is `1`; a string (≤ 2 characters) or a number.
    pub fn test_flag(&self) -> Result<bool, ParamError> {
        match self.object.get("testFlag") {
            None | Some(Value::Null) => Ok(false),
            Some(Value::String(text)) if text.chars().count() > 2 => Err(invalid("testFlag exceeds 2 characters")),
            Some(Value::String(text)) => Ok(text.trim() == "1"),
            Some(Value::Number(n)) => Ok(n.as_i64() == Some(1)),
            Some(_) => Err(invalid("testFlag must be a string or a number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn test_flag_forms() {
        for (value, debug) in
            [(json!("1"), true), (json!(" 1"), true), (json!(1), true), (json!("0"), false), (json!(0), false), (Value::Null, false)]
        {
            let body = object(json!({ "testFlag": value }));
            assert_eq!(Fields::new(&body).test_flag().unwrap(), debug, "{value}");
        }
        let body = object(json!({"testFlag": true}));
        assert!(Fields::new(&body).test_flag().unwrap_err().0.contains("testFlag"));
        let body = object(json!({"testFlag": "111"}));
        assert!(Fields::new(&body).test_flag().unwrap_err().0.contains("testFlag"));
    }

    #[test]
    fn members_are_named_in_errors() {
        let body = object(json!({"a": 5, "b": "x".repeat(65), "c": "o\u{0}", "n": {"m": 1}}));
        let fields = Fields::new(&body);
        assert_eq!(fields.required("a", 64).unwrap_err().0, "a must be a string");
        assert_eq!(fields.required("b", 64).unwrap_err().0, "b exceeds 64 characters");
        assert_eq!(fields.required("c", 64).unwrap_err().0, "c contains control characters");
        assert_eq!(fields.required("z", 64).unwrap_err().0, "z is required");
        let nested = fields.nested("n").unwrap();
        assert_eq!(nested.required("m", 64).unwrap_err().0, "n.m must be a string");
        assert_eq!(fields.nested("a").unwrap_err().0, "a must be an object");
        assert_eq!(fields.nested("z").unwrap_err().0, "z is required");
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let body = object(json!({"a": "中".repeat(64)}));
        assert!(Fields::new(&body).required("a", 64).is_ok());
    }
}
