//! The order query's answer, parsed tolerantly.
//!
//! The official field table of `orderInfo` was not available (open-api.md §2); the shape follows a
//! third-party sample's logged answer for `MOCKPERIODYEARNEW`. So every member is optional, numbers may
//! arrive as strings, and members we do not know are kept in `extra` (serialised back unchanged).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderQueryResponse {
    pub result_code: String,
    #[serde(default)]
    pub result_msg: Option<String>,
    #[serde(default)]
    pub order_info: Option<OrderInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderInfo {
    pub order_id: Option<String>,
    /// `NEW` observed; other values are not documented and kept as sent.
    pub order_type: Option<String>,
    pub create_time: Option<String>,
    #[serde(deserialize_with = "list_or_null")]
    pub order_line: Vec<OrderLine>,
    pub buyer_info: Option<BuyerInfo>,
    #[serde(deserialize_with = "list_or_null")]
    pub extend_params: Vec<ExtendParam>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OrderInfo {
    pub fn line(&self, order_line_id: &str) -> Option<&OrderLine> {
        self.order_line.iter().find(|line| line.order_line_id.as_deref() == Some(order_line_id))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderLine {
    pub order_line_id: Option<String>,
    /// `PERIOD` observed; others kept as sent.
    pub charging_mode: Option<String>,
    pub period_type: Option<String>,
    #[serde(deserialize_with = "lenient_integer")]
    pub period_number: Option<i64>,
    /// UTC `yyyyMMddHHmmss`.
    pub expire_time: Option<String>,
    #[serde(deserialize_with = "list_or_null")]
    pub product_info: Vec<OrderProduct>,
    #[serde(deserialize_with = "list_or_null")]
    pub extend_params: Vec<ExtendParam>,
    #[serde(deserialize_with = "lenient_text")]
    pub currency: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub currency_after_discount: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OrderLine {
    /// What koogate keeps of the line as the instance's plan (JSON).
    pub fn plan(&self) -> Value {
        let product = self.product_info.first();
        serde_json::json!({
            "productId": product.and_then(|p| p.product_id.clone()),
            "skuCode": product.and_then(|p| p.sku_code.clone()),
            "linearValue": product.and_then(|p| p.linear_value),
            "productName": product.and_then(|p| p.product_name.clone()),
            "chargingMode": self.charging_mode,
            "periodType": self.period_type,
            "periodNumber": self.period_number,
            "expireTime": self.expire_time,
        })
    }

    pub fn product_id(&self) -> Option<&str> {
        self.product_info.first().and_then(|p| p.product_id.as_deref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderProduct {
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    #[serde(deserialize_with = "lenient_integer")]
    pub linear_value: Option<i64>,
    pub product_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuyerInfo {
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_real_name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub customer_type: Option<String>,
    pub mobile_phone: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExtendParam {
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub value: Option<String>,
}

fn list_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A number or a numeric string; anything else reads as absent.
fn lenient_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

/// A string, or a number/boolean written as text.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_observed_shape_and_keeps_unknown_members() {
        let text = r#"{"resultCode":"MKT.0000","resultMsg":"success","orderInfo":{"orderId":"MOCKPERIODYEARNEW","orderType":"NEW","createTime":"20241121090846",
            "orderLine":[{"orderLineId":"MOCKPERIODYEARNEW-000001","chargingMode":"PERIOD","periodType":"year","periodNumber":"1","expireTime":"20251121235959",
            "productInfo":[{"productId":"P1","skuCode":"S1","linearValue":20,"productName":"Basic","future":true}],"extendParams":null,"currency":100,"currencyAfterDiscount":"90"}],
            "buyerInfo":{"customerId":"c1","customerName":"n","customerType":1,"mobilePhone":null},"extendParams":[],"newMember":{"x":1}}}"#;
        let response: OrderQueryResponse = serde_json::from_str(text).unwrap();
        let info = response.order_info.unwrap();
        let line = info.line("MOCKPERIODYEARNEW-000001").unwrap();
        assert_eq!(line.period_number, Some(1));
        assert_eq!(line.currency.as_deref(), Some("100"));
        assert_eq!(line.product_info[0].linear_value, Some(20));
        assert_eq!(line.product_info[0].extra["future"], true);
        assert!(line.extend_params.is_empty());
        assert_eq!(info.buyer_info.as_ref().unwrap().customer_type.as_deref(), Some("1"));
        assert_eq!(info.extra["newMember"]["x"], 1);
        assert!(info.line("other").is_none());
    }

    #[test]
    fn missing_members_are_absent() {
        let response: OrderQueryResponse = serde_json::from_str(r#"{"resultCode":"MKT.0100"}"#).unwrap();
        assert!(response.order_info.is_none() && response.result_msg.is_none());
        let info: OrderInfo = serde_json::from_str("{}").unwrap();
        assert!(info.order_line.is_empty());
    }
}
