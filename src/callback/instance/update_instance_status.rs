//! `updateInstanceStatus` (saas-v2.md §6): freeze or unfreeze, in arrival order.

use super::{Context, Error, not_found, released};
use crate::callback::command::{Outcome, UpdateInstanceStatus};
use crate::domain::{EventType, StatusChange, Transition, status_transition};
use crate::protocol::result::ResultCode;
use crate::store::Transaction;
use serde_json::json;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: UpdateInstanceStatus) -> Result<Outcome, Error> {
    let event = event_for(command.change);
    if context.debug {
        context.outbox.debug_event(tx, event, command.instance_id.as_str(), json!({}), context.now_ms).await?;
        return Ok(Outcome::Success);
    }
    let Some(mut instance) = tx.lock_instance(command.instance_id.as_str()).await? else {
        return Ok(not_found(&command.instance_id));
    };
    Ok(match status_transition(instance.status, command.change) {
        Transition::To(status) => {
            instance.move_to(status, context.now_ms);
            tx.update_instance(&instance).await?;
            context.outbox.instance_event(tx, event, &instance, json!({}), context.now_ms).await?;
            Outcome::Success
        }
        Transition::Unchanged => Outcome::Success,
        Transition::Gone => released(&command.instance_id),
        Transition::NotYet => {
            Outcome::refused(ResultCode::InProgress, format!("instance {} is still being provisioned; retry later", command.instance_id))
        }
    })
}

fn event_for(change: StatusChange) -> EventType {
    match change {
        StatusChange::Freeze => EventType::Frozen,
        StatusChange::Unfreeze => EventType::Unfrozen,
    }
}
