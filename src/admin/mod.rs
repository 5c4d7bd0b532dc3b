//! The operators' side of koogate: what happened to an instance, which marketplace calls arrived, and
//! which background jobs are stuck — without a database client, and without ever showing a password.
//!
//! Two front ends share everything here: the admin API ([`router`], served by `startup` on its own
//! listener, `admin.listen`, so it can stay on a private address while the production address is public)
//! and the `koogate instances|audit|jobs` commands ([`cli`]). Both validate parameters with the same
//! functions and print the same [`views`], so the JSON of `--json` is the JSON of the API.
//!
//! This file holds the shared, HTTP-free part: parameter parsing, paging, the audit subject, an
//! instance's history and the retry of a dead job. The API's routes, token check and error answers are
//! in `api`, and `cli` renders the same data for a terminal.

mod api;
pub mod cli;
pub mod views;

pub use api::{AdminState, router};

use crate::config::Settings;
use crate::domain::{Event, Instance, InstanceStatus};
use crate::store::{AppliedOrder, AuditEntry, Job, JobKind, JobState, Store, StoreError};
use views::{AuditView, InstanceDetail, InstanceView, Page};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
const INSTANCE_STATUSES: [InstanceStatus; 5] =
    [InstanceStatus::Provisioning, InstanceStatus::Active, InstanceStatus::Frozen, InstanceStatus::Released, InstanceStatus::Failed];

/// How long a retried job may keep failing before it is dead again, by kind.
#[derive(Debug, Clone, Copy)]
pub struct RetryHorizons {
    pub webhook_ms: i64,
    pub provision_ms: i64,
}

impl RetryHorizons {
    pub fn from_settings(settings: &Settings) -> RetryHorizons {
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        RetryHorizons { webhook_ms: ms(settings.webhook.retry_horizon_secs), provision_ms: ms(settings.provisioning.horizon_secs) }
    }

    /// Provisioning and order syncs are retried as long as the marketplace retries its calls
    /// (`provisioning.horizon_secs`); deliveries (and anything else) for `webhook.retry_horizon_secs`.
    pub fn for_kind(self, kind: &JobKind) -> i64 {
        match kind {
            JobKind::Provision | JobKind::OrderSync => self.provision_ms,
            JobKind::Webhook | JobKind::Unrecognised(_) => self.webhook_ms,
        }
    }
}

/// Reads an instance status filter; the error names the allowed values.
pub fn parse_instance_status(value: &str) -> Result<InstanceStatus, String> {
    InstanceStatus::parse(value).ok_or_else(|| {
        let allowed: Vec<&str> = INSTANCE_STATUSES.iter().map(|status| status.as_str()).collect();
        format!("must be one of {}", allowed.join(", "))
    })
}

/// Reads a job state filter; the error names the allowed values.
pub fn parse_job_state(value: &str) -> Result<JobState, String> {
    JobState::parse(value).ok_or_else(|| {
        let allowed: Vec<&str> = JobState::ALL.iter().map(|state| state.as_str()).collect();
        format!("must be one of {}", allowed.join(", "))
    })
}

/// Reads a page size: an integer from 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| format!("must be an integer from 1 to {MAX_LIMIT}"))
}

/// The cursor of the page after `items`: the last item's key when the page is full, else `None` (a
/// short page is the last one).
pub fn next_cursor<T>(items: &[T], limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 == limit { items.last().map(key) } else { None }
}

/// Pages a list read whole (the audit log of one order or instance): `after` is the position (from 0) of
/// the previous page's last entry.
pub fn audit_page(entries: &[AuditEntry], after: Option<usize>, limit: i64) -> Page<AuditView<'_>> {
    let start = after.map_or(0, |after| after.saturating_add(1)).min(entries.len());
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(entries.len());
    let items = entries[start..end].iter().map(AuditView::new).collect();
    let next = (end < entries.len() && end > start).then(|| (end - 1).to_string());
    Page { items, next }
}

/// Whose calls to list from the audit log.
#[derive(Debug, Clone)]
pub enum AuditSubject {
    /// The calls naming the order and those naming an instance created for it.
    Order(String),
    /// The calls naming the instance.
    Instance(String),
}

