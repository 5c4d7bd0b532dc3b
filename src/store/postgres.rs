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
        check_parameters(url)?;
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

/// The connection parameters the Postgres driver reads from a URL.
const KNOWN_PARAMETERS: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Refuses a URL parameter the driver does not know: the driver would log it with its value, and an
/// unknown parameter may well be a secret (`sslpassword`). The error names the parameter, never the value.
fn check_parameters(url: &str) -> anyhow::Result<()> {
    let Ok(parsed) = url::Url::parse(url) else { return Ok(()) }; // the driver reports malformed URLs
    for (name, _) in parsed.query_pairs() {
        let known = KNOWN_PARAMETERS.contains(&name.as_ref()) || (name.starts_with("options[") && name.ends_with(']'));
        if !known {
            anyhow::bail!("database.url has the parameter {name:?}, which the Postgres driver does not read; remove it");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_url_parameters_are_refused_by_name_only() {
        assert!(super::check_parameters("postgres://u@h/db?sslmode=require&application_name=k&options[search_path]=x").is_ok());
        let error = super::check_parameters("postgres://u@h/db?sslpassword=hunter2-secret").unwrap_err().to_string();
        assert!(error.contains("sslpassword") && !error.contains("hunter2"), "{error}");
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
