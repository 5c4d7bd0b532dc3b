//! `refreshInstance` (saas-v2.md §5): a new expiry from a conversion, renewal, renewal change or
//! unsubscribed renewal period, applied once per (instance, order, scene).

use super::feed::sync_order;
use super::{Context, Outcome, not_found, released};
use crate::domain::{EventType, RefreshScene, Transition, parse_expire_time};
use crate::protocol::result::Envelope;
use crate::protocol::v2::{ParamError, RefreshInstance};
use crate::store::{AppliedOrder, Transaction};
use serde_json::json;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: RefreshInstance) -> Outcome {
    let expire_time_ms = parse_expire_time(&request.expire_time)
        .ok_or_else(|| ParamError("expireTime must be a UTC time as yyyyMMddHHmmss (14 or 17 digits)".into()))?;
    let scene = RefreshScene::parse(&request.scene);
    if scene == RefreshScene::Unknown {
        tracing::warn!(scene = %request.scene, instance_id = %request.instance_id, "unknown refreshInstance scene; applied as an expiry update");
    }
    if context.debug {
        let data = json!({"scene": request.scene, "orderId": request.order_id, "expireTime": request.expire_time});
        context.feed.debug_event(tx, EventType::Renewed, &request.instance_id, data, context.now_ms).await?;
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
            operation: format!("refresh:{}", request.scene.trim()),
            order_id: request.order_id.clone(),
            order_line_id: Some(request.order_line_id.clone()),
            applied_at_ms: context.now_ms,
        })
        .await?;
    if first_time {
        instance.apply_refresh(scene, expire_time_ms, request.product_id, &request.order_id, context.now_ms);
        tx.update_instance(&instance).await?;
        let extra = json!({"scene": request.scene.trim(), "renewalOrderId": request.order_id, "renewalOrderLineId": request.order_line_id});
        context.feed.instance_event(tx, EventType::Renewed, &instance, extra, context.now_ms).await?;
        if let Some(horizon_ms) = context.sync_orders_for_ms {
            sync_order(tx, horizon_ms, &instance.instance_id, &request.order_id, &request.order_line_id, context.now_ms).await?;
        }
    }
    Ok(Envelope::success())
}
