//! Durable state behind one trait, with an SQLite (embedded default) and a Postgres (production,
//! multi-node) implementation.
//!
//! A marketplace callback is one [`Transaction`]: the nonce claim, the state change, its event (and
//! delivery job) and the audit row commit together or not at all. Everything that must hold across
//! nodes — the nonce replay cache, the order-line claim, the renewal/upgrade idempotency keys, job
//! claims — lives here under unique constraints, row locks and leases, never in process memory.
//! Handlers and the job worker orchestrate through the trait and never see SQL.
//!
//! Times are stored as Unix milliseconds (`*_ms` columns, BIGINT) in both databases so one row type
//! serves both; in Postgres `to_timestamp(col / 1000.0)` shows them as dates.

mod postgres;
mod queue;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
use queue::JOB_COLUMNS;
pub use queue::{Job, JobKind, JobState, NewJob, UnknownJobState};
pub use sqlite::SqliteStore;

use crate::domain::{Event, Instance};
use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

/// Result of claiming an order line for `newInstance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderLineClaim {
    /// This call created the instance.
    Created,
    /// An earlier delivery already created it (for this order line, or for this pay-per-use product of
    /// the order): this is that instance.
    Existing(Box<Instance>),
    /// The proposed instance ID (`businessId`) already belongs to another order line.
    InstanceIdTaken,
}

/// An order applied to an instance (renewal, conversion, upgrade); its key makes the application idempotent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AppliedOrder {
    pub instance_id: String,
    /// `refresh:<scene>` or `upgrade`.
    pub operation: String,
    pub order_id: String,
    pub order_line_id: Option<String>,
    pub applied_at_ms: i64,
}

/// One inbound call as recorded in the audit log, credentials already removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub received_at_ms: i64,
    pub method: String,
    pub path: String,
    /// The query string without `signature`.
    pub query: String,
    pub activity: Option<String>,
    pub instance_id: Option<String>,
    pub order_id: Option<String>,
    pub order_line_id: Option<String>,
    pub test_flag: bool,
    /// Which key type and payload candidate verified the call, or why verification failed.
    pub verification: String,
    pub result_code: String,
    pub result_msg: String,
    pub duration_ms: i64,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// Relevant request headers as a JSON object.
    pub request_headers: Option<String>,
}

impl AuditEntry {
    /// The entry with NUL characters replaced: Postgres TEXT cannot hold them, and an audit row must
    /// never be lost to what a caller sent.
    pub fn scrubbed(&self) -> AuditEntry {
        let scrub = |text: &String| if text.contains('\0') { text.replace('\0', "\u{FFFD}") } else { text.clone() };
        let scrub_opt = |text: &Option<String>| text.as_ref().map(scrub);
        AuditEntry {
            received_at_ms: self.received_at_ms,
            method: scrub(&self.method),
            path: scrub(&self.path),
            query: scrub(&self.query),
            activity: scrub_opt(&self.activity),
            instance_id: scrub_opt(&self.instance_id),
            order_id: scrub_opt(&self.order_id),
            order_line_id: scrub_opt(&self.order_line_id),
            test_flag: self.test_flag,
            verification: scrub(&self.verification),
            result_code: scrub(&self.result_code),
            result_msg: scrub(&self.result_msg),
            duration_ms: self.duration_ms,
            request_body: scrub_opt(&self.request_body),
            response_body: scrub_opt(&self.response_body),
            request_headers: scrub_opt(&self.request_headers),
        }
    }
}

