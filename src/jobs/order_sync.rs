//! Order sync: after a purchase (template mode), an upgrade or a renewal, fetch that order from the
//! marketplace's order query and keep the line's plan (product, SKU, quantity, charging mode, period)
//! on the instance, and the purchase's expiry when none is known yet.
//!
//! The callback has already applied what it carries (expiry, order IDs); this only adds the plan, so
//! it emits no event of its own: later events carry the plan in their `data.plan`. An order the
//! marketplace says it does not have (a business error such as `MKT.0100`, or no such line) is given up
//! at once (the job is dead, visible to operators); only passing failures are retried.

use super::{JobError, Worker, payload, payload_text};
use crate::marketplace::ClientError;
use crate::store::Job;

/// The marketplace's "internal error, try again" code.
const MARKETPLACE_INTERNAL_ERROR: &str = "MKT.0999";

impl Worker {
    pub(super) async fn sync_order(&self, job: &Job) -> Result<(), JobError> {
        let payload = payload(job)?;
        let field = |name: &str| payload_text(&payload, name);
        let (instance_id, order_id, order_line_id) = (field("instanceId")?, field("orderId")?, field("orderLineId")?);
        let client = self.marketplace.as_ref().ok_or("marketplace.ak/sk are no longer set")?;
        let order = client.query_order(&order_id, Some(&order_line_id)).await.map_err(|error| match error {
            // The marketplace answered that the order is not to be had (e.g. MKT.0100): asking again
            // cannot change that. Its internal error (MKT.0999) and any failure to reach it are retried.
            ClientError::Marketplace { ref code, .. } if code != MARKETPLACE_INTERNAL_ERROR => {
                JobError::Dead(format!("order query: {error}"))
            }
            error => JobError::Retry(format!("order query: {error}")),
        })?;
        let line = order.line(&order_line_id).ok_or_else(|| JobError::Dead(format!("order {order_id} has no line {order_line_id}")))?;
        let mut tx = self.store.begin().await?;
        if let Some(mut instance) = tx.lock_instance(&instance_id).await? {
            instance.plan = Some(line.plan().to_string());
            if let Some(product_id) = line.product_id() {
                instance.product_id = Some(product_id.to_owned());
            }
            // The purchase order gives the first expiry; later ones come from refreshInstance, whose
            // expireTime is authoritative and never overwritten here.
            if instance.expire_time_ms.is_none() {
                instance.expire_time_ms = line.expire_time.as_deref().and_then(crate::domain::parse_expire_time);
            }
            instance.updated_at_ms = crate::now_ms();
            tx.update_instance(&instance).await?;
        }
        Ok(tx.commit().await?)
    }
}
