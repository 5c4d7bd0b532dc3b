//! Provisioning by the merchant's application (`provisioning.mode = "webhook"`): ask it to
//! create the tenant and answer its `appInfo`.
//!
//! Request: POST `provisioning.endpoint`, signed like the event feed, body `{"id", "type":
//! "instance.provision", "occurredAt", "instanceId", "data": {instance…, "order": <order query answer or
//! null>}}`. Answer: 2xx with `{"frontEndUrl", "adminUrl", "userName", "password", "memo"}`
//! (`frontEndUrl` required; the marketplace's lengths apply), or a refusal `{"resultCode": "000100"…
//! "000107", "resultMsg": reason}`, which is final. Until it succeeds `queryInstance` answers `000004`;
//! when the job dies the instance is `failed` (`000005`), and retrying the job from the admin API or
//! `koogate jobs retry` can still bring it to `active`. With `provisioning.sync_wait_ms`, `newInstance`
//! itself makes the first attempt ([`ProvisionNow`]) and the job follows only if it did not settle.

use super::{ApplicationRequest, JobError, Worker, answer_json, payload, payload_text};
use crate::domain::{EventType, InstanceStatus, OrderRefusal, StoredAppInfo, parse_expire_time};
use crate::marketplace::OrderLine;
use crate::outbox::instance_data;
use crate::protocol::result::{RESULT_MSG_MAX_CHARS, ResultCode};
use crate::protocol::v1::fits_credential_field;
use crate::provisioning::{ProvisionNow, wire_length};
use crate::store::Job;
use serde_json::{Value, json};

/// The marketplace's limits for `appInfo` members (saas-v2.md §4).
const LIMITS: [(&str, usize); 5] = [("frontEndUrl", 512), ("adminUrl", 512), ("userName", 128), ("password", 128), ("memo", 1024)];

#[async_trait::async_trait]
impl ProvisionNow for Worker {
    async fn provision_now(&self, instance_id: &str) {
        if let Err(error) = self.provision_instance(instance_id).await {
            tracing::warn!(instance_id, error = error.message(), "provisioning within newInstance failed; the job will retry");
        }
    }
}

impl Worker {
    pub(super) async fn provision(&self, job: &Job) -> Result<(), JobError> {
        self.provision_instance(&payload_text(&payload(job)?, "instanceId")?).await
    }

