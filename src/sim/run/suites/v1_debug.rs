//! `v1-debug`: the V1 debugger's and dial tests' calls, `testFlag` = 1 with made-up IDs (the spec's
//! own examples use `huaweitest123456`). Each must succeed, identically when repeated.

use super::new_order_id;
use super::v1::{Params, credentials, debug, new_instance, param, step};
use crate::sim::report::Outcome;
use crate::sim::run::{Expect, Session, Suite, expire_in_days};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

pub(super) struct V1Debug;

#[async_trait]
impl Suite for V1Debug {
    async fn run(&self, session: &mut Session) {
        let order = new_order_id("DEBUGV1");
        let Some(created) = step(session, "newInstance (debug)", &debug(&new_instance(&order)), Expect::Code("000000")).await else {
            return;
        };
        if let Some(app_info) = created.get("appInfo") {
            credentials(session, "newInstance (debug)", &created, app_info);
        }
        let instance_id = created.get("instanceId").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(again) = step(session, "newInstance (debug) repeated", &debug(&new_instance(&order)), Expect::Code("000000")).await {
            let got = again.get("instanceId").and_then(Value::as_str).unwrap_or_default();
            let (outcome, detail) = if got == instance_id {
                (Outcome::Pass, None)
            } else {
                (Outcome::Warn, Some("debug calls are replayed by the dial tests; the same instanceId is expected".to_owned()))
            };
            session.record("newInstance (debug) repeated: same instanceId", instance_id.clone(), got, Duration::ZERO, outcome, detail);
        }

        let made_up = || param("instanceId", format!("huaweitest{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let calls: Vec<(&str, Params)> = vec![
            ("queryInstance", vec![param("activity", "queryInstance"), made_up()]),
            (
                "refreshInstance",
                vec![
                    param("activity", "refreshInstance"),
                    made_up(),
                    param("orderId", new_order_id("DBGR")),
                    param("expireTime", expire_in_days(30)),
                ],
            ),
            ("instanceStatus FREEZE", vec![param("activity", "instanceStatus"), made_up(), param("instanceStatus", "FREEZE")]),
            (
                "upgrade",
                vec![
                    param("activity", "upgrade"),
                    made_up(),
                    param("orderId", new_order_id("DBGG")),
                    param("skuCode", "sku-pro"),
                    param("productId", "OFFI000000000003"),
                ],
            ),
            ("expireInstance", vec![param("activity", "expireInstance"), made_up(), param("orderId", new_order_id("DBGE"))]),
            ("releaseInstance", vec![param("activity", "releaseInstance"), made_up(), param("orderId", new_order_id("DBGL"))]),
        ];
        for (name, params) in calls {
            let name = format!("{name} (debug, made-up id)");
            let expect = if name.starts_with("upgrade") { Expect::Optional("000000") } else { Expect::Code("000000") };
            step(session, &name, &debug(&params), expect).await;
            step(session, &format!("{name} repeated"), &debug(&params), expect).await;
        }
    }
}
