//! `newInstance` (saas-v2.md §3): claim the order line and provision once, however often it is delivered.

use super::{Context, Error, apply_order_facts, instance_outcome};
use crate::callback::command::{InstanceState, NewInstance, Outcome};
use crate::domain::{EventType, Instance, InstanceId, InstanceStatus};
use crate::outbox::queue_order_sync;
use crate::protocol::result::ResultCode;
use crate::provisioning::{ProvisionRequest, Provisioned};
use crate::store::{JobKind, NewJob, OrderLineClaim, Transaction};
use serde_json::json;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: NewInstance) -> Result<Outcome, Error> {
    let (order_id, proposed_id) = (command.order_id.as_str(), command.proposed_instance_id.as_str());
    if context.debug {
        let instance_id = tx.claim_debug_order_line(order_id, &command.order_line_id, proposed_id, context.now_ms).await?;
        if instance_id == proposed_id {
            // The first debug delivery of this order line (repeats answer the same and record nothing).
            let data = json!({"orderId": order_id, "orderLineId": command.order_line_id});
            context.outbox.debug_event(tx, EventType::Created, &instance_id, data, context.now_ms).await?;
        }
        let app_info = context.provisioner.debug_app_info(&instance_id);
        return Ok(Outcome::Instance { instance_id: InstanceId::new(instance_id), state: InstanceState::Ready(app_info), created: false });
    }
    let provisioned =
        context.provisioner.provision(&ProvisionRequest { instance_id: proposed_id, order_id, order_line_id: &command.order_line_id });
    let (status, app_info) = match provisioned {
        Provisioned::Ready(app_info) => (InstanceStatus::Active, app_info),
        Provisioned::Pending => (InstanceStatus::Provisioning, None),
    };
    let mut instance = Instance::claimed(
        command.proposed_instance_id.into_string(),
        command.order_id.into_string(),
        command.order_line_id,
        status,
        app_info,
        context.now_ms,
    );
    // A call that states its order (V1) needs no order query.
    let order_query = command.order.is_none();
    if let Some(facts) = command.order {
        apply_order_facts(&mut instance, facts);
    }
    instance.buyer = command.buyer.map(|buyer| *buyer);
    instance.order_product = command.order_product;
    match tx.claim_order_line(&instance).await? {
        OrderLineClaim::Created => {
            context.outbox.instance_event(tx, EventType::Created, &instance, json!({}), context.now_ms).await?;
            if let (InstanceStatus::Active, Some(horizon_ms), true) = (instance.status, context.sync_orders_for_ms, order_query) {
                // Template mode answers at once; the purchase order's plan and expiry follow from the
                // order query in the background.
                queue_order_sync(tx, horizon_ms, &instance.instance_id, &instance.order_id, &instance.order_line_id, context.now_ms)
                    .await?;
            }
            if instance.status == InstanceStatus::Provisioning {
                // Not ordered behind the event feed: provisioning must go ahead even while the feed's
                // receiver is failing (a release meanwhile is repeated after the outcome instead).
                // With synchronous provisioning the call itself tries first; the job is the fallback.
                let key = format!("{}:{}", JobKind::Provision, instance.instance_id);
                let payload = json!({ "instanceId": instance.instance_id });
                let job = NewJob::due_now(JobKind::Provision, key, payload, context.now_ms, context.provision_horizon_ms);
                tx.enqueue(&NewJob { run_after_ms: context.now_ms + context.provision_delay_ms, ..job }).await?;
            }
            instance_outcome(context.sealer, &instance, true)
        }
        OrderLineClaim::Existing(existing) => {
            if existing.order_line_id != instance.order_line_id {
                tracing::warn!(
                    instance_id = %existing.instance_id,
                    order_id = %existing.order_id,
                    order_line_id = %instance.order_line_id,
                    "another order line of this pay-per-use product already has an instance: answering that one"
                );
            }
            instance_outcome(context.sealer, &existing, false)
        }
        OrderLineClaim::InstanceIdTaken => Ok(Outcome::refused(
            ResultCode::InvalidParam,
            format!("businessId {} is already the instanceId of another order line", instance.instance_id),
        )),
    }
}
