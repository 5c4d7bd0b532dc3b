//! `releaseInstance` (saas-v2.md §7): the terminal state; releasing again succeeds without a change.

use super::{Context, Error, not_found};
use crate::callback::command::{Outcome, ReleaseInstance};
use crate::domain::{EventType, Transition};
use crate::store::Transaction;
use serde_json::json;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: ReleaseInstance) -> Result<Outcome, Error> {
    if context.debug {
        context.outbox.debug_event(tx, EventType::Released, command.instance_id.as_str(), json!({}), context.now_ms).await?;
        return Ok(Outcome::Success);
    }
    let Some(mut instance) = tx.lock_instance(command.instance_id.as_str()).await? else {
        return Ok(not_found(&command.instance_id));
    };
    if let Transition::To(status) = Transition::release(instance.status) {
        instance.move_to(status, context.now_ms);
        if let Some(order) = &command.unsubscribe_order {
            // Released by an unsubscribe order: keep which one.
            instance.last_order_id = Some(order.id.to_string());
        }
        tx.update_instance(&instance).await?;
        let extra = json!({
            "unsubscribeOrderId": command.unsubscribe_order.as_ref().map(|order| order.id.as_str()),
            "unsubscribeOrderLineId": command.unsubscribe_order.as_ref().and_then(|order| order.line.as_deref()),
        });
        context.outbox.instance_event(tx, EventType::Released, &instance, extra, context.now_ms).await?;
    }
    Ok(Outcome::Success)
}
