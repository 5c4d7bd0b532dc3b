//! Typed V2 base-interface requests (saas-v2.md §3–§9) and their field validation.
//!
//! Parsing is the wire edge: once a request is one of these types every member is known present, of the
//! right type and within its documented length. A violation is a [`ParamError`] whose message names the
//! member, answered with `000002`.

use serde::Serialize;
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
}

/// Most instance IDs one `queryInstance` may ask for.
pub const QUERY_BATCH_MAX: usize = 100;

/// Reads members of one JSON object, producing errors that name the member.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Fields { object, prefix: "" }
    }

    fn nested(object: &'a Map<String, Value>, prefix: &'static str) -> Self {
        Fields { object, prefix }
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

    fn object(&self, member: &str) -> Result<&'a Map<String, Value>, ParamError> {
        match self.object.get(member) {
            Some(Value::Object(object)) => Ok(object),
            None | Some(Value::Null) => Err(invalid(format!("{} is required", self.name(member)))),
            Some(_) => Err(invalid(format!("{} must be an object", self.name(member)))),
        }
    }
}

/// `newInstance`: a paid (or trial) order line to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    pub order_id: String,
    pub order_line_id: String,
    pub business_id: String,
}

impl NewInstance {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        Ok(NewInstance {
            order_id: fields.required("orderId", 64)?,
            order_line_id: fields.required("orderLineId", 64)?,
            business_id: fields.required("businessId", 64)?,
        })
    }
}

/// `queryInstance`: one or up to 100 comma-separated instance IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInstance {
    pub instance_ids: Vec<String>,
}

impl QueryInstance {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        // The documented length (100) cannot hold 100 IDs; each ID is checked instead.
        let list = fields.required("instanceId", usize::MAX)?;
        let mut instance_ids: Vec<String> = Vec::new();
        for id in list.split(',').map(str::trim).filter(|id| !id.is_empty()) {
            if id.chars().count() > 64 {
                return Err(invalid("instanceId: each ID must be at most 64 characters"));
            }
            if !instance_ids.iter().any(|seen| seen == id) {
                instance_ids.push(id.to_owned());
            }
        }
        if instance_ids.is_empty() {
            return Err(invalid("instanceId is required"));
        }
        if instance_ids.len() > QUERY_BATCH_MAX {
            return Err(invalid(format!("instanceId lists more than {QUERY_BATCH_MAX} IDs")));
        }
        Ok(QueryInstance { instance_ids })
    }
}

/// `refreshInstance`: a new expiry after a trial conversion, renewal or renewal change/unsubscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshInstance {
    pub instance_id: String,
    /// The scene exactly as sent; see [`crate::domain::RefreshScene`] for how it is read.
    pub scene: String,
    pub order_id: String,
    pub order_line_id: String,
    pub product_id: Option<String>,
    /// `expireTime` as sent; parsed by the domain.
    pub expire_time: String,
}

impl RefreshInstance {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        Ok(RefreshInstance {
            instance_id: fields.required("instanceId", 64)?,
            scene: fields.required("scene", 64)?,
            order_id: fields.required("orderId", 64)?,
            order_line_id: fields.required("orderLineId", 64)?,
            product_id: fields.optional("productId", 64)?,
            expire_time: fields.required("expireTime", 20)?,
        })
    }
}

/// `updateInstanceStatus`: freeze or unfreeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateInstanceStatus {
    pub instance_id: String,
    pub status: String,
}

impl UpdateInstanceStatus {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        Ok(UpdateInstanceStatus { instance_id: fields.required("instanceId", 64)?, status: fields.required("status", 32)? })
    }
}

/// `releaseInstance`: the instance reached the end of its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInstance {
    pub instance_id: String,
    pub order_id: Option<String>,
    pub order_line_id: Option<String>,
}

impl ReleaseInstance {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        Ok(ReleaseInstance {
            instance_id: fields.required("instanceId", 64)?,
            order_id: fields.optional("orderId", 64)?,
            order_line_id: fields.optional("orderLineId", 64)?,
        })
    }
}

/// `upgradeInstance`: a paid upgrade/downgrade/scale order for an existing instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeInstance {
    pub instance_id: String,
    pub order_id: String,
    pub order_line_id: String,
}

