//! `upgradeInstance` (saas-v2.md §8): a paid upgrade order, applied once per order.
//!
//! The upgrade order is recorded against the instance (`applied_orders`, `last_order_id`); its plan
//! (product, SKU, quantity) arrives from the order query in a background job when the open APIs are
//! configured (`crate::jobs`).

use super::{Context, Error, OrderClaim, apply_order_facts, claim_order, record_applied_order};
use crate::callback::command::{Outcome, UpgradeInstance};
use crate::domain::EventType;
use crate::store::Transaction;
use serde_json::json;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: UpgradeInstance) -> Result<Outcome, Error> {
    if context.debug {
        let data = json!({"upgradeOrderId": command.order.id.as_str()});
        context.outbox.debug_event(tx, EventType::Upgraded, command.instance_id.as_str(), data, context.now_ms).await?;
        return Ok(Outcome::Success);
    }
    let mut instance = match claim_order(context, tx, &command.instance_id, "upgrade".into(), &command.order).await? {
        OrderClaim::FirstTime(instance) => instance,
        OrderClaim::AlreadyApplied => return Ok(Outcome::Success),
        OrderClaim::Refused(outcome) => return Ok(outcome),
    };
    instance.apply_upgrade(command.order.id.as_str(), context.now_ms);
    // A stated spec (V1) is applied now; otherwise the order query brings it (when configured).
    let order_to_sync = match command.facts {
        Some(facts) => {
            apply_order_facts(&mut instance, facts);
            None
        }
        None => Some(&command.order),
    };
    let extra = json!({"upgradeOrderId": command.order.id.as_str(), "upgradeOrderLineId": command.order.line});
    record_applied_order(context, tx, &instance, EventType::Upgraded, extra, order_to_sync).await?;
    Ok(Outcome::Success)
}