impl AuditSubject {
    /// The recorded calls, oldest first.
    pub async fn entries(&self, store: &dyn Store) -> Result<Vec<AuditEntry>, StoreError> {
        match self {
            AuditSubject::Order(order_id) => store.audit_for_order(order_id).await,
            AuditSubject::Instance(instance_id) => store.audit_for_instance(instance_id).await,
        }
    }
}

/// An instance and everything recorded about it, oldest first.
pub struct InstanceHistory {
    pub instance: Instance,
    pub events: Vec<Event>,
    pub applied_orders: Vec<AppliedOrder>,
    pub audit: Vec<AuditEntry>,
}

impl InstanceHistory {
    pub async fn load(store: &dyn Store, instance_id: &str) -> Result<Option<InstanceHistory>, StoreError> {
        let Some(instance) = store.instance(instance_id).await? else { return Ok(None) };
        let events = store.events_for_instance(instance_id).await?;
        let applied_orders = store.applied_orders(instance_id).await?;
        let audit = store.audit_for_instance(instance_id).await?;
        Ok(Some(InstanceHistory { instance, events, applied_orders, audit }))
    }

    pub fn view(&self) -> InstanceDetail<'_> {
        InstanceDetail {
            instance: InstanceView::new(&self.instance),
            events: self.events.iter().map(views::EventView::new).collect(),
            applied_orders: self.applied_orders.iter().map(views::AppliedOrderView::new).collect(),
            audit: self.audit.iter().map(AuditView::new).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("job {0} not found")]
    NotFound(i64),
    #[error("job {id} is {state}; only dead jobs can be retried")]
    NotDead { id: i64, state: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Puts a dead job back in the queue, due now, with a new deadline from its kind's horizon.
pub async fn retry_dead_job(store: &dyn Store, job_id: i64, horizons: RetryHorizons, now_ms: i64) -> Result<Job, RetryError> {
    let job = store.job(job_id).await?.ok_or(RetryError::NotFound(job_id))?;
    if job.state != JobState::Dead {
        return Err(RetryError::NotDead { id: job_id, state: job.state.to_string() });
    }
    let deadline_ms = now_ms.saturating_add(horizons.for_kind(&job.kind));
    if !store.retry_job(job_id, now_ms, deadline_ms).await? {
        // Someone else retried it between our read and our update: report what it is now.
        let state = store.job(job_id).await?.map_or_else(|| "gone".to_owned(), |job| job.state.to_string());
        return Err(RetryError::NotDead { id: job_id, state });
    }
    tracing::info!(job_id, kind = %job.kind, deadline_ms, "dead job put back in the queue by an operator");
    store.job(job_id).await?.ok_or(RetryError::NotFound(job_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_with_messages_that_name_the_allowed_values() {
        assert_eq!(parse_instance_status("frozen"), Ok(InstanceStatus::Frozen));
        assert_eq!(parse_instance_status("FROZEN"), Err("must be one of provisioning, active, frozen, released, failed".into()));
        assert_eq!(parse_job_state("dead"), Ok(JobState::Dead));
        assert!(parse_job_state("failed").unwrap_err().contains("pending, running, done, dead"));
        assert_eq!(parse_limit("500"), Ok(500));
        for bad in ["0", "501", "-1", "ten", ""] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_pages_continue_after_the_last_position() {
        let entries: Vec<AuditEntry> = (0..5).map(|i| AuditEntry { received_at_ms: i, ..AuditEntry::default() }).collect();
        let first = audit_page(&entries, None, 2);
        assert_eq!((first.items.len(), first.next.as_deref()), (2, Some("1")));
        let second = audit_page(&entries, Some(1), 2);
        assert_eq!((second.items[0].received_at_ms, second.next.as_deref()), (2, Some("3")));
        let last = audit_page(&entries, Some(3), 2);
        assert_eq!((last.items.len(), last.next), (1, None));
        assert!(audit_page(&entries, Some(usize::MAX), 2).items.is_empty());
        assert_eq!(audit_page(&entries, None, 5).next, None);
    }

    #[test]
    fn retries_use_the_horizon_of_the_job_kind() {
        let horizons = RetryHorizons { webhook_ms: 10, provision_ms: 20 };
        assert_eq!(
            (horizons.for_kind(&JobKind::Webhook), horizons.for_kind(&JobKind::Provision), horizons.for_kind(&JobKind::parse("test-dead"))),
            (10, 20, 10)
        );
    }
}
