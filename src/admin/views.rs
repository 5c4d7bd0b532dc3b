//! The JSON shapes operators see, shared by the admin API and `koogate … --json` so both always print
//! the same thing. Each view borrows the stored record and decides, field by field, what leaves the
//! process: the instance view in particular says only *whether* an initial password is set, never the
//! password or its sealed form (the sealed value is bound to the instance ID and would let anyone holding
//! the encryption key read it).

use crate::domain::{Event, Instance, StoredAppInfo, utc_compact};
use crate::store::{AppliedOrder, AuditEntry, Job};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView<'a> {
    pub instance_id: &'a str,
    pub order_id: &'a str,
    pub order_line_id: &'a str,
    pub status: &'static str,
    pub product_id: Option<&'a str>,
    /// UTC `yyyyMMddHHmmss`, as the marketplace writes times.
    pub expire_time: Option<String>,
    pub trial: Option<bool>,
    pub last_order_id: Option<&'a str>,
    /// The plan from the marketplace's order query, when fetched.
    pub plan: Option<Value>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub app_info: Option<AppInfoView<'a>>,
}

impl<'a> InstanceView<'a> {
    pub fn new(instance: &'a Instance) -> Self {
        InstanceView {
            instance_id: &instance.instance_id,
            order_id: &instance.order_id,
            order_line_id: &instance.order_line_id,
            status: instance.status.as_str(),
            product_id: instance.product_id.as_deref(),
            expire_time: instance.expire_time_ms.map(utc_compact).filter(|time| !time.is_empty()),
            trial: instance.trial,
            last_order_id: instance.last_order_id.as_deref(),
            plan: instance.plan.as_deref().and_then(|plan| serde_json::from_str(plan).ok()),
            created_at_ms: instance.created_at_ms,
            updated_at_ms: instance.updated_at_ms,
            app_info: instance.app_info.as_ref().map(AppInfoView::new),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfoView<'a> {
    pub front_end_url: &'a str,
    pub admin_url: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub memo: Option<&'a str>,
    pub password_set: bool,
}

impl<'a> AppInfoView<'a> {
    pub fn new(info: &'a StoredAppInfo) -> Self {
        AppInfoView {
            front_end_url: &info.front_end_url,
            admin_url: info.admin_url.as_deref(),
            user_name: info.user_name.as_deref(),
            memo: info.memo.as_deref(),
            password_set: info.password_sealed.is_some(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub occurred_at_ms: i64,
    pub test_flag: bool,
    pub data: &'a Value,
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a Event) -> Self {
        EventView {
            id: &event.id,
            event_type: event.event_type.as_str(),
            occurred_at_ms: event.occurred_at_ms,
            test_flag: event.test_flag,
            data: &event.data,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedOrderView<'a> {
    pub instance_id: &'a str,
    /// `refresh:<scene>` or `upgrade`.
    pub operation: &'a str,
    pub order_id: &'a str,
    pub order_line_id: Option<&'a str>,
    pub applied_at_ms: i64,
}

impl<'a> AppliedOrderView<'a> {
    pub fn new(order: &'a AppliedOrder) -> Self {
        AppliedOrderView {
            instance_id: &order.instance_id,
            operation: &order.operation,
            order_id: &order.order_id,
            order_line_id: order.order_line_id.as_deref(),
            applied_at_ms: order.applied_at_ms,
        }
    }
}

/// A job as stored; `payload` stays the stored JSON text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView<'a> {
    pub id: i64,
    pub kind: &'a str,
    pub ordering_key: Option<&'a str>,
    pub payload: &'a str,
    pub state: &'a str,
    pub attempts: i64,
    pub run_after_ms: i64,
    pub deadline_ms: i64,
    pub locked_until_ms: Option<i64>,
    pub last_error: Option<&'a str>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl<'a> JobView<'a> {
    pub fn new(job: &'a Job) -> Self {
        JobView {
            id: job.id,
            kind: job.kind.as_str(),
            ordering_key: job.ordering_key.as_deref(),
            payload: &job.payload,
            state: job.state.as_str(),
            attempts: job.attempts,
            run_after_ms: job.run_after_ms,
            deadline_ms: job.deadline_ms,
            locked_until_ms: job.locked_until_ms,
            last_error: job.last_error.as_deref(),
            created_at_ms: job.created_at_ms,
            updated_at_ms: job.updated_at_ms,
        }
    }
}

/// An audit row as stored: credentials were removed (and passwords in answers masked) before it was
/// written; bodies and headers stay the recorded text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditView<'a> {
    pub received_at_ms: i64,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub activity: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub order_line_id: Option<&'a str>,
    pub test_flag: bool,
    pub verification: &'a str,
    pub result_code: &'a str,
    pub result_msg: &'a str,
    pub duration_ms: i64,
    pub request_body: Option<&'a str>,
    pub response_body: Option<&'a str>,
    pub request_headers: Option<&'a str>,
}

impl<'a> AuditView<'a> {
    pub fn new(entry: &'a AuditEntry) -> Self {
        AuditView {
            received_at_ms: entry.received_at_ms,
            method: &entry.method,
            path: &entry.path,
            query: &entry.query,
            activity: entry.activity.as_deref(),
            instance_id: entry.instance_id.as_deref(),
            order_id: entry.order_id.as_deref(),
            order_line_id: entry.order_line_id.as_deref(),
            test_flag: entry.test_flag,
            verification: &entry.verification,
            result_code: &entry.result_code,
            result_msg: &entry.result_msg,
            duration_ms: entry.duration_ms,
            request_body: entry.request_body.as_deref(),
            response_body: entry.response_body.as_deref(),
            request_headers: entry.request_headers.as_deref(),
        }
    }
}

/// One page of a list; `next` is the `after` value of the following page, `null` on the last one.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// An instance with its whole history, oldest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDetail<'a> {
    pub instance: InstanceView<'a>,
    pub events: Vec<EventView<'a>>,
    pub applied_orders: Vec<AppliedOrderView<'a>>,
    pub audit: Vec<AuditView<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InstanceStatus;

    #[test]
    fn instances_show_whether_a_password_is_set_but_never_the_password() {
        let info = StoredAppInfo {
            front_end_url: "https://app/t/i-1".into(),
            admin_url: None,
            user_name: Some("admin".into()),
            password_sealed: Some("SEALED-VALUE".into()),
            memo: None,
        };
        let mut instance = Instance::claimed("i-1".into(), "o-1".into(), "l-1".into(), InstanceStatus::Active, Some(info), 5);
        instance.expire_time_ms = Some(1_735_689_600_000);
        let json = serde_json::to_value(InstanceView::new(&instance)).unwrap();
        assert_eq!(json["expireTime"], "20250101000000");
        assert_eq!(json["appInfo"]["passwordSet"], true);
        assert_eq!(json["appInfo"]["adminUrl"], Value::Null);
        assert_eq!(json["createdAtMs"], 5);
        assert!(!json.to_string().contains("SEALED-VALUE"));
        assert!(!json.to_string().to_lowercase().contains("sealed"));
    }
}