impl UpgradeInstance {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        Ok(UpgradeInstance {
            instance_id: fields.required("instanceId", 64)?,
            order_id: fields.required("orderId", 64)?,
            order_line_id: fields.required("orderLineId", 64)?,
        })
    }
}

/// The target spec of a renewal change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductInfo {
    pub product_id: String,
    pub sku_code: String,
    pub linear_value: Option<i64>,
    pub product_name: String,
}

/// `changeInstanceCheck`: may the instance take this spec at renewal?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeInstanceCheck {
    pub instance_id: String,
    pub product_info: ProductInfo,
}

impl ChangeInstanceCheck {
    pub fn parse(fields: &Fields) -> Result<Self, ParamError> {
        let instance_id = fields.required("instanceId", 64)?;
        let info = Fields::nested(fields.object("productInfo")?, "productInfo.");
        Ok(ChangeInstanceCheck {
            instance_id,
            product_info: ProductInfo {
                product_id: info.required("productId", 64)?,
                sku_code: info.required("skuCode", 64)?,
                linear_value: info.optional_integer("linearValue")?,
                product_name: info.required("productName", 64)?,
            },
        })
    }
}

/// `appInfo` of `queryInstance` (plain text in V2). Limits: URLs 512, userName/password 128, memo 1024.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub front_end_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// One entry of `queryInstance`'s `info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn required_members_are_named_in_errors() {
        let body = object(json!({"orderId": "o", "orderLineId": 5}));
        let err = NewInstance::parse(&Fields::new(&body)).unwrap_err();
        assert_eq!(err.0, "orderLineId must be a string");
        let body = object(json!({"orderId": "o", "orderLineId": "l"}));
        assert_eq!(NewInstance::parse(&Fields::new(&body)).unwrap_err().0, "businessId is required");
        let body = object(json!({"orderId": "o".repeat(65), "orderLineId": "l", "businessId": "b"}));
        assert_eq!(NewInstance::parse(&Fields::new(&body)).unwrap_err().0, "orderId exceeds 64 characters");
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["o\u{0}", "o\n", "\u{7f}"] {
            let body = object(json!({"orderId": bad, "orderLineId": "l", "businessId": "b"}));
            assert_eq!(NewInstance::parse(&Fields::new(&body)).unwrap_err().0, "orderId contains control characters");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let body = object(json!({"orderId": "中".repeat(64), "orderLineId": "l", "businessId": "b"}));
        assert!(NewInstance::parse(&Fields::new(&body)).is_ok());
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
    fn query_batch_is_split_trimmed_deduplicated_and_bounded() {
        let body = object(json!({"instanceId": " a, b,,a ,c"}));
        assert_eq!(QueryInstance::parse(&Fields::new(&body)).unwrap().instance_ids, ["a", "b", "c"]);
        let many: Vec<String> = (0..101).map(|i| format!("i{i}")).collect();
        let body = object(json!({"instanceId": many.join(",")}));
        assert!(QueryInstance::parse(&Fields::new(&body)).unwrap_err().0.contains("more than 100"));
        let body = object(json!({"instanceId": " , "}));
        assert_eq!(QueryInstance::parse(&Fields::new(&body)).unwrap_err().0, "instanceId is required");
        let body = object(json!({"instanceId": format!("a,{}", "x".repeat(65))}));
        assert!(QueryInstance::parse(&Fields::new(&body)).unwrap_err().0.starts_with("instanceId"));
    }

    #[test]
    fn nested_product_info_members_are_named_with_their_path() {
        let body = object(json!({"instanceId": "i", "productInfo": {"productId": "p", "skuCode": "s"}}));
        assert_eq!(ChangeInstanceCheck::parse(&Fields::new(&body)).unwrap_err().0, "productInfo.productName is required");
        let body = object(json!({"instanceId": "i", "productInfo": "x"}));
        assert_eq!(ChangeInstanceCheck::parse(&Fields::new(&body)).unwrap_err().0, "productInfo must be an object");
        let body =
            object(json!({"instanceId": "i", "productInfo": {"productId": "p", "skuCode": "s", "productName": "n", "linearValue": "x"}}));
        assert_eq!(ChangeInstanceCheck::parse(&Fields::new(&body)).unwrap_err().0, "productInfo.linearValue must be an integer");
    }
}
