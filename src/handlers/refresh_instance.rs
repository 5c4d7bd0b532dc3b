//! `refreshInstance` (saas-v2.md §5): a new expiry from a conversion, renewal, renewal change or
//! unsubscribed renewal period, applied once per (instance, order, scene).

use super::{Context, OrderClaim, Outcome, claim_order, record_applied_order};
use crate::domain::{EventType, RefreshScene, parse_expire_time};
use crate::protocol::result::Envelope;
use crate::protocol::v2::{ParamError, RefreshInstance};
use crate::store::Transaction;
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
    let operation = format!("refresh:{}", request.scene.trim());
    let mut instance = match claim_order(context, tx, &request.instance_id, operation, &request.order_id, &request.order_line_id).await? {
        OrderClaim::FirstTime(instance) => instance,
        OrderClaim::AlreadyApplied => return Ok(Envelope::success()),
        OrderClaim::Refused(answer) => return Ok(answer),
    };
    instance.apply_refresh(scene, expire_time_ms, request.product_id, &request.order_id, context.now_ms);
    let extra = json!({"scene": request.scene.trim(), "renewalOrderId": request.order_id, "renewalOrderLineId": request.order_line_id});
    record_applied_order(context, tx, &instance, EventType::Renewed, extra, (&request.order_id, &request.order_line_id)).await?;
    Ok(Envelope::success())
}