    /// Asks the application to provision `instance_id` and records its answer (the job's attempt, or
    /// the synchronous one inside `newInstance`).
    async fn provision_instance(&self, instance_id: &str) -> Result<(), JobError> {
        let Some(instance) = self.store.instance(instance_id).await? else {
            return Ok(()); // nothing left to provision
        };
        if matches!(instance.status, InstanceStatus::Active | InstanceStatus::Frozen) || instance.refusal.is_some() {
            return Ok(()); // provisioned (or refused) meanwhile: a retried job, or the call's own attempt
        }
        if instance.status == InstanceStatus::Released {
            return Ok(()); // released before the application was asked: nothing to create
        }
        // A V1 instance (its call named the buyer) stated its order: its plan is set from the call, and V1
        // orders have no lines to query.
        let (order, line) = match self.marketplace.as_ref().filter(|_| instance.buyer.is_none()) {
            Some(client) => {
                let order =
                    client.query_order(&instance.order_id, Some(&instance.order_line_id)).await.map_err(|e| format!("order query: {e}"))?;
                let line = order.line(&instance.order_line_id).cloned();
                (serde_json::to_value(order).expect("orders serialise"), line)
            }
            None => (Value::Null, None),
        };
        let mut data = instance_data(&instance);
        data.insert("order".into(), order);
        if let Some(buyer) = self.buyer_with_contacts(&instance)? {
            data.insert("buyer".into(), buyer);
        }
        // The same on every attempt, the call's own and the job's (Standard Webhooks): the application
        // deduplicates by it, or by instanceId.
        let message_id = format!("provision-{instance_id}");
        let request = ApplicationRequest { message_id: &message_id, kind: "instance.provision", instance_id, data };
        let response = self.ask_application(&self.settings.provisioning.endpoint, request).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("application answered HTTP {}", status.as_u16()).into());
        }
        let answer = answer_json(response).await?;
        match answer.get("resultCode").and_then(Value::as_str) {
            None | Some("000000") => {}
            Some(code) if ResultCode::refusal(code).is_some() => {
                let message = answer.get("resultMsg").and_then(Value::as_str).unwrap_or("refused by the merchant");
                let refusal = OrderRefusal { code: code.to_owned(), message: message.chars().take(RESULT_MSG_MAX_CHARS).collect() };
                return self.refuse_order(instance_id, refusal).await;
            }
            Some(code) => {
                return Err(format!("application answered resultCode {code:?}: expected appInfo, or a refusal 000100 to 000107").into());
            }
        }
        let app_info = self.app_info(instance_id, &answer, instance.buyer.is_some())?;
        self.complete_provisioning(instance_id, app_info, line).await
    }

    /// Records the application's refusal of the order: the instance is failed for good, every later
    /// delivery of the order and every `queryInstance` answers the refusal, and `instance.refused` tells
    /// the application's other parts.
    async fn refuse_order(&self, instance_id: &str, refusal: OrderRefusal) -> Result<(), JobError> {
        let now = crate::now_ms();
        let mut tx = self.store.begin().await?;
        let Some(mut instance) = tx.lock_instance(instance_id).await? else { return Ok(()) };
        if matches!(instance.status, InstanceStatus::Provisioning | InstanceStatus::Failed) && instance.refusal.is_none() {
            tracing::info!(instance_id, code = %refusal.code, "the application refused the order");
            let extra = json!({"refusal": {"code": refusal.code, "message": refusal.message}});
            instance.refusal = Some(refusal);
            instance.move_to(InstanceStatus::Failed, now);
            tx.update_instance(&instance).await?;
            self.outbox.instance_event(tx.as_mut(), EventType::Refused, &instance, extra, now).await?;
        }
        Ok(tx.commit().await?)
    }

    /// Validates the application's answer and seals its password.
    /// A V1 instance's `userName` and `password` are sent AES-encrypted, and must fit 128 characters so.
    fn app_info(&self, instance_id: &str, answer: &Value, v1: bool) -> Result<StoredAppInfo, JobError> {
        let text = |name: &str| answer.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        for (name, max) in LIMITS {
            if text(name).is_some_and(|value| wire_length(&value) > max) {
                return Err(format!("application's {name} exceeds the marketplace's {max} characters").into());
            }
            let encrypted = ["userName", "password"].contains(&name) && v1;
            if encrypted && text(name).is_some_and(|value| !fits_credential_field(value.len())) {
                return Err(
                    format!("application's {name} is too long for a V1 listing: at most 79 bytes fit 128 characters encrypted").into()
                );
            }
        }
        let front_end_url = text("frontEndUrl").ok_or("application's answer has no frontEndUrl")?;
        Ok(StoredAppInfo {
            front_end_url,
            admin_url: text("adminUrl"),
            user_name: text("userName"),
            password_sealed: text("password").map(|p| self.sealer.seal(&p, instance_id)),
            memo: text("memo"),
        })
    }

    /// Records the application's answer. If the instance was released while the application worked,
    /// `instance.released` is sent again, after this outcome, so the application removes the tenant it
    /// has just created.
    async fn complete_provisioning(&self, instance_id: &str, app_info: StoredAppInfo, line: Option<OrderLine>) -> Result<(), JobError> {
        let now = crate::now_ms();
        let mut tx = self.store.begin().await?;
        let Some(mut instance) = tx.lock_instance(instance_id).await? else { return Ok(()) };
        match instance.status {
            InstanceStatus::Provisioning | InstanceStatus::Failed => {
                instance.app_info = Some(app_info);
                // The purchase order's plan and expiry, unless newer ones (an upgrade's order sync, a
                // renewal) arrived meanwhile.
                if let Some(line) = line {
                    if instance.plan.is_none() {
                        instance.plan = Some(line.plan().to_string());
                        instance.product_id = instance.product_id.take().or_else(|| line.product_id().map(str::to_owned));
                    }
                    if instance.expire_time_ms.is_none() {
                        instance.expire_time_ms = line.expire_time.as_deref().and_then(parse_expire_time);
                    }
                }
                instance.move_to(InstanceStatus::Active, now);
                tx.update_instance(&instance).await?;
                self.outbox.instance_event(tx.as_mut(), EventType::Provisioned, &instance, json!({}), now).await?;
            }
            InstanceStatus::Released => {
                let extra = json!({"reason": "released while the application was provisioning it"});
                self.outbox.instance_event(tx.as_mut(), EventType::Released, &instance, extra, now).await?;
            }
            InstanceStatus::Active | InstanceStatus::Frozen => {}
        }
        Ok(tx.commit().await?)
    }

    /// The provisioning job dies: in one transaction the job is marked dead, the instance failed, and
    /// `instance.failed` recorded. The detailed error stays in the job (operators see it); the event
    /// carries only a summary, never what the marketplace's gateway echoed back.
    pub(super) async fn provisioning_gave_up(&self, job: &Job, error: &str) -> Result<bool, crate::store::StoreError> {
        let now = crate::now_ms();
        let mut tx = self.store.begin().await?;
        if !tx.fail_job(job, now, error, None).await? {
            return Ok(false);
        }
        if let Ok(instance_id) = payload(job).and_then(|payload| payload_text(&payload, "instanceId")) {
            if let Some(mut instance) = tx.lock_instance(&instance_id).await? {
                if instance.status == InstanceStatus::Provisioning {
                    instance.move_to(InstanceStatus::Failed, now);
                    tx.update_instance(&instance).await?;
                    let extra = json!({"error": format!("provisioning did not succeed within provisioning.horizon_secs ({} attempts)", job.attempts)});
                    self.outbox.instance_event(tx.as_mut(), EventType::Failed, &instance, extra, now).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}
