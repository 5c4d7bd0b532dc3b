//! `upgradeInstance` (saas-v2.md §8): a paid upgrade order, applied once per order.
//!
//! The new plan's details come from the order-query open API, which a later issue adds; until then the
//! upgrade order is recorded against the instance (`applied_orders`, `last_order_id`).

use super::feed::sync_order;
use super::{Context, Outcome, not_found, released};
use crate::domain::{EventType, Transition};
use crate::protocol::result::Envelope;
use crate::protocol::v2::UpgradeInstance;
use crate::store::{AppliedOrder, Transaction};
use serde_json::json;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: UpgradeInstance) -> Outcome {
    if context.debug {
        context
            .feed
            .debug_event(tx, EventType::Upgraded, &request.instance_id, json!({"upgradeOrderId": request.order_id}), context.now_ms)
            .await?;
        return Ok(Envelope::success());
    }
    let Some(mut instance) = tx.lock_instance(&request.instance_id).await? else {
        return Ok(not_found(&request.instance_id));
    };
    if Transition::update(instance.status) == Transition::Gone {
        return Ok(released(&request.instance_id));
    }
    let first_time = tx
        .claim_applied_order(&AppliedOrder {
            instance_id: instance.instance_id.clone(),
            operation: "upgrade".into(),
            order_id: request.order_id.clone(),
            order_line_id: Some(request.order_line_id.clone()),
            applied_at_ms: context.now_ms,
        })
        .await?;
    if first_time {
        instance.apply_upgrade(&request.order_id, context.now_ms);
        tx.update_instance(&instance).await?;
        let extra = json!({"upgradeOrderId": request.order_id, "upgradeOrderLineId": request.order_line_id});
        context.feed.instance_event(tx, EventType::Upgraded, &instance, extra, context.now_ms).await?;
        if let Some(horizon_ms) = context.sync_orders_for_ms {
            sync_order(tx, horizon_ms, &instance.instance_id, &request.order_id, &request.order_line_id, context.now_ms).await?;
        }
    }
    Ok(Envelope::success())
}
