//! Durable state behind one trait, with an SQLite (embedded default) and a Postgres (production,
//! multi-node) implementation.
//!
//! A marketplace callback is one [`Transaction`]: the nonce claim, the state change and the audit row
//! commit together or not at all. Everything that must hold across nodes — the nonce replay cache, the
//! order-line claim, the renewal/upgrade idempotency keys — is a unique constraint here, never process
//! memory. Handlers orchestrate through the trait and never see SQL.
//!
//! Times are stored as Unix milliseconds (`*_ms` columns, BIGINT) in both databases so one row type
//! serves both; in Postgres `to_timestamp(col / 1000.0)` shows them as dates.

mod postgres;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::domain::{Instance, InstanceStatus, StoredAppInfo};
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
    /// An earlier delivery already created it: this is that instance.
    Existing(Box<Instance>),
    /// The proposed instance ID (`businessId`) already belongs to another order line.
    InstanceIdTaken,
}

/// An order applied to an instance (renewal, conversion, upgrade); its key makes the application idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOrder {
    pub instance_id: String,
    /// `refresh:<scene>` or `upgrade`.
    pub operation: String,
    pub order_id: String,
    pub order_line_id: Option<String>,
    pub applied_at_ms: i64,
}

/// One inbound call as recorded in the audit log, credentials already removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Columns of `instances` in the order [`InstanceRow`] reads them.
const INSTANCE_COLUMNS: &str = "instance_id, order_id, order_line_id, status, product_id, expire_time_ms, trial, last_order_id, app_info, created_at_ms, updated_at_ms";

/// Columns of `audit_log` in the order [`AuditRow`] reads them.
const AUDIT_COLUMNS: &str = "received_at_ms, method, path, query, activity, instance_id, order_id, order_line_id, test_flag, verification, result_code, result_msg, duration_ms, request_body, response_body, request_headers";

#[derive(sqlx::FromRow)]
struct InstanceRow {
    instance_id: String,
    order_id: String,
    order_line_id: String,
    status: String,
    product_id: Option<String>,
    expire_time_ms: Option<i64>,
    trial: Option<bool>,
    last_order_id: Option<String>,
    app_info: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl TryFrom<InstanceRow> for Instance {
    type Error = StoreError;

    fn try_from(row: InstanceRow) -> Result<Self, StoreError> {
        let status = InstanceStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("instance {} has status {:?}", row.instance_id, row.status)))?;
        let app_info = match row.app_info {
            Some(text) => Some(
                serde_json::from_str::<StoredAppInfo>(&text)
                    .map_err(|e| StoreError::Corrupt(format!("instance {} app_info: {e}", row.instance_id)))?,
            ),
            None => None,
        };
        Ok(Instance {
            instance_id: row.instance_id,
            order_id: row.order_id,
            order_line_id: row.order_line_id,
            status,
            product_id: row.product_id,
            expire_time_ms: row.expire_time_ms,
            trial: row.trial,
            last_order_id: row.last_order_id,
            app_info,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        })
    }
}

fn app_info_json(instance: &Instance) -> Option<String> {
    instance.app_info.as_ref().map(|info| serde_json::to_string(info).expect("app info serialises"))
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    received_at_ms: i64,
    method: String,
    path: String,
    query: String,
    activity: Option<String>,
    instance_id: Option<String>,
    order_id: Option<String>,
    order_line_id: Option<String>,
    test_flag: bool,
    verification: String,
    result_code: String,
    result_msg: String,
    duration_ms: i64,
    request_body: Option<String>,
    response_body: Option<String>,
    request_headers: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            received_at_ms: row.received_at_ms,
            method: row.method,
            path: row.path,
            query: row.query,
            activity: row.activity,
            instance_id: row.instance_id,
            order_id: row.order_id,
            order_line_id: row.order_line_id,
            test_flag: row.test_flag,
            verification: row.verification,
            result_code: row.result_code,
            result_msg: row.result_msg,
            duration_ms: row.duration_ms,
            request_body: row.request_body,
            response_body: row.response_body,
            request_headers: row.request_headers,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AppliedOrderRow {
    instance_id: String,
    operation: String,
    order_id: String,
    order_line_id: Option<String>,
    applied_at_ms: i64,
}

impl From<AppliedOrderRow> for AppliedOrder {
    fn from(row: AppliedOrderRow) -> Self {
        AppliedOrder {
            instance_id: row.instance_id,
            operation: row.operation,
            order_id: row.order_id,
            order_line_id: row.order_line_id,
            applied_at_ms: row.applied_at_ms,
        }
    }
}
