//! Recording lifecycle events inside a callback's transaction, and queueing their delivery.
//!
//! Every event is kept (it is the instance's history); when `webhook.url` is set, a delivery job is
//! queued in the same transaction, ordered per instance, so the feed is at-least-once and in order.

use crate::domain::{Event, EventType, Instance, utc_compact};
use crate::store::{NewJob, StoreError, Transaction};
use serde_json::{Map, Value, json};

/// Job kinds this module queues.
pub const WEBHOOK_JOB: &str = "webhook";
pub const PROVISION_JOB: &str = "provision";

/// How events are handled; built once from the settings.
#[derive(Debug, Clone)]
pub struct Feed {
    /// `webhook.url` is set: queue a delivery for every event.
    pub deliver: bool,
    /// `webhook.include_debug`: debug calls produce events too.
    pub include_debug: bool,
    /// How long a delivery is retried.
    pub delivery_horizon_ms: i64,
}

impl Feed {
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
            tx.enqueue(&NewJob {
                kind: WEBHOOK_JOB.into(),
                ordering_key: Some(format!("{WEBHOOK_JOB}:{}", event.instance_id)),
                payload: json!({ "eventId": event.id }).to_string(),
                run_after_ms: event.occurred_at_ms,
                deadline_ms: event.occurred_at_ms + self.delivery_horizon_ms,
                created_at_ms: event.occurred_at_ms,
            })
            .await?;
        }
        Ok(())
    }
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
    data.insert("testFlag".into(), json!(false));
    data
}
