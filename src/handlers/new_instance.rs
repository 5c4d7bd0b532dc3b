//! `newInstance` (saas-v2.md §3): claim the order line and provision once, however often it is delivered.

use super::feed::{PROVISION_JOB, sync_order};
use super::{Context, Outcome};
use crate::domain::EventType;
use crate::domain::{Instance, InstanceStatus};
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v2::NewInstance;
use crate::provisioning::{ProvisionRequest, Provisioned};
use crate::store::{NewJob, OrderLineClaim, Transaction};
use serde_json::json;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: NewInstance) -> Outcome {
    if context.debug {
        let instance_id =
            tx.claim_debug_order_line(&request.order_id, &request.order_line_id, &request.business_id, context.now_ms).await?;
        if instance_id == request.business_id {
            // The first debug delivery of this order line (repeats answer the same and record nothing).
            let data = json!({"orderId": request.order_id, "orderLineId": request.order_line_id});
            context.feed.debug_event(tx, EventType::Created, &instance_id, data, context.now_ms).await?;
        }
        return Ok(Envelope::success().with("instanceId", instance_id.into()));
    }
    let provisioned = context.provisioner.provision(&ProvisionRequest {
        instance_id: &request.business_id,
        order_id: &request.order_id,
        order_line_id: &request.order_line_id,
    });
    let (status, app_info) = match provisioned {
        Provisioned::Ready(app_info) => (InstanceStatus::Active, app_info),
        Provisioned::Pending => (InstanceStatus::Provisioning, None),
    };
    let instance = Instance::claimed(request.business_id, request.order_id, request.order_line_id, status, app_info, context.now_ms);
    Ok(match tx.claim_order_line(&instance).await? {
        OrderLineClaim::Created => {
            context.feed.instance_event(tx, EventType::Created, &instance, json!({}), context.now_ms).await?;
            if let (InstanceStatus::Active, Some(horizon_ms)) = (instance.status, context.sync_orders_for_ms) {
                // Template mode answers at once; the purchase order's plan and expiry follow from the
                // order query in the background.
                sync_order(tx, horizon_ms, &instance.instance_id, &instance.order_id, &instance.order_line_id, context.now_ms).await?;
            }
            if instance.status == InstanceStatus::Provisioning {
                // Not ordered behind the event feed: provisioning must go ahead even while the feed's
                // receiver is failing (a release meanwhile is repeated after the outcome instead).
                let key = format!("{PROVISION_JOB}:{}", instance.instance_id);
                let payload = json!({ "instanceId": instance.instance_id });
                tx.enqueue(&NewJob::due_now(PROVISION_JOB, key, payload, context.now_ms, context.provision_horizon_ms)).await?;
            }
            answer(&instance)
        }
        OrderLineClaim::Existing(existing) => answer(&existing),
        OrderLineClaim::InstanceIdTaken => Envelope::refusal(
            ResultCode::InvalidParam,
            format!("businessId {} is already the instanceId of another order line", instance.instance_id),
        ),
    })
}

/// The current outcome for the order line's instance, the same for the first and every repeated delivery.
fn answer(instance: &Instance) -> Envelope {
    let envelope = match instance.status {
        InstanceStatus::Provisioning => Envelope::refusal(ResultCode::InProgress, "instance is being provisioned"),
        InstanceStatus::Failed => Envelope::refusal(ResultCode::Internal, "provisioning of the instance failed"),
        _ => Envelope::success(),
    };
    envelope.with("instanceId", instance.instance_id.clone().into())
}
