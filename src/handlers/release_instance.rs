//! `releaseInstance` (saas-v2.md §7): the terminal state; releasing again succeeds without a change.

use super::{Context, Outcome, not_found};
use crate::domain::{EventType, Transition};
use crate::protocol::result::Envelope;
use crate::protocol::v2::ReleaseInstance;
use crate::store::Transaction;
use serde_json::json;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: ReleaseInstance) -> Outcome {
    if context.debug {
        context.feed.debug_event(tx, EventType::Released, &request.instance_id, json!({}), context.now_ms).await?;
        return Ok(Envelope::success());
    }
    let Some(mut instance) = tx.lock_instance(&request.instance_id).await? else {
        return Ok(not_found(&request.instance_id));
    };
    if let Transition::To(status) = Transition::release(instance.status) {
        instance.move_to(status, context.now_ms);
        if let Some(order_id) = &request.order_id {
            // Released by an unsubscribe order: keep which one.
            instance.last_order_id = Some(order_id.clone());
        }
        tx.update_instance(&instance).await?;
        let extra = json!({"unsubscribeOrderId": request.order_id, "unsubscribeOrderLineId": request.order_line_id});
        context.feed.instance_event(tx, EventType::Released, &instance, extra, context.now_ms).await?;
    }
    Ok(Envelope::success())
}
