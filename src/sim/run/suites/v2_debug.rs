//! `v2-debug`: the calls of the marketplace's debugger and dial tests (`testFlag` = 1, made-up IDs),
//! which must succeed without creating anything and answer identically when replayed.

use super::{LifecycleOrders, lifecycle_calls, new_instance, new_order_id, redelivery_keeps_the_instance, success_expected};
use crate::sim::report::Outcome;
use crate::sim::run::{Expect, Session, Suite};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

/// The debugger's and the twice-daily dial tests' calls: `testFlag` = 1 with made-up IDs. Each must
/// succeed, and succeed identically when repeated.
pub(super) struct V2Debug;

#[async_trait]
impl Suite for V2Debug {
    async fn run(&self, session: &mut Session) {
        let order = new_order_id("DEBUG");
        let Some(created) = session.step("newInstance (debug)", new_instance(&order, true), Expect::Code("000000")).await else { return };
        let instance_id = created.get("instanceId").and_then(Value::as_str).unwrap_or_default().to_owned();
        redelivery_keeps_the_instance(session, &order, &instance_id, true).await;

        let made_up = format!("debug-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut calls = vec![(
            "queryInstance (debug, made-up id)".to_owned(),
            json!({"activity": "queryInstance", "instanceId": made_up, "testFlag": "1"}),
        )];
        calls.extend(
            lifecycle_calls(&made_up, &LifecycleOrders::new(), true)
                .into_iter()
                .map(|(step, body)| (format!("{step} (debug, made-up id)"), body)),
        );
        calls.push((
            "releaseInstance (debug, made-up id)".to_owned(),
            json!({"activity": "releaseInstance", "instanceId": made_up, "testFlag": "1"}),
        ));
        for (step, body) in calls {
            let first = session.step(&step, body.clone(), success_expected(&body)).await;
            let again = session.send(&body).await;
            if let (Some(first), Some(second)) = (first, session.judge(format!("{step} repeated"), &again, success_expected(&body))) {
                let identical = first == second;
                let outcome = if identical { Outcome::Pass } else { Outcome::Warn };
                let detail = (!identical).then(|| "debug cases are replayed automatically; identical answers are expected".to_owned());
                session.record(
                    format!("{step}: identical on repeat"),
                    "identical",
                    if identical { "identical" } else { "different" },
                    Duration::ZERO,
                    outcome,
                    detail,
                );
            }
        }
    }
}
