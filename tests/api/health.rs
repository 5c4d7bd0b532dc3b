use crate::helpers::*;
use crate::store_tests;
use koogate::domain::{Event, Instance};
use koogate::store::{
    AppliedOrder, AuditEntry, InstanceFilter, Job, JobKind, JobState, NewJob, OrderLineClaim, Store, StoreError, Transaction,
};
use serde_json::json;
use sqlx::Connection;
use std::sync::Arc;

async fn health_and_readiness(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
}

async fn an_unreachable_database_answers_000005(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    app.store.close().await;
    let answer = app.call(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    assert_eq!(code(&answer), "000005", "{answer}");
    let response = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/json");
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

/// A store whose callback transactions fail at their last write (the audit row), and whose first
/// `.1` writes of refused-call audit rows fail as well.
struct FailingAudit(Arc<dyn Store>, std::sync::atomic::AtomicU32);
struct FailingAuditTx(Box<dyn Transaction>);

#[async_trait::async_trait]
impl Store for FailingAudit {
    fn backend(&self) -> &'static str {
        self.0.backend()
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        self.0.migrate().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
    async fn close(&self) {
        self.0.close().await
    }
    async fn begin(&self) -> Result<Box<dyn Transaction>, StoreError> {
        Ok(Box::new(FailingAuditTx(self.0.begin().await?)))
    }
    async fn record_audits(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.1.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok() {
            return Err(StoreError::Corrupt("injected: the database does not take audit rows".into()));
        }
        self.0.record_audits(entries).await
    }
    async fn purge_expired_nonces(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.0.purge_expired_nonces(now_ms).await
    }
    async fn instance(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        self.0.instance(id).await
    }
    async fn count_instances_for_order_line(&self, order_id: &str, line: &str) -> Result<i64, StoreError> {
        self.0.count_instances_for_order_line(order_id, line).await
    }
    async fn audit_for_order(&self, order_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.audit_for_order(order_id).await
    }
    async fn applied_orders(&self, id: &str) -> Result<Vec<AppliedOrder>, StoreError> {
        self.0.applied_orders(id).await
    }
    async fn audit_for_instance(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.audit_for_instance(id).await
    }
    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<Instance>, StoreError> {
        self.0.list_instances(filter).await
    }
    async fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        self.0.event(id).await
    }
    async fn events_for_instance(&self, id: &str) -> Result<Vec<Event>, StoreError> {
        self.0.events_for_instance(id).await
    }
    async fn claim_jobs(&self, kinds: &[JobKind], now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<Job>, StoreError> {
        self.0.claim_jobs(kinds, now_ms, lease_until_ms, limit).await
    }
    async fn complete_job(&self, job: &Job, now_ms: i64) -> Result<bool, StoreError> {
        self.0.complete_job(job, now_ms).await
    }
    async fn fail_job(&self, job: &Job, now_ms: i64, error: &str, retry_at_ms: Option<i64>) -> Result<bool, StoreError> {
        self.0.fail_job(job, now_ms, error, retry_at_ms).await
    }
    async fn extend_lease(&self, job: &Job, lease_until_ms: i64) -> Result<bool, StoreError> {
        self.0.extend_lease(job, lease_until_ms).await
    }
    async fn retry_job(&self, id: i64, now_ms: i64, deadline_ms: i64) -> Result<bool, StoreError> {
        self.0.retry_job(id, now_ms, deadline_ms).await
    }
    async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.0.job(id).await
    }
    async fn list_jobs(&self, state: Option<JobState>, after: Option<i64>, limit: i64) -> Result<Vec<Job>, StoreError> {
        self.0.list_jobs(state, after, limit).await
    }
    async fn purge_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.0.purge_audit(before_ms).await
    }
    async fn purge_done_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.0.purge_done_jobs(before_ms).await
    }
}

#[async_trait::async_trait]
impl Transaction for FailingAuditTx {
    async fn claim_nonce(&mut self, key_type: &str, nonce: &str, now_ms: i64, expires_at_ms: i64) -> Result<bool, StoreError> {
        self.0.claim_nonce(key_type, nonce, now_ms, expires_at_ms).await
    }
    async fn claim_order_line(&mut self, instance: &Instance) -> Result<OrderLineClaim, StoreError> {
        self.0.claim_order_line(instance).await
    }
    async fn claim_debug_order_line(&mut self, order_id: &str, line: &str, id: &str, now_ms: i64) -> Result<String, StoreError> {
        self.0.claim_debug_order_line(order_id, line, id, now_ms).await
    }
    async fn instances(&mut self, ids: &[String]) -> Result<Vec<Instance>, StoreError> {
        self.0.instances(ids).await
    }
    async fn lock_instance(&mut self, id: &str) -> Result<Option<Instance>, StoreError> {
        self.0.lock_instance(id).await
    }
    async fn claim_applied_order(&mut self, order: &AppliedOrder) -> Result<bool, StoreError> {
        self.0.claim_applied_order(order).await
    }
    async fn update_instance(&mut self, instance: &Instance) -> Result<(), StoreError> {
        self.0.update_instance(instance).await
    }
    async fn insert_audit(&mut self, _: &AuditEntry) -> Result<(), StoreError> {
        Err(StoreError::Corrupt("injected failure".into()))
    }
    async fn insert_event(&mut self, event: &Event) -> Result<(), StoreError> {
        self.0.insert_event(event).await
    }
    async fn enqueue(&mut self, job: &NewJob) -> Result<(), StoreError> {
        self.0.enqueue(job).await
    }
    async fn fail_job(&mut self, job: &Job, now_ms: i64, error: &str, retry_at_ms: Option<i64>) -> Result<bool, StoreError> {
        self.0.fail_job(job, now_ms, error, retry_at_ms).await
    }
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.0.commit().await
    }
}

async fn a_failure_late_in_a_callback_leaves_nothing_written(kind: StoreKind) {
    let healthy = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&healthy).await;
    // The refused-call writer fails three times too: the rows are written once it can.
    let failing = TestApp::spawn_wrapped(healthy.db.clone(), |_| {}, |store| Arc::new(FailingAudit(store, 3.into()))).await;
    let order = order_id();
    let answer = failing.call(new_instance(&order)).await;
    assert_eq!(code(&answer), "000005", "{answer}");
    assert_eq!(healthy.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 0, "no instance");
    let answer = failing.call(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    assert_eq!(code(&answer), "000005");
    assert_eq!(healthy.store.instance(&id).await.unwrap().unwrap().status.as_str(), "active", "no status change");
    // The failure itself is audited (by the background writer).
    let rows = audit_rows(&healthy, &order, 2).await;
    assert_eq!(rows.iter().map(|r| r.result_code.as_str()).collect::<Vec<_>>(), ["000005"]);
}

async fn a_held_lock_answers_000005_within_the_budget(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    // Another session holds the instance (Postgres) or the database's write lock (SQLite).
    let _held: Box<dyn std::any::Any + Send> = match kind {
        StoreKind::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
            sqlx::query("SELECT 1 FROM instances WHERE instance_id = $1 FOR UPDATE").bind(&id).execute(&mut connection).await.unwrap();
            Box::new(connection)
        }
        StoreKind::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut connection).await.unwrap();
            Box::new(connection)
        }
    };
    let started = std::time::Instant::now();
    let answer = app.call(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    assert_eq!(code(&answer), "000005", "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "answered within the marketplace's 20 s, well before");
}

store_tests!(
    health_and_readiness,
    an_unreachable_database_answers_000005,
    a_failure_late_in_a_callback_leaves_nothing_written,
    a_held_lock_answers_000005_within_the_budget
);
