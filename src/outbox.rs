//! The outbox: lifecycle events recorded inside the transaction of the change they describe, and the
//! jobs that follow from them (event delivery, order sync), queued in that same transaction.
//!
//! Every event is kept (it is the instance's history); when `webhook.url` is set, a delivery job is
//! queued with it, ordered per instance, so the feed is at-least-once and in order. Used by the
//! callback operations, the job worker (provisioning outcomes) and nothing else writes events.

use crate::domain::{Event, EventType, Instance, utc_compact};
use crate::store::{JobKind, NewJob, StoreError, Transaction};
use serde_json::{Map, Value, json};

/// How events are handled; built once from the settings.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// `webhook.url` is set: queue a delivery for every event.
    pub deliver: bool,
    /// `webhook.include_debug`: debug calls produce events too.
    pub include_debug: bool,
    /// How long a delivery is retried.
    pub delivery_horizon_ms: i64,
}

impl Outbox {
    /// Records an event about a real instance (and queues its delivery).
    pub async fn instance_event(
        &self,
        tx: &mut dyn Transaction,
        event_type: EventType,
        instance: &Instance,
        extra: Value,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut data = instance_data(instance);
        if let Value::Object(extra) = extra {
            data.extend(extra);
        }
        self.record(tx, Event::new(event_type, &instance.instance_id, false, Value::Object(data), now_ms)).await
    }

    /// Records an event for a debug call (`testFlag` = 1) if `webhook.include_debug` asks for them.
    pub async fn debug_event(
        &self,
        tx: &mut dyn Transaction,
        event_type: EventType,
        instance_id: &str,
        data: Value,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if !self.include_debug {
            return Ok(());
        }
        let mut data = data;
        data["instanceId"] = json!(instance_id);
        data["testFlag"] = json!(true);
        self.record(tx, Event::new(event_type, instance_id, true, data, now_ms)).await
    }

    async fn record(&self, tx: &mut dyn Transaction, event: Event) -> Result<(), StoreError> {
        tx.insert_event(&event).await?;
        if self.deliver {
            let key = instance_ordering_key(&event.instance_id);
            let payload = json!({ "eventId": event.id });
            tx.enqueue(&NewJob::due_now(JobKind::Webhook, key, payload, event.occurred_at_ms, self.delivery_horizon_ms)).await?;
        }
        Ok(())
    }
}

/// The ordering key of an instance's event deliveries: they run one at a time, in order.
fn instance_ordering_key(instance_id: &str) -> String {
    format!("instance:{instance_id}")
}

/// Queues fetching an order that was applied to an instance, when the open APIs are configured.
pub async fn queue_order_sync(
    tx: &mut dyn Transaction,
    horizon_ms: i64,
    instance_id: &str,
    order_id: &str,
    order_line_id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let payload = json!({"instanceId": instance_id, "orderId": order_id, "orderLineId": order_line_id});
    let key = format!("{}:{instance_id}", JobKind::OrderSync);
    tx.enqueue(&NewJob::due_now(JobKind::OrderSync, key, payload, now_ms, horizon_ms)).await
}

/// What every event says about its instance: identity, order, plan, expiry, status.
pub fn instance_data(instance: &Instance) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("instanceId".into(), json!(instance.instance_id));
    data.insert("orderId".into(), json!(instance.order_id));
    data.insert("orderLineId".into(), json!(instance.order_line_id));
    data.insert("status".into(), json!(instance.status.as_str()));
    data.insert("productId".into(), json!(instance.product_id));
    data.insert("expireTime".into(), json!(instance.expire_time_ms.map(utc_compact)));
    data.insert("trial".into(), json!(instance.trial));
    data.insert("lastOrderId".into(), json!(instance.last_order_id));
    data.insert("plan".into(), instance.plan.as_deref().and_then(|plan| serde_json::from_str(plan).ok()).unwrap_or(Value::Null));
    if let Some(buyer) = &instance.buyer {
        data.insert("buyer".into(), buyer.summary());
    }
    data.insert("testFlag".into(), json!(false));
    data
}
