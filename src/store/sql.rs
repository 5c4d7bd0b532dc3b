//! The SQL both stores share. SQLite and Postgres accept the same statements here (`$N` parameters,
//! `ON CONFLICT … DO NOTHING/UPDATE … RETURNING`); what differs — how a write transaction starts, whether
//! a row can be locked, how to connect and migrate — is passed in by `sqlite.rs` and `postgres.rs`.
//! A macro rather than generics over `sqlx::Database`, because the trait bounds sqlx needs for generic
//! executors would drown the queries they are meant to share.

/// Implements [`super::Store`] for `$store` (a struct with a `pool: sqlx::Pool<$db>` field and an
/// `async fn write_permit(&self) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, StoreError>`) and
/// [`super::Transaction`] for `$tx`, and reads `$row`s (the backend's row type) into instances and events. `$begin` is the statement that starts a callback's write
/// transaction; `$lock` is appended to the SELECT that must hold an instance until commit, and
/// `$skip_locked` to the SELECT that picks jobs to claim (so concurrent claimers skip each other's rows).
macro_rules! impl_sql_store {
    (store: $store:ident, tx: $tx:ident, db: $db:ty, row: $row:ty, backend: $backend:literal, begin: $begin:literal, lock: $lock:literal, skip_locked: $skip_locked:literal, migrator: $migrator:expr) => {
        /// One callback's open transaction.
        pub struct $tx {
            tx: sqlx::Transaction<'static, $db>,
            /// Held until commit or rollback where the store serialises writers itself.
            _write_permit: Option<tokio::sync::OwnedSemaphorePermit>,
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn migrate(&self) -> Result<(), $crate::store::StoreError> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn begin(&self) -> Result<Box<dyn $crate::store::Transaction>, $crate::store::StoreError> {
                let write_permit = self.write_permit().await?;
                Ok(Box::new($tx { tx: self.pool.begin_with($begin).await?, _write_permit: write_permit }))
            }

            async fn record_audits(&self, entries: &[$crate::store::AuditEntry]) -> Result<(), $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let mut tx = self.pool.begin_with($begin).await?;
                for entry in entries {
                    insert_audit_query(&entry.scrubbed()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn purge_expired_nonces(&self, now_ms: i64) -> Result<u64, $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let done = sqlx::query("DELETE FROM nonces WHERE expires_at_ms <= $1").bind(now_ms).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            async fn instance(&self, instance_id: &str) -> Result<Option<$crate::domain::Instance>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM instances WHERE instance_id = $1", $crate::store::INSTANCE_COLUMNS);
                let row: Option<$crate::domain::Instance> = sqlx::query_as(&sql).bind(instance_id).fetch_optional(&self.pool).await?;
                Ok(row)
            }

            async fn count_instances_for_order_line(&self, order_id: &str, order_line_id: &str) -> Result<i64, $crate::store::StoreError> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instances WHERE order_id = $1 AND order_line_id = $2")
                    .bind(order_id)
                    .bind(order_line_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(count)
            }

            async fn audit_for_order(&self, order_id: &str) -> Result<Vec<$crate::store::AuditEntry>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM audit_log WHERE order_id = $1 OR instance_id IN (SELECT instance_id FROM instances WHERE order_id = $1) ORDER BY id",
                    $crate::store::AUDIT_COLUMNS
                );
                let rows: Vec<$crate::store::AuditEntry> = sqlx::query_as(&sql).bind(order_id).fetch_all(&self.pool).await?;
                Ok(rows)
            }

            async fn applied_orders(&self, instance_id: &str) -> Result<Vec<$crate::store::AppliedOrder>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::AppliedOrder> = sqlx::query_as(
                    "SELECT instance_id, operation, order_id, order_line_id, applied_at_ms FROM applied_orders WHERE instance_id = $1 ORDER BY applied_at_ms, order_id",
                )
                .bind(instance_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows)
            }

            async fn audit_for_instance(&self, instance_id: &str) -> Result<Vec<$crate::store::AuditEntry>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM audit_log WHERE instance_id = $1 ORDER BY id", $crate::store::AUDIT_COLUMNS);
                let rows: Vec<$crate::store::AuditEntry> = sqlx::query_as(&sql).bind(instance_id).fetch_all(&self.pool).await?;
                Ok(rows)
            }

            async fn list_instances(&self, filter: &$crate::store::InstanceFilter) -> Result<Vec<$crate::domain::Instance>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM instances WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) AND (CAST($2 AS TEXT) IS NULL OR order_id = $2) \
                     AND instance_id > $3 ORDER BY instance_id LIMIT $4",
                    $crate::store::INSTANCE_COLUMNS
                );
                let rows: Vec<$crate::domain::Instance> = sqlx::query_as(&sql)
                    .bind(&filter.status)
                    .bind(&filter.order_id)
                    .bind(filter.after.as_deref().unwrap_or(""))
                    .bind(filter.limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows)
            }

            async fn event(&self, event_id: &str) -> Result<Option<$crate::domain::Event>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM events WHERE id = $1", $crate::store::EVENT_COLUMNS);
                let row: Option<$crate::domain::Event> = sqlx::query_as(&sql).bind(event_id).fetch_optional(&self.pool).await?;
                Ok(row)
            }

            async fn events_for_instance(&self, instance_id: &str) -> Result<Vec<$crate::domain::Event>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM events WHERE instance_id = $1 ORDER BY seq", $crate::store::EVENT_COLUMNS);
                let rows: Vec<$crate::domain::Event> = sqlx::query_as(&sql).bind(instance_id).fetch_all(&self.pool).await?;
                Ok(rows)
            }

            async fn claim_jobs(&self, kinds: &[$crate::store::JobKind], now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<$crate::store::Job>, $crate::store::StoreError> {
                if kinds.is_empty() {
                    return Ok(Vec::new());
                }
                let _write_permit = self.write_permit().await?;
                let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
                let sql = format!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until_ms = $2, updated_at_ms = $1 \
                     WHERE id IN (SELECT j.id FROM jobs j \
                       WHERE ((j.state = 'pending' AND j.run_after_ms <= $1) OR (j.state = 'running' AND j.locked_until_ms <= $1)) \
                       AND j.kind IN ({}) \
                       AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.ordering_key = j.ordering_key AND e.id < j.id AND e.state IN ('pending', 'running')) \
                       ORDER BY j.id LIMIT $3{}) \
                     RETURNING {}",
                    kind_params.join(", "),
                    $skip_locked,
                    $crate::store::JOB_COLUMNS
                );
                let mut query = sqlx::query_as::<_, $crate::store::Job>(&sql).bind(now_ms).bind(lease_until_ms).bind(limit);
                for kind in kinds {
                    query = query.bind(kind.as_str());
                }
                let rows = query.fetch_all(&self.pool).await?;
                let mut jobs = rows;
                jobs.sort_by_key(|job| job.id);
                Ok(jobs)
            }

            async fn complete_job(&self, job: &$crate::store::Job, now_ms: i64) -> Result<bool, $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let done = sqlx::query(
                    "UPDATE jobs SET state = 'done', locked_until_ms = NULL, last_error = NULL, updated_at_ms = $3 \
                     WHERE id = $1 AND attempts = $2 AND state = 'running'",
                )
                .bind(job.id)
                .bind(job.attempts)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn fail_job(&self, job: &$crate::store::Job, now_ms: i64, error: &str, retry_at_ms: Option<i64>) -> Result<bool, $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let done = fail_job_query(job, now_ms, error, retry_at_ms).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn extend_lease(&self, job: &$crate::store::Job, lease_until_ms: i64) -> Result<bool, $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let done = sqlx::query("UPDATE jobs SET locked_until_ms = $3 WHERE id = $1 AND attempts = $2 AND state = 'running'")
                    .bind(job.id)
                    .bind(job.attempts)
                    .bind(lease_until_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn retry_job(&self, job_id: i64, now_ms: i64, deadline_ms: i64) -> Result<bool, $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let done = sqlx::query(
                    "UPDATE jobs SET state = 'pending', run_after_ms = $2, deadline_ms = $3, locked_until_ms = NULL, updated_at_ms = $2 \
                     WHERE id = $1 AND state = 'dead'",
                )
                .bind(job_id)
                .bind(now_ms)
                .bind(deadline_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn job(&self, job_id: i64) -> Result<Option<$crate::store::Job>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM jobs WHERE id = $1", $crate::store::JOB_COLUMNS);
                let row: Option<$crate::store::Job> = sqlx::query_as(&sql).bind(job_id).fetch_optional(&self.pool).await?;
                Ok(row)
            }

            async fn list_jobs(&self, state: Option<$crate::store::JobState>, after: Option<i64>, limit: i64) -> Result<Vec<$crate::store::Job>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND id > $2 ORDER BY id LIMIT $3",
                    $crate::store::JOB_COLUMNS
                );
                let rows: Vec<$crate::store::Job> =
                    sqlx::query_as(&sql).bind(state.map(|s| s.as_str())).bind(after.unwrap_or(0)).bind(limit).fetch_all(&self.pool).await?;
                Ok(rows)
            }

            async fn purge_done_jobs(&self, before_ms: i64) -> Result<u64, $crate::store::StoreError> {
                let _write_permit = self.write_permit().await?;
                let done = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND updated_at_ms < $1").bind(before_ms).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            async fn purge_audit(&self, before_ms: i64) -> Result<u64, $crate::store::StoreError> {
                const BATCH: i64 = 5_000;
                let mut purged = 0;
                loop {
                    let _write_permit = self.write_permit().await?;
                    let done = sqlx::query(
                        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE received_at_ms < $1 ORDER BY id LIMIT $2)",
                    )
                    .bind(before_ms)
                    .bind(BATCH)
                    .execute(&self.pool)
                    .await?;
                    purged += done.rows_affected();
                    if done.rows_affected() < BATCH as u64 {
                        return Ok(purged);
                    }
                }
            }
        }

        /// An instance as stored; a status or app info this version cannot read is a decode error.
        impl<'r> sqlx::FromRow<'r, $row> for $crate::domain::Instance {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row;
                let instance_id: String = row.try_get("instance_id")?;
                let status: String = row.try_get("status")?;
                let status = $crate::domain::InstanceStatus::parse(&status)
                    .ok_or_else(|| $crate::store::corrupt("status", format!("instance {instance_id} has status {status:?}")))?;
                let app_info = json_column(row, "app_info", &instance_id)?;
                let buyer = json_column(row, "buyer", &instance_id)?;
                let refusal = json_column(row, "refusal", &instance_id)?;
                Ok($crate::domain::Instance {
                    order_id: row.try_get("order_id")?,
                    order_line_id: row.try_get("order_line_id")?,
                    status,
                    product_id: row.try_get("product_id")?,
                    expire_time_ms: row.try_get("expire_time_ms")?,
                    trial: row.try_get("trial")?,
                    last_order_id: row.try_get("last_order_id")?,
                    plan: row.try_get("plan")?,
                    app_info,
                    buyer,
                    refusal,
                    order_product: row.try_get("order_product")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                    instance_id,
                })
            }
        }

        /// A JSON text column of an instance, read into `T`.
        fn json_column<T: serde::de::DeserializeOwned>(row: &$row, column: &str, instance_id: &str) -> Result<Option<T>, sqlx::Error> {
            use sqlx::Row;
            let text: Option<String> = row.try_get(column)?;
            text.map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| $crate::store::corrupt(column, format!("instance {instance_id} {column}: {e}")))
        }

        /// An event as stored, with its sequence number.
        impl<'r> sqlx::FromRow<'r, $row> for $crate::domain::Event {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row;
                let id: String = row.try_get("id")?;
                let event_type: String = row.try_get("type")?;
                let event_type =
                    $crate::domain::EventType::parse(&event_type).ok_or_else(|| $crate::store::corrupt("type", format!("event {id} has type {event_type:?}")))?;
                let data: String = row.try_get("data")?;
                let data = serde_json::from_str(&data).map_err(|e| $crate::store::corrupt("data", format!("event {id} data: {e}")))?;
                Ok($crate::domain::Event {
                    sequence: Some(row.try_get("seq")?),
                    instance_id: row.try_get("instance_id")?,
                    event_type,
                    occurred_at_ms: row.try_get("occurred_at_ms")?,
                    test_flag: row.try_get("test_flag")?,
                    data,
                    id,
                })
            }
        }

        /// A failed attempt (fenced by `attempts`): pending again from `retry_at_ms`, or dead.
        fn fail_job_query<'q>(
            job: &'q $crate::store::Job,
            now_ms: i64,
            error: &str,
            retry_at_ms: Option<i64>,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            let state = if retry_at_ms.is_some() { "pending" } else { "dead" };
            let error: String = error.replace('\0', "\u{FFFD}").chars().take(2000).collect();
            sqlx::query(
                "UPDATE jobs SET state = $4, run_after_ms = $5, locked_until_ms = NULL, last_error = $6, updated_at_ms = $3 \
                 WHERE id = $1 AND attempts = $2 AND state = 'running'",
            )
            .bind(job.id)
            .bind(job.attempts)
            .bind(now_ms)
            .bind(state)
            .bind(retry_at_ms.unwrap_or(job.run_after_ms))
            .bind(error)
        }

        /// Binds every column of an instance as `$1…$15`, in the order of [`INSTANCE_COLUMNS`]
        /// (`crate::store::INSTANCE_COLUMNS`).
        fn bind_instance<'q>(
            query: sqlx::query::QueryScalar<'q, $db, String, <$db as sqlx::Database>::Arguments<'q>>,
            instance: &'q $crate::domain::Instance,
        ) -> sqlx::query::QueryScalar<'q, $db, String, <$db as sqlx::Database>::Arguments<'q>> {
            query
                .bind(&instance.instance_id)
                .bind(&instance.order_id)
                .bind(&instance.order_line_id)
                .bind(instance.status.as_str())
                .bind(&instance.product_id)
                .bind(instance.expire_time_ms)
                .bind(instance.trial)
                .bind(&instance.last_order_id)
                .bind(&instance.plan)
                .bind($crate::store::app_info_json(instance))
                .bind(instance.created_at_ms)
                .bind(instance.updated_at_ms)
                .bind($crate::store::buyer_json(instance))
                .bind($crate::store::refusal_json(instance))
                .bind(&instance.order_product)
        }

        /// Binds an audit entry; callers pass it `scrubbed()`.
        fn insert_audit_query(entry: &$crate::store::AuditEntry) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
            sqlx::query(
                "INSERT INTO audit_log (received_at_ms, method, path, query, activity, instance_id, order_id, order_line_id, test_flag, \
                 verification, result_code, result_msg, duration_ms, request_body, response_body, request_headers) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(entry.received_at_ms)
            .bind(&entry.method)
            .bind(&entry.path)
            .bind(&entry.query)
            .bind(&entry.activity)
            .bind(&entry.instance_id)
            .bind(&entry.order_id)
            .bind(&entry.order_line_id)
            .bind(entry.test_flag)
            .bind(&entry.verification)
            .bind(&entry.result_code)
            .bind(&entry.result_msg)
            .bind(entry.duration_ms)
            .bind(&entry.request_body)
            .bind(&entry.response_body)
            .bind(&entry.request_headers)
        }

        #[async_trait::async_trait]
        impl $crate::store::Transaction for $tx {
            async fn claim_nonce(&mut self, key_type: &str, nonce: &str, now_ms: i64, expires_at_ms: i64) -> Result<bool, $crate::store::StoreError> {
                // An expired record that the purge has not reached yet does not count as a replay.
                let claimed: Option<String> = sqlx::query_scalar(
                    "INSERT INTO nonces (key_type, nonce, expires_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (key_type, nonce) DO UPDATE SET expires_at_ms = excluded.expires_at_ms \
                     WHERE nonces.expires_at_ms <= $4 RETURNING nonce",
                )
                .bind(key_type)
                .bind(nonce)
                .bind(expires_at_ms)
                .bind(now_ms)
                .fetch_optional(&mut *self.tx)
                .await?;
                Ok(claimed.is_some())
            }

            async fn claim_order_line(&mut self, instance: &$crate::domain::Instance) -> Result<$crate::store::OrderLineClaim, $crate::store::StoreError> {
                let sql = format!(
                    "INSERT INTO instances ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING RETURNING instance_id",
                    $crate::store::INSTANCE_COLUMNS
                );
                let inserted: Option<String> =
                    bind_instance(sqlx::query_scalar(&sql), instance).fetch_optional(&mut *self.tx).await?;
                if inserted.is_some() {
                    return Ok($crate::store::OrderLineClaim::Created);
                }
                // A new statement sees the row a concurrent delivery committed while the insert waited: the
                // order line's instance, or the instance of the same product in this order (pay-per-use).
                let sql = format!(
                    "SELECT {} FROM instances WHERE order_id = $1 AND (order_line_id = $2 OR order_product = $3) \
                     ORDER BY CASE WHEN order_line_id = $2 THEN 0 ELSE 1 END LIMIT 1",
                    $crate::store::INSTANCE_COLUMNS
                );
                let existing: Option<$crate::domain::Instance> = sqlx::query_as(&sql)
                    .bind(&instance.order_id)
                    .bind(&instance.order_line_id)
                    .bind(&instance.order_product)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                match existing {
                    Some(instance) => Ok($crate::store::OrderLineClaim::Existing(Box::new(instance))),
                    None => Ok($crate::store::OrderLineClaim::InstanceIdTaken),
                }
            }

            async fn claim_debug_order_line(&mut self, order_id: &str, order_line_id: &str, instance_id: &str, now_ms: i64) -> Result<String, $crate::store::StoreError> {
                // The no-op update makes RETURNING yield the first claim's instance ID on every repeat.
                let first: String = sqlx::query_scalar(
                    "INSERT INTO debug_instances (order_id, order_line_id, instance_id, created_at_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (order_id, order_line_id) DO UPDATE SET order_id = debug_instances.order_id RETURNING instance_id",
                )
                .bind(order_id)
                .bind(order_line_id)
                .bind(instance_id)
                .bind(now_ms)
                .fetch_one(&mut *self.tx)
                .await?;
                Ok(first)
            }

            async fn instances(&mut self, ids: &[String]) -> Result<Vec<$crate::domain::Instance>, $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(format!("SELECT {} FROM instances WHERE instance_id IN (", $crate::store::INSTANCE_COLUMNS));
                let mut list = query.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                query.push(")");
                let rows: Vec<$crate::domain::Instance> = query.build_query_as().fetch_all(&mut *self.tx).await?;
                Ok(rows)
            }

            async fn lock_instance(&mut self, instance_id: &str) -> Result<Option<$crate::domain::Instance>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM instances WHERE instance_id = $1{}", $crate::store::INSTANCE_COLUMNS, $lock);
                let row: Option<$crate::domain::Instance> = sqlx::query_as(&sql).bind(instance_id).fetch_optional(&mut *self.tx).await?;
                Ok(row)
            }

            async fn claim_applied_order(&mut self, order: &$crate::store::AppliedOrder) -> Result<bool, $crate::store::StoreError> {
                let claimed: Option<String> = sqlx::query_scalar(
                    "INSERT INTO applied_orders (instance_id, operation, order_id, order_line_id, applied_at_ms) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT DO NOTHING RETURNING order_id",
                )
                .bind(&order.instance_id)
                .bind(&order.operation)
                .bind(&order.order_id)
                .bind(&order.order_line_id)
                .bind(order.applied_at_ms)
                .fetch_optional(&mut *self.tx)
                .await?;
                Ok(claimed.is_some())
            }

            async fn update_instance(&mut self, instance: &$crate::domain::Instance) -> Result<(), $crate::store::StoreError> {
                // The identity columns ($1–$3, $11) never change; every other column takes the instance's value.
                let updated: Option<String> = bind_instance(
                    sqlx::query_scalar(
                        "UPDATE instances SET status = $4, product_id = $5, expire_time_ms = $6, trial = $7, last_order_id = $8, plan = $9, \
                         app_info = $10, updated_at_ms = $12, buyer = $13, refusal = $14, order_product = $15 WHERE instance_id = $1 AND order_id = $2 AND order_line_id = $3 \
                         AND created_at_ms = $11 RETURNING instance_id",
                    ),
                    instance,
                )
                .fetch_optional(&mut *self.tx)
                .await?;
                match updated {
                    Some(_) => Ok(()),
                    None => Err($crate::store::StoreError::Corrupt(format!("instance {} changed identity or vanished", instance.instance_id))),
                }
            }

            async fn insert_audit(&mut self, entry: &$crate::store::AuditEntry) -> Result<(), $crate::store::StoreError> {
                insert_audit_query(&entry.scrubbed()).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_event(&mut self, event: &$crate::domain::Event) -> Result<(), $crate::store::StoreError> {
                sqlx::query("INSERT INTO events (id, instance_id, type, occurred_at_ms, test_flag, data) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&event.id)
                    .bind(event.instance_id.replace('\0', "\u{FFFD}"))
                    .bind(event.event_type.as_str())
                    .bind(event.occurred_at_ms)
                    .bind(event.test_flag)
                    .bind(event.data.to_string())
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn enqueue(&mut self, job: &$crate::store::NewJob) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO jobs (kind, ordering_key, payload, state, attempts, run_after_ms, deadline_ms, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $6)",
                )
                .bind(job.kind.as_str())
                .bind(&job.ordering_key)
                .bind(&job.payload)
                .bind(job.run_after_ms)
                .bind(job.deadline_ms)
                .bind(job.created_at_ms)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn fail_job(&mut self, job: &$crate::store::Job, now_ms: i64, error: &str, retry_at_ms: Option<i64>) -> Result<bool, $crate::store::StoreError> {
                let done = fail_job_query(job, now_ms, error, retry_at_ms).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn commit(self: Box<Self>) -> Result<(), $crate::store::StoreError> {
                self.tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_sql_store;
