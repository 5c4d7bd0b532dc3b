//! Order query (open-api.md §2) and the orders it serves: the nine documented debug orders, and the
//! periodic orders `koogate sim run` registers for the orders it makes up.

use super::{Answer, PlatformState};
use axum::http::StatusCode;
use serde_json::{Value, json};

impl PlatformState {
    pub(super) fn order_query(&self, query: Option<&str>) -> Result<Answer, Answer> {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
        let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        // Our choice for parameter errors: HTTP 400 with the order envelope and the usage APIs' MKT.0101.
        let invalid = |message: &str| {
            Answer::new(StatusCode::BAD_REQUEST, json!({ "resultCode": "MKT.0101", "resultMsg": format!("invalid parameter: {message}") }))
        };
        let order_id = param("orderId").filter(|id| !id.is_empty()).ok_or_else(|| invalid("orderId is required"))?;
        let line_id = param("orderLineId").filter(|id| !id.is_empty());
        if order_id.chars().count() > 64 || line_id.is_some_and(|id| id.chars().count() > 64) {
            return Err(invalid("orderId and orderLineId have at most 64 characters"));
        }
        let found = self.data().orders.get(order_id).and_then(|order| match line_id {
            None => Some(order.clone()),
            Some(line_id) => only_line(order, line_id),
        });
        Ok(match found {
            Some(order) => Answer::new(StatusCode::OK, json!({ "resultCode": "MKT.0000", "resultMsg": "success", "orderInfo": order })),
            // The real code for an unknown order is not documented. Our choice: HTTP 200, MKT.0100.
            None => Answer::new(StatusCode::OK, json!({ "resultCode": "MKT.0100", "resultMsg": "order not found" })),
        })
    }
}

/// `order` with only the order line `line_id`, or `None` when it has no such line.
fn only_line(order: &Value, line_id: &str) -> Option<Value> {
    let mut order = order.clone();
    let lines = order.get_mut("orderLine")?.as_array_mut()?;
    lines.retain(|line| line.get("orderLineId").and_then(Value::as_str) == Some(line_id));
    (!lines.is_empty()).then_some(order)
}

/// One documented debug order (open-api.md §2). Only `NEW` / `PERIOD` / `year` are documented values;
/// every other `orderType`, `chargingMode` and `periodType` value below is our invention.
struct MockOrder {
    id: &'static str,
    order_type: &'static str,
    charging_mode: &'static str,
    /// (`periodType`, `periodNumber`); `None` for one-time and pay-per-use.
    period: Option<(&'static str, u32)>,
    /// UTC `yyyyMMddHHmmss`; `None` when nothing expires.
    expire_time: Option<&'static str>,
    /// The package quantity of a pay-per-use package.
    linear_value: Option<u32>,
    amount: &'static str,
}

const MOCK_ORDERS: &[MockOrder] = &[
    // The only one observed in a logged answer: NEW, PERIOD, year, 1, expiry 20251121235959.
    MockOrder {
        id: "MOCKPERIODYEARNEW",
        order_type: "NEW",
        charging_mode: "PERIOD",
        period: Some(("year", 1)),
        expire_time: Some("20251121235959"),
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKONETIMENEW",
        order_type: "NEW",
        charging_mode: "ONE_TIME",
        period: None,
        expire_time: None,
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKONDEMAND",
        order_type: "NEW",
        charging_mode: "ON_DEMAND",
        period: None,
        expire_time: None,
        linear_value: None,
        amount: "0",
    },
    // A pay-per-use package: pay-per-use charging with a package quantity valid for one month.
    MockOrder {
        id: "MOCKONDEMANDPKG",
        order_type: "NEW",
        charging_mode: "ON_DEMAND",
        period: Some(("month", 1)),
        expire_time: Some("20241221235959"),
        linear_value: Some(1000),
        amount: "100",
    },
    MockOrder {
        id: "MOCKPERIODDAYTRIAL",
        order_type: "TRIAL",
        charging_mode: "PERIOD",
        period: Some(("day", 7)),
        expire_time: Some("20241128235959"),
        linear_value: None,
        amount: "0",
    },
    MockOrder {
        id: "MOCKMONTYTRIALTOFORMAL",
        order_type: "TRIAL_TO_FORMAL",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20241221235959"),
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKMONTYUNSUBSCRIBE",
        order_type: "UNSUBSCRIBE",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20241121090846"),
        linear_value: None,
        amount: "0",
    },
    MockOrder {
        id: "MOCKMONTYRENEW",
        order_type: "RENEW",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20250121235959"),
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKMONTYCHANGE",
        order_type: "CHANGE",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20241221235959"),
        linear_value: None,
        amount: "100",
    },
];

/// The nine documented debug orders, as `orderInfo` objects, each with one line `<ID>-000001`.
pub fn mock_orders() -> Vec<Value> {
    MOCK_ORDERS.iter().map(|mock| order_info(mock.id, mock)).collect()
}

/// A one-month periodic order in the mock orders' shape, for orders `koogate sim run` creates
/// (`order_type`: `NEW`, `RENEW`, `CHANGE` …; `expire_time`: UTC `yyyyMMddHHmmss`).
pub fn periodic_order(order_id: &str, order_type: &'static str, expire_time: &str) -> Value {
    let mut order = order_info(
        order_id,
        &MockOrder {
            id: "",
            order_type,
            charging_mode: "PERIOD",
            period: Some(("month", 1)),
            expire_time: None,
            linear_value: None,
            amount: "100",
        },
    );
    order["orderLine"][0]["expireTime"] = json!(expire_time);
    order
}

fn order_info(order_id: &str, mock: &MockOrder) -> Value {
    let product_suffix = order_id.to_ascii_lowercase();
    json!({
        "orderId": order_id,
        "orderType": mock.order_type,
        // The logged sample's creation time, shared by all mocks.
        "createTime": "20241121090846",
        "orderLine": [{
            "orderLineId": format!("{order_id}-000001"),
            "chargingMode": mock.charging_mode,
            "periodType": mock.period.map(|(kind, _)| kind),
            "periodNumber": mock.period.map(|(_, number)| number),
            "expireTime": mock.expire_time,
            "productInfo": [{
                "productId": format!("sim-product-{product_suffix}"),
                "skuCode": format!("sim-sku-{product_suffix}"),
                "linearValue": mock.linear_value,
                "productName": format!("Simulated product ({order_id})"),
            }],
            "extendParams": [],
            "currency": mock.amount,
            "currencyAfterDiscount": mock.amount,
        }],
        // Buyer data is plain text and may contain nulls (open-api.md §2): mobilePhone is null here.
        "buyerInfo": {
            "customerId": "sim-customer-0001",
            "customerName": "sim_buyer",
            "customerRealName": "Simulated Buyer",
            "customerType": "1",
            "mobilePhone": null,
            "email": "buyer@example.com",
            "userId": "sim-user-0001",
            "userName": "sim_buyer",
        },
        "extendParams": [],
    })
}
