//! The embedded store: one SQLite file, created on first start, so `cargo run` needs no setup.
//!
//! SQLite allows one writer at a time. Every callback transaction starts with `BEGIN IMMEDIATE`, taking
//! the write lock up front and waiting (busy timeout) for it, so concurrent deliveries queue instead of
//! failing with `SQLITE_BUSY` half-way; holding the write lock also serialises instance updates, which
//! is why no row lock is needed here.

use super::sql::impl_sql_store;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: Pool<Sqlite>,
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
        Ok(SqliteStore { pool })
    }
}

impl_sql_store!(
    store: SqliteStore,
    tx: SqliteTransaction,
    db: Sqlite,
    backend: "sqlite",
    begin: "BEGIN IMMEDIATE",
    lock: "",
    migrator: sqlx::migrate!("migrations/sqlite")
);
