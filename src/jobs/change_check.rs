//! The application's change policy (`provisioning.change_check_endpoint`), asked when the marketplace
//! checks a renewal to another spec (`changeInstanceCheck`, saas-v2.md §9), e.g. to refuse a downgrade
//! below what the tenant uses.
//!
//! Request: POST, signed like the event feed, `{"id", "type": "instance.change_check", "occurredAt",
//! "instanceId", "data": {instance…, "productInfo": {"productId", "skuCode", "linearValue", "productName"}}}`.
//! Answer: 2xx `{"allow": true}` or `{"allow": false, "reason": "…"}`. Anything else (an error status, no
//! `allow`, no answer) means the policy could not be asked; the call is answered `000005` and the
//! marketplace asks again.

use super::{ApplicationRequest, Worker, answer_json};
use crate::domain::Instance;
use crate::outbox::instance_data;
use crate::protocol::result::RESULT_MSG_MAX_CHARS;
use crate::provisioning::{ChangePolicy, ChangeVerdict};
use serde_json::Value;

#[async_trait::async_trait]
impl ChangePolicy for Worker {
    async fn check_change(&self, instance: &Instance, product: &Value) -> ChangeVerdict {
        let message_id = format!("change-check-{}", uuid::Uuid::new_v4());
        let mut data = instance_data(instance);
        data.insert("productInfo".into(), product.clone());
        let request =
            ApplicationRequest { message_id: &message_id, kind: "instance.change_check", instance_id: &instance.instance_id, data };
        let response = match self.ask_application(&self.settings.provisioning.change_check_endpoint, request).await {
            Ok(response) => response,
            Err(error) => return ChangeVerdict::Unavailable(error.message().to_owned()),
        };
        if !response.status().is_success() {
            return ChangeVerdict::Unavailable(format!("application answered HTTP {}", response.status().as_u16()));
        }
        let answer = match answer_json(response).await {
            Ok(answer) => answer,
            Err(error) => return ChangeVerdict::Unavailable(error.message().to_owned()),
        };
        match answer.get("allow").and_then(Value::as_bool) {
            Some(true) => ChangeVerdict::Allowed,
            Some(false) => {
                let reason = answer.get("reason").and_then(Value::as_str).filter(|reason| !reason.is_empty());
                let reason = reason.unwrap_or("the merchant does not allow this change").chars().take(RESULT_MSG_MAX_CHARS).collect();
                ChangeVerdict::Refused(reason)
            }
            None => ChangeVerdict::Unavailable("application's answer has no boolean \"allow\"".into()),
        }
    }
}
