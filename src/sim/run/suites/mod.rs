//! The suites of `sim run`, one file each, and the request builders more than one of them uses (`v1.rs`
//! for the V1 suites). The Kit and License suites will be further files here, listed in [`all`].

mod v1;
mod v1_debug;
mod v1_lifecycle;
mod v1_negative;
mod v2_debug;
mod v2_lifecycle;
mod v2_negative;

use super::{Expect, Session, Suite, expire_in_days};
use crate::sim::report::Outcome;
use serde_json::{Value, json};
use std::time::Duration;

/// Every suite, in the order `sim run` runs them.
pub(super) fn all() -> Vec<(&'static str, Box<dyn Suite>)> {
    vec![
        ("v2-lifecycle", Box::new(v2_lifecycle::V2Lifecycle)),
        ("v2-debug", Box::new(v2_debug::V2Debug)),
        ("v2-negative", Box::new(v2_negative::V2Negative)),
        ("v1-lifecycle", Box::new(v1_lifecycle::V1Lifecycle)),
        ("v1-debug", Box::new(v1_debug::V1Debug)),
        ("v1-negative", Box::new(v1_negative::V1Negative)),
    ]
}

/// An order ID in the marketplace's style, unique per run.
fn new_order_id(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..14].to_uppercase())
}

fn new_instance(order_id: &str, debug: bool) -> Value {
    let mut body = json!({"activity": "newInstance", "orderId": order_id, "orderLineId": format!("{order_id}-000001"), "businessId": uuid::Uuid::new_v4().to_string()});
    if debug {
        body["testFlag"] = json!("1");
    }
    body
}

/// The calls after `newInstance`, in the order the marketplace makes them, for `instance_id`.
fn lifecycle_calls(instance_id: &str, orders: &LifecycleOrders, debug: bool) -> Vec<(String, Value)> {
    let refresh = |scene: &str, order: &str, days: i64| {
        json!({"activity": "refreshInstance", "instanceId": instance_id, "scene": scene, "orderId": order,
               "orderLineId": format!("{order}-000001"), "expireTime": expire_in_days(days)})
    };
    let mut calls = vec![
        ("refreshInstance TRIAL_TO_FORMAL".to_owned(), refresh("TRIAL_TO_FORMAL", &orders.conversion, 30)),
        ("refreshInstance RENEWAL".to_owned(), refresh("RENEWAL", &orders.renewal, 60)),
        ("refreshInstance RENEWAL_CHANGE".to_owned(), refresh("RENEWAL_CHANGE", &orders.change, 90)),
        ("refreshInstance UNSUBSCRIBE_RENEWAL_PERIOD".to_owned(), refresh("UNSUBSCRIBE_RENEWAL_PERIOD", &orders.unsubscribe, 60)),
        (
            "updateInstanceStatus FREEZE".to_owned(),
            json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": "FREEZE"}),
        ),
        (
            "updateInstanceStatus UNFREEZE".to_owned(),
            json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": "UNFREEZE"}),
        ),
        (
            "changeInstanceCheck".to_owned(),
            json!({"activity": "changeInstanceCheck", "instanceId": instance_id,
                   "productInfo": {"productId": "OFFI000000000002", "skuCode": "sku-pro", "linearValue": 10, "productName": "Pro"}}),
        ),
        (
            "upgradeInstance".to_owned(),
            json!({"activity": "upgradeInstance", "instanceId": instance_id, "orderId": orders.upgrade, "orderLineId": format!("{}-000001", orders.upgrade)}),
        ),
    ];
    if debug {
        for (_, body) in &mut calls {
            body["testFlag"] = json!("1");
        }
    }
    calls
}

struct LifecycleOrders {
    conversion: String,
    renewal: String,
    change: String,
    unsubscribe: String,
    upgrade: String,
}

impl LifecycleOrders {
    fn new() -> Self {
        LifecycleOrders {
            conversion: new_order_id("SIMT"),
            renewal: new_order_id("SIMR"),
            change: new_order_id("SIMC"),
            unsubscribe: new_order_id("SIMU"),
            upgrade: new_order_id("SIMG"),
        }
    }
}

/// Success is required, except from the optional interfaces.
fn success_expected(body: &Value) -> Expect {
    match body["activity"].as_str() {
        Some("upgradeInstance" | "changeInstanceCheck") => Expect::Optional("000000"),
        _ => Expect::Code("000000"),
    }
}

async fn redelivery_keeps_the_instance(session: &mut Session, order: &str, instance_id: &str, debug: bool) {
    let step = "newInstance redelivered (new businessId)";
    if let Some(again) = session.step(step, new_instance(order, debug), Expect::AnyOf(&["000000", "000004"])).await {
        let got = again.get("instanceId").and_then(Value::as_str).unwrap_or_default().to_owned();
        // For real orders a second instance is a double provisioning; for debug calls (made-up orders,
        // nothing created) a different answer is only a departure from "answer identically".
        let (outcome, detail) = match (got == instance_id, debug) {
            (true, _) => (Outcome::Pass, None),
            (false, false) => {
                (Outcome::Fail, Some("a redelivered order line must return the first instanceId, not create another instance"))
            }
            (false, true) => (Outcome::Warn, Some("debug calls are replayed by the dial tests; the same answer is expected")),
        };
        let detail = detail.map(str::to_owned);
        session.record(format!("{step}: same instanceId"), instance_id, got, Duration::ZERO, outcome, detail);
    }
}
