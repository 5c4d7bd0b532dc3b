//! The embedded store: one SQLite file, created on first start, so `cargo run` needs no setup.
//!
//! SQLite allows one writer at a time. Writers in this process queue on a semaphore (fair, no polling),
//! and every callback transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front, so a
//! transaction never fails with `SQLITE_BUSY` half-way; the busy timeout only matters when another
//! process writes the same file. Holding the write lock also serialises instance updates, which is why
//! no row lock is needed here. Reads outside a callback (readiness, lookups) use the pool freely.

use super::StoreError;
use super::sql::impl_sql_store;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct SqliteStore {
    pool: Pool<Sqlite>,
    writers: Arc<Semaphore>,
    /// Longest wait for the writer slot, like the pool's acquire timeout.
    acquire_timeout: Duration,
}

impl SqliteStore {
    /// Opens (creating if needed, with its folder) the database file an `sqlite:` URL names.
    pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An answered callback must survive a power cut: the marketplace will not send it again.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(folder) = options.get_filename().parent() {
            if !folder.as_os_str().is_empty() {
                std::fs::create_dir_all(folder)?;
            }
        }
        let pool = SqlitePoolOptions::new().max_connections(max_connections).acquire_timeout(acquire_timeout).connect_with(options).await?;
        Ok(SqliteStore { pool, writers: Arc::new(Semaphore::new(1)), acquire_timeout })
    }

    async fn write_permit(&self) -> Result<Option<OwnedSemaphorePermit>, StoreError> {
        match tokio::time::timeout(self.acquire_timeout, self.writers.clone().acquire_owned()).await {
            Ok(permit) => Ok(Some(permit.expect("the writer semaphore is never closed"))),
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        }
    }
}

impl_sql_store!(
    store: SqliteStore,
    tx: SqliteTransaction,
    db: Sqlite,
    row: sqlx::sqlite::SqliteRow,
    backend: "sqlite",
    begin: "BEGIN IMMEDIATE",
    lock: "",
    skip_locked: "",
    migrator: sqlx::migrate!("migrations/sqlite")
);
