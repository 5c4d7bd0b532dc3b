//! `upgradeInstance` (saas-v2.md §8): a paid upgrade order, applied once per order.
//!
//! The upgrade order is recorded against the instance (`applied_orders`, `last_order_id`); its plan
//! (product, SKU, quantity) arrives from the order query in a background job when the open APIs are
//! configured (`crate::jobs`).

use super::{Context, OrderClaim, Outcome, claim_order, record_applied_order};
use crate::domain::EventType;
use crate::protocol::result::Envelope;
use crate::protocol::v2::UpgradeInstance;
use crate::store::Transaction;
use serde_json::json;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: UpgradeInstance) -> Outcome {
    if context.debug {
        context
            .feed
            .debug_event(tx, EventType::Upgraded, &request.instance_id, json!({"upgradeOrderId": request.order_id}), context.now_ms)
            .await?;
        return Ok(Envelope::success());
    }
    let mut instance =
        match claim_order(context, tx, &request.instance_id, "upgrade".into(), &request.order_id, &request.order_line_id).await? {
            OrderClaim::FirstTime(instance) => instance,
            OrderClaim::AlreadyApplied => return Ok(Envelope::success()),
            OrderClaim::Refused(answer) => return Ok(answer),
        };
    instance.apply_upgrade(&request.order_id, context.now_ms);
    let extra = json!({"upgradeOrderId": request.order_id, "upgradeOrderLineId": request.order_line_id});
    record_applied_order(context, tx, &instance, EventType::Upgraded, extra, (&request.order_id, &request.order_line_id)).await?;
    Ok(Envelope::success())
}
