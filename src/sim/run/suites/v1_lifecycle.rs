//! `v1-lifecycle`: a real V1 order from purchase to release, as the marketplace calls it, with the
//! credentials decrypted and compared across redeliveries and the renewal variants the debugging rules
//! require (`productId` empty and filled, `trialToFormal` absent and `1`).

use super::new_order_id;
use super::v1::{Params, credentials, new_instance, param, step};
use crate::sim::report::Outcome;
use crate::sim::run::{Expect, Session, Suite, expire_in_days};
use async_trait::async_trait;
use serde_json::Value;
use std::time::{Duration, Instant};

pub(super) struct V1Lifecycle;

#[async_trait]
impl Suite for V1Lifecycle {
    async fn run(&self, session: &mut Session) {
        let order = new_order_id("SIMV1");
        let Some(created) = step(session, "newInstance", &new_instance(&order), Expect::AnyOf(&["000000", "000004"])).await else { return };
        let Some(instance_id) = created.get("instanceId").and_then(Value::as_str).map(str::to_owned) else { return };
        let password = match created.get("appInfo") {
            Some(app_info) => credentials(session, "newInstance", &created, app_info),
            None => ready_password(session, &instance_id).await,
        };
        redelivery(session, &order, &instance_id, password.as_deref(), &created).await;

        let id = || param("instanceId", instance_id.clone());
        let renewal = new_order_id("SIMV1R");
        let refresh = |order: &str, extra: Params| {
            let mut params =
                vec![param("activity", "refreshInstance"), id(), param("orderId", order), param("expireTime", expire_in_days(400))];
            params.extend(extra);
            params
        };
        let status = |value: &str| vec![param("activity", "instanceStatus"), id(), param("instanceStatus", value)];
        let calls: Vec<(&str, Params, Expect)> = vec![
            ("queryInstance", vec![param("activity", "queryInstance"), id()], Expect::Code("000000")),
            ("refreshInstance (productId empty)", refresh(&renewal, vec![param("productId", "")]), Expect::Code("000000")),
            ("refreshInstance repeated", refresh(&renewal, vec![]), Expect::Code("000000")),
            (
                "refreshInstance (productId, trialToFormal=1)",
                refresh(&new_order_id("SIMV1T"), vec![param("productId", "OFFI000000000002"), param("trialToFormal", "1")]),
                Expect::Code("000000"),
            ),
            ("instanceStatus FREEZE", status("FREEZE"), Expect::Code("000000")),
            ("instanceStatus NORMAL", status("NORMAL"), Expect::Code("000000")),
            (
                "upgrade",
                vec![
                    param("activity", "upgrade"),
                    id(),
                    param("orderId", new_order_id("SIMV1G")),
                    param("skuCode", "sku-pro"),
                    param("productId", "OFFI000000000003"),
                ],
                Expect::Optional("000000"),
            ),
            ("expireInstance", vec![param("activity", "expireInstance"), id(), param("orderId", order.clone())], Expect::Code("000000")),
            (
                "expireInstance repeated",
                vec![param("activity", "expireInstance"), id(), param("orderId", order.clone())],
                Expect::Code("000000"),
            ),
            ("releaseInstance", vec![param("activity", "releaseInstance"), id(), param("orderId", order.clone())], Expect::Code("000000")),
            (
                "releaseInstance repeated",
                vec![param("activity", "releaseInstance"), id(), param("orderId", order.clone())],
                Expect::Code("000000"),
            ),
            ("instanceStatus NORMAL after release", status("NORMAL"), Expect::Refused("000003")),
        ];
        for (name, params, expect) in calls {
            let answer = step(session, name, &params, expect).await;
            if let (Some(answer), "queryInstance") = (answer, name) {
                let entry = answer["info"].as_array().into_iter().flatten().find(|entry| entry["instanceId"] == instance_id.as_str());
                match entry.and_then(|entry| entry.get("appInfo")) {
                    Some(app_info) => {
                        credentials(session, name, &answer, app_info);
                    }
                    None if entry.is_none() => session.record(
                        "queryInstance: lists the instance",
                        instance_id.clone(),
                        "not listed",
                        Duration::ZERO,
                        Outcome::Fail,
                        None,
                    ),
                    None => {}
                }
            }
        }
    }
}

/// After `000004`: polls `queryInstance` until the instance is ready, and decrypts its credentials.
async fn ready_password(session: &mut Session, instance_id: &str) -> Option<String> {
    let deadline = Instant::now() + session.target.provisioning_wait;
    let query = vec![param("activity", "queryInstance"), param("instanceId", instance_id)];
    loop {
        let answer = step(session, "queryInstance (until provisioned)", &query, Expect::AnyOf(&["000000", "000004"])).await?;
        if answer["resultCode"] == "000004" && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let app_info = answer["info"][0].get("appInfo")?.clone();
        return credentials(session, "queryInstance", &answer, &app_info);
    }
}

/// The same order delivered again with another `businessId`: the same instance and credentials, freshly
/// encrypted (a new IV).
async fn redelivery(session: &mut Session, order: &str, instance_id: &str, password: Option<&str>, first: &Value) {
    let name = "newInstance redelivered (new businessId)";
    let Some(again) = step(session, name, &new_instance(order), Expect::AnyOf(&["000000", "000004"])).await else { return };
    let got = again.get("instanceId").and_then(Value::as_str).unwrap_or_default();
    let (outcome, detail) = if got == instance_id {
        (Outcome::Pass, None)
    } else {
        (Outcome::Fail, Some("a redelivered order must return the first instanceId, not create another instance".to_owned()))
    };
    session.record(format!("{name}: same instanceId"), instance_id, got, Duration::ZERO, outcome, detail);
    let Some(app_info) = again.get("appInfo") else { return };
    let again_password = credentials(session, name, &again, app_info);
    if let (Some(first_password), Some(again_password)) = (password, again_password) {
        let same = first_password == again_password;
        let detail = (!same).then(|| "a repeat must answer the same credentials".to_owned());
        let outcome = if same { Outcome::Pass } else { Outcome::Fail };
        session.record(format!("{name}: same password"), "same", if same { "same" } else { "different" }, Duration::ZERO, outcome, detail);
        if first["appInfo"]["password"] == app_info["password"] {
            let detail = Some("the same ciphertext twice: each answer should use a fresh IV".to_owned());
            session.record(format!("{name}: fresh IV"), "different ciphertext", "same ciphertext", Duration::ZERO, Outcome::Warn, detail);
        }
    }
}
