//! Delivering one lifecycle event to `webhook.url`.
//!
//! Body: `{"id", "type", "occurredAt", "instanceId", "data"}`; headers `webhook-id` (= the event ID,
//! the same on every retry), `webhook-timestamp`, `webhook-signature`. Any 2xx answer is success.

use super::{JobError, Worker, payload, payload_text};
use crate::domain::EventType;
use crate::provisioning::ProvisioningMode;
use crate::store::Job;
use serde_json::{Value, json};

impl Worker {
    pub(super) async fn deliver(&self, job: &Job) -> Result<(), JobError> {
        let url = &self.settings.webhook.url;
        if url.is_empty() {
            return Err("webhook.url is not set".into());
        }
        let event_id = payload_text(&payload(job)?, "eventId")?;
        let event = self.store.event(&event_id).await?.ok_or_else(|| format!("event {event_id} does not exist"))?;
        let mut data = event.data;
        if event.event_type == EventType::Created && !event.test_flag {
            self.add_account_details(&event.instance_id, &mut data).await?;
        }
        let occurred_at = chrono::DateTime::from_timestamp_millis(event.occurred_at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let body = json!({
            "id": event.id,
            "type": event.event_type.as_str(),
            "occurredAt": occurred_at,
            "instanceId": event.instance_id,
            // Increases with every event recorded: a receiver that sees a smaller sequence than it already
            // applied for the instance (a dead delivery retried late) can tell the event is stale.
            "sequence": event.sequence,
            "data": data,
        });
        let bytes = serde_json::to_vec(&body).expect("event bodies serialise");
        let response = self.post_signed(url, &event.id, &bytes).await?;
        if response.status().is_success() { Ok(()) } else { Err(format!("receiver answered HTTP {}", response.status().as_u16()).into()) }
    }

    /// The application creates the buyer's account from `instance.created`: it gets the buyer's contacts
    /// (V1 listings that create accounts from a mobile number or e-mail) and, in template mode, the
    /// initial password koogate generated. Both are stored only sealed, never in the event itself.
    async fn add_account_details(&self, instance_id: &str, data: &mut Value) -> Result<(), JobError> {
        let Some(instance) = self.store.instance(instance_id).await? else { return Ok(()) };
        if let Some(buyer) = self.buyer_with_contacts(&instance)? {
            data["buyer"] = buyer;
        }
        let Some(app_info) = instance.app_info.as_ref().filter(|_| self.settings.provisioning.mode == ProvisioningMode::Template) else {
            return Ok(());
        };
        // A sealed value this key cannot open never will: give up rather than retry for days.
        let app_info = app_info.open(&self.sealer, instance_id).map_err(|e| JobError::Dead(e.to_string()))?;
        data["appInfo"] = json!({
            "frontEndUrl": app_info.front_end_url,
            "adminUrl": app_info.admin_url,
            "userName": app_info.user_name,
            "password": app_info.password,
            "memo": app_info.memo,
        });
        Ok(())
    }
}
