//! `v2-lifecycle`: one instance through every real V2 call the marketplace makes, each call redelivered
//! as the marketplace's retries would, then the calls about an instance that is gone.

use super::{LifecycleOrders, lifecycle_calls, new_instance, new_order_id, redelivery_keeps_the_instance, success_expected};
use crate::sim::report::Outcome;
use crate::sim::run::{Expect, Session, Suite, envelope_problem, fresh_nonce, member_problem, summarize};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The base scenario with real calls: buy, poll, renew, freeze, unfreeze, change, upgrade, release —
/// then every call again, as the marketplace's retries would.
pub(super) struct V2Lifecycle;

#[async_trait]
impl Suite for V2Lifecycle {
    async fn run(&self, session: &mut Session) {
        let order = new_order_id("SIM");
        let orders = LifecycleOrders::new();
        for (id, kind, days) in [
            (&order, "NEW", 30),
            (&orders.conversion, "TRIAL_TO_FORMAL", 30),
            (&orders.renewal, "RENEW", 60),
            (&orders.change, "CHANGE", 90),
            (&orders.unsubscribe, "UNSUBSCRIBE", 60),
            (&orders.upgrade, "CHANGE", 60),
        ] {
            session.register_order(id, kind, days).await;
        }
        let Some(created) = session.step("newInstance", new_instance(&order, false), Expect::AnyOf(&["000000", "000004"])).await else {
            session.record(
                "rest of the lifecycle",
                "an instance",
                "none",
                Duration::ZERO,
                Outcome::Fail,
                Some("skipped: newInstance failed".into()),
            );
            return;
        };
        let Some(instance_id) = created.get("instanceId").and_then(Value::as_str).map(str::to_owned) else { return };
        poll_until_ready(session, &instance_id).await;

        let calls = lifecycle_calls(&instance_id, &orders, false);
        for (step, body) in &calls {
            session.step(step, body.clone(), success_expected(body)).await;
        }

        // Redeliveries: the marketplace retries with a new businessId, nonce and timestamp.
        redelivery_keeps_the_instance(session, &order, &instance_id, false).await;
        parallel_redeliveries(session, &instance_id).await;
        for (step, body) in &calls {
            session.step(format!("{step} (repeated)").as_str(), body.clone(), success_expected(body)).await;
        }
        let release = json!({"activity": "releaseInstance", "instanceId": instance_id});
        session.step("releaseInstance", release.clone(), Expect::Code("000000")).await;
        session.step("releaseInstance (repeated)", release, Expect::Code("000000")).await;

        // Real calls about instances that do not exist (any more) must not succeed.
        let unfreeze = json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": "UNFREEZE"});
        session.step("updateInstanceStatus after release", unfreeze, Expect::Refused("000003")).await;
        let unknown = format!("unknown-{}", &fresh_nonce()[..12]);
        let renew_unknown = lifecycle_calls(&unknown, &LifecycleOrders::new(), false).swap_remove(1).1;
        session.step("refreshInstance of an unknown instance", renew_unknown, Expect::Refused("000003")).await;
    }
}

/// `queryInstance` until the instance is ready (`000004` means "still provisioning").
async fn poll_until_ready(session: &mut Session, instance_id: &str) {
    let query = json!({"activity": "queryInstance", "instanceId": instance_id});
    let deadline = Instant::now() + session.target.provisioning_wait;
    loop {
        let exchange = session.send(&query).await;
        if exchange.code().as_deref() == Some("000004") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if let Some(answer) = session.judge("queryInstance", &exchange, Expect::Code("000000")) {
            if let Some(problem) = member_problem(&query, &answer) {
                session.record(
                    "queryInstance: answer members",
                    "within spec",
                    problem.clone(),
                    Duration::ZERO,
                    Outcome::Fail,
                    Some(problem),
                );
            } else if answer["resultCode"] == "000000" {
                let listed = answer["info"].as_array().into_iter().flatten().any(|entry| entry["instanceId"] == instance_id);
                let outcome = if listed { Outcome::Pass } else { Outcome::Fail };
                session.record(
                    "queryInstance: lists the instance",
                    instance_id,
                    if listed { "listed" } else { "not listed" },
                    Duration::ZERO,
                    outcome,
                    None,
                );
            }
        }
        return;
    }
}

/// Ten concurrent deliveries of one new order line must all name one instance — another one than the
/// first order's.
async fn parallel_redeliveries(session: &mut Session, other_instance_id: &str) {
    let order = new_order_id("SIMP");
    session.register_order(&order, "NEW", 30).await;
    let bodies: Vec<Value> = (0..10).map(|_| new_instance(&order, false)).collect();
    let exchanges = futures::future::join_all(bodies.iter().map(|body| session.send(body))).await;
    let mut ids = std::collections::BTreeSet::new();
    let mut latency = Duration::ZERO;
    for exchange in &exchanges {
        latency = latency.max(exchange.latency);
        match exchange.json().and_then(|v| v.get("instanceId").and_then(Value::as_str).map(str::to_owned)) {
            Some(id) if envelope_problem(exchange).is_none() => {
                ids.insert(id);
            }
            _ => {
                ids.insert(format!("<{}>", summarize(exchange)));
            }
        }
    }
    let one = ids.len() == 1 && !ids.iter().next().is_some_and(|id| id.starts_with('<'));
    let distinct = !ids.contains(other_instance_id);
    let outcome = if one && distinct { Outcome::Pass } else { Outcome::Fail };
    let got = match (ids.len(), distinct) {
        (_, false) => "the first order's instanceId".to_owned(),
        (1, true) => "one instanceId".to_owned(),
        (n, true) => format!("{n} different answers"),
    };
    let detail = (!distinct).then(|| "two different order lines were given the same instance".to_owned());
    session.record("newInstance x10 in parallel (a new order line)", "one new instanceId", got, latency, outcome, detail);
    if let Some(id) = ids.iter().next().filter(|_| outcome == Outcome::Pass) {
        session.send(&json!({"activity": "releaseInstance", "instanceId": id})).await;
    }
}
