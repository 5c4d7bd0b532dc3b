//! `updateInstanceStatus` (saas-v2.md §6): freeze or unfreeze, in arrival order.

use super::{Context, Outcome, not_found, released};
use crate::domain::{EventType, StatusChange, Transition, status_transition};
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v2::{ParamError, UpdateInstanceStatus};
use crate::store::Transaction;
use serde_json::json;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: UpdateInstanceStatus) -> Outcome {
    let change = StatusChange::parse(&request.status)
        .ok_or_else(|| ParamError(format!("status must be FREEZE or UNFREEZE, got {:?}", request.status)))?;
    if context.debug {
        context.feed.debug_event(tx, event_for(change), &request.instance_id, json!({}), context.now_ms).await?;
        return Ok(Envelope::success());
    }
    let Some(mut instance) = tx.lock_instance(&request.instance_id).await? else {
        return Ok(not_found(&request.instance_id));
    };
    Ok(match status_transition(instance.status, change) {
        Transition::To(status) => {
            instance.move_to(status, context.now_ms);
            tx.update_instance(&instance).await?;
            context.feed.instance_event(tx, event_for(change), &instance, json!({}), context.now_ms).await?;
            Envelope::success()
        }
        Transition::Unchanged => Envelope::success(),
        Transition::Gone => released(&request.instance_id),
        Transition::NotYet => {
            Envelope::refusal(ResultCode::InProgress, format!("instance {} is still being provisioned; retry later", request.instance_id))
        }
    })
}

fn event_for(change: StatusChange) -> EventType {
    match change {
        StatusChange::Freeze => EventType::Frozen,
        StatusChange::Unfreeze => EventType::Unfrozen,
    }
}
