//! `refreshInstance` (saas-v2.md §5): a new expiry from a conversion, renewal, renewal change or
//! unsubscribed renewal period, applied once per (instance, order, scene).

use super::{Context, Error, OrderClaim, claim_order, record_applied_order};
use crate::callback::command::{Outcome, RefreshInstance};
use crate::domain::{EventType, RefreshScene};
use crate::store::Transaction;
use serde_json::json;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: RefreshInstance) -> Result<Outcome, Error> {
    if command.scene == RefreshScene::Unknown {
        tracing::warn!(scene = %command.scene_label, instance_id = %command.instance_id, "unknown refreshInstance scene; applied as an expiry update");
    }
    if context.debug {
        let data = json!({"scene": command.scene_label, "orderId": command.order.id.as_str(), "expireTime": command.expire_time_text});
        context.outbox.debug_event(tx, EventType::Renewed, command.instance_id.as_str(), data, context.now_ms).await?;
        return Ok(Outcome::Success);
    }
    let operation = format!("refresh:{}", command.scene_label);
    let mut instance = match claim_order(context, tx, &command.instance_id, operation, &command.order).await? {
        OrderClaim::FirstTime(instance) => instance,
        OrderClaim::AlreadyApplied => return Ok(Outcome::Success),
        OrderClaim::Refused(outcome) => return Ok(outcome),
    };
    instance.apply_refresh(command.scene, command.expire_time_ms, command.product_id, command.order.id.as_str(), context.now_ms);
    let extra = json!({
        "scene": command.scene_label,
        "renewalOrderId": command.order.id.as_str(),
        "renewalOrderLineId": command.order.line,
    });
    record_applied_order(context, tx, &instance, EventType::Renewed, extra, Some(&command.order)).await?;
    Ok(Outcome::Success)
}