/// Filters and a cursor for listing instances.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub status: Option<String>,
    pub order_id: Option<String>,
    /// Only instances whose ID sorts after this (the previous page's last ID).
    pub after: Option<String>,
    pub limit: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Cheap round trip proving the database answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Closes the pool: waits for connections in use, then refuses new work (shutdown).
    async fn close(&self);
    /// Starts the transaction of one callback.
    async fn begin(&self) -> Result<Box<dyn Transaction>, StoreError>;
    /// Records calls that were refused before or outside a callback transaction, in one transaction.
    async fn record_audits(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Deletes nonce records whose retention ended; returns how many.
    async fn purge_expired_nonces(&self, now_ms: i64) -> Result<u64, StoreError>;
    async fn instance(&self, instance_id: &str) -> Result<Option<Instance>, StoreError>;
    async fn count_instances_for_order_line(&self, order_id: &str, order_line_id: &str) -> Result<i64, StoreError>;
    /// Every recorded call about an order: those naming it, and those naming an instance created for it.
    async fn audit_for_order(&self, order_id: &str) -> Result<Vec<AuditEntry>, StoreError>;
    /// The orders applied to an instance, oldest first.
    async fn applied_orders(&self, instance_id: &str) -> Result<Vec<AppliedOrder>, StoreError>;
    /// Every recorded call naming the instance, oldest first.
    async fn audit_for_instance(&self, instance_id: &str) -> Result<Vec<AuditEntry>, StoreError>;
    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<Instance>, StoreError>;
    async fn event(&self, event_id: &str) -> Result<Option<Event>, StoreError>;
    /// An instance's history, oldest first.
    async fn events_for_instance(&self, instance_id: &str) -> Result<Vec<Event>, StoreError>;

    /// Claims up to `limit` due jobs of the given kinds (pending and due, or running with an expired
    /// lease) whose ordering key has no older unfinished job, marking them running until
    /// `lease_until_ms`. Several nodes may claim at once: each job goes to one of them.
    async fn claim_jobs(&self, kinds: &[JobKind], now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<Job>, StoreError>;
    /// Marks a claimed job done; `false` if the claim was lost (lease expired and reclaimed).
    async fn complete_job(&self, job: &Job, now_ms: i64) -> Result<bool, StoreError>;
    /// Records a failed attempt: pending again from `retry_at_ms`, or dead when `None`.
    async fn fail_job(&self, job: &Job, now_ms: i64, error: &str, retry_at_ms: Option<i64>) -> Result<bool, StoreError>;
    /// Extends the lease of a claimed job still being worked on; `false` if the claim was lost.
    async fn extend_lease(&self, job: &Job, lease_until_ms: i64) -> Result<bool, StoreError>;
    /// Puts a dead job back in the queue with a new deadline; `false` if it is not dead.
    async fn retry_job(&self, job_id: i64, now_ms: i64, deadline_ms: i64) -> Result<bool, StoreError>;
    async fn job(&self, job_id: i64) -> Result<Option<Job>, StoreError>;
    /// Jobs in `state` (any state if `None`) with an ID above `after`, oldest first.
    async fn list_jobs(&self, state: Option<JobState>, after: Option<i64>, limit: i64) -> Result<Vec<Job>, StoreError>;
    /// Deletes done jobs last updated before `before_ms`; returns how many.
    async fn purge_done_jobs(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Deletes audit rows received before `before_ms`, in batches (writers are never held up long);
    /// returns how many.
    async fn purge_audit(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// The primitives one callback's transaction needs. Dropping it without `commit` rolls back.
#[async_trait]
pub trait Transaction: Send {
    /// Records `(key_type, nonce)` until `expires_at_ms`. `false` means it was already seen (a replay);
    /// a concurrent claim of the same nonce waits for the first transaction and then returns `false`.
    async fn claim_nonce(&mut self, key_type: &str, nonce: &str, now_ms: i64, expires_at_ms: i64) -> Result<bool, StoreError>;
    /// Inserts `instance` unless its order line (or its ID) is already taken.
    async fn claim_order_line(&mut self, instance: &Instance) -> Result<OrderLineClaim, StoreError>;
    /// The debug namespace's answer for an order line: the first proposed instance ID wins.
    async fn claim_debug_order_line(
        &mut self,
        order_id: &str,
        order_line_id: &str,
        instance_id: &str,
        now_ms: i64,
    ) -> Result<String, StoreError>;
    /// The real instances among `ids`, in no particular order.
    async fn instances(&mut self, ids: &[String]) -> Result<Vec<Instance>, StoreError>;
    /// Reads one instance and holds it against concurrent changes until the transaction ends.
    async fn lock_instance(&mut self, instance_id: &str) -> Result<Option<Instance>, StoreError>;
    /// Records an applied order; `false` if this order was already applied to the instance.
    async fn claim_applied_order(&mut self, order: &AppliedOrder) -> Result<bool, StoreError>;
    /// Writes the mutable fields of an instance.
    async fn update_instance(&mut self, instance: &Instance) -> Result<(), StoreError>;
    async fn insert_audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError>;
    async fn insert_event(&mut self, event: &Event) -> Result<(), StoreError>;
    async fn enqueue(&mut self, job: &NewJob) -> Result<(), StoreError>;
    /// As [`Store::fail_job`], inside this transaction (so a job's death commits with its consequences).
    async fn fail_job(&mut self, job: &Job, now_ms: i64, error: &str, retry_at_ms: Option<i64>) -> Result<bool, StoreError>;
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Opens the store a `database.url` names: `sqlite:…` or `postgres://…`.
pub async fn connect(url: &str, max_connections: u32, acquire_timeout: std::time::Duration) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections, acquire_timeout).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url, max_connections, acquire_timeout).await?))
    } else {
        anyhow::bail!("database.url must start with sqlite: or postgres://")
    }
}

/// Columns of `instances` (read by the `FromRow` of [`Instance`] in `sql.rs`).
const INSTANCE_COLUMNS: &str = "instance_id, order_id, order_line_id, status, product_id, expire_time_ms, trial, last_order_id, plan, app_info, \
     created_at_ms, updated_at_ms, buyer, refusal, order_product";

/// Columns of `audit_log`, as [`AuditEntry`] reads them.
const AUDIT_COLUMNS: &str = "received_at_ms, method, path, query, activity, instance_id, order_id, order_line_id, test_flag, verification, result_code, result_msg, duration_ms, request_body, response_body, request_headers";

fn app_info_json(instance: &Instance) -> Option<String> {
    instance.app_info.as_ref().map(|info| serde_json::to_string(info).expect("app info serialises"))
}

fn buyer_json(instance: &Instance) -> Option<String> {
    instance.buyer.as_ref().map(|buyer| serde_json::to_string(buyer).expect("a buyer serialises"))
}

fn refusal_json(instance: &Instance) -> Option<String> {
    instance.refusal.as_ref().map(|refusal| serde_json::to_string(refusal).expect("a refusal serialises"))
}

/// Columns of `events` (read by the `FromRow` of [`Event`] in `sql.rs`).
const EVENT_COLUMNS: &str = "id, seq, instance_id, type, occurred_at_ms, test_flag, data";

/// A column whose stored value this version cannot read.
fn corrupt(column: &str, problem: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.to_owned(), source: problem.into() }
}
