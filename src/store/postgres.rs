//! The production store: Postgres, shared by every koogate node behind the load balancer.
//!
//! Cross-node guarantees come from the schema: unique keys for nonces, order lines and applied orders
//! (concurrent inserts of the same key wait for each other, and the loser sees the winner's row), and
//! `SELECT … FOR UPDATE` on the instance row so two nodes cannot interleave changes to one instance.

use super::StoreError;
use super::sql::impl_sql_store;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};
use std::str::FromStr;
use std::time::Duration;

pub struct PostgresStore {
    pool: Pool<Postgres>,
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> anyhow::Result<Self> {
        // A callback must be answered within seconds: never wait long for a lock or a statement, and
        // never let a stuck session hold row locks that block every node.
        let options = PgConnectOptions::from_str(url)?.options([
            ("lock_timeout", "3s"),
            ("statement_timeout", "4s"),
            ("idle_in_transaction_session_timeout", "30s"),
        ]);
        let pool = PgPoolOptions::new().max_connections(max_connections).acquire_timeout(acquire_timeout).connect_with(options).await?;
        Ok(PostgresStore { pool })
    }

    /// Postgres serialises conflicting writers itself (unique keys, row locks).
    async fn write_permit(&self) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, StoreError> {
        Ok(None)
    }
}

impl_sql_store!(
    store: PostgresStore,
    tx: PostgresTransaction,
    db: Postgres,
    row: sqlx::postgres::PgRow,
    backend: "postgres",
    begin: "BEGIN",
    lock: " FOR UPDATE",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    migrator: sqlx::migrate!("migrations/postgres")
);
