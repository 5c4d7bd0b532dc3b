//! Wiring: settings → secrets → store (migrated) → the production listener, the admin listener (when
//! `admin.token` is set), the job worker, the refused-call audit writer and the housekeeping purge; and
//! the orderly shutdown of all of them. Tests use [`Application`] directly to run a real server on a
//! random port.

use crate::admin::{self, AdminState};
use crate::callback::{AuditSink, Pipeline};
use crate::config::Settings;
use crate::crypto::Sealer;
use crate::http::{AppState, Shared, router};
use crate::jobs::{self, Worker};
use crate::outbox::Outbox;
use crate::provisioning::{Provisioner, ProvisioningMode, TemplateProvisioner, WebhookProvisioner};
use crate::store::{self, Store};
use anyhow::{Context, bail};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often expired nonces and old finished jobs are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

pub struct Application {
    listener: TcpListener,
    state: AppState,
    audit_writer: tokio::task::JoinHandle<()>,
    worker: Arc<Worker>,
    /// The operators' API and its own listener, when `admin.token` is set.
    admin: Option<(TcpListener, AdminState)>,
}

impl Application {
    /// Connects and migrates the store and binds the listener; serving starts with [`Application::run`].
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        ensure_secrets(&mut settings)?;
        let store = open_store(&settings).await?;
        Application::build_with_store(settings, store).await
    }

    /// As [`Application::build`], on a store opened (and migrated) by the caller — for tests that wrap
    /// the store, e.g. to inject failures.
    pub async fn build_with_store(mut settings: Settings, store: Arc<dyn Store>) -> anyhow::Result<Application> {
        ensure_secrets(&mut settings)?;
        let encryption_key = settings.security.encryption_key.clone().expect("ensure_secrets set it");
        let sealer = Sealer::new(&encryption_key);
        let templates = TemplateProvisioner::new(settings.provisioning.clone(), sealer.clone());
        let provisioner: Arc<dyn Provisioner> = match settings.provisioning.mode {
            ProvisioningMode::Template => Arc::new(templates),
            ProvisioningMode::Webhook => Arc::new(WebhookProvisioner { templates }),
        };
        let outbox = Outbox {
            deliver: !settings.webhook.url.is_empty(),
            include_debug: settings.webhook.include_debug,
            delivery_horizon_ms: settings.webhook.retry_horizon_secs as i64 * 1000,
        };
        let worker = Arc::new(Worker::new(store.clone(), settings.clone(), sealer.clone(), outbox.clone())?);
        let listener = TcpListener::bind(&settings.server.listen)
            .await
            .with_context(|| format!("binding server.listen {}", settings.server.listen))?;
        if settings.provisioning.front_end_url.contains("example.com") {
            tracing::warn!("provisioning.front_end_url is still the example template; set it to your application's address");
        }
        let admin = match AdminState::from_settings(store.clone(), &settings) {
            Some(state) => {
                let listen = &settings.admin.listen;
                Some((TcpListener::bind(listen).await.with_context(|| format!("binding admin.listen {listen}"))?, state))
            }
            None => None,
        };
        let (audit, audit_writer) = AuditSink::start(store.clone());
        // Orders are synced while the marketplace keeps retrying a call (3 h), like provisioning.
        let sync_orders_for_ms = crate::marketplace::MarketplaceClient::new(&settings.marketplace)
            .is_ok()
            .then_some(settings.provisioning.horizon_secs as i64 * 1000);
        let pipeline = Pipeline {
            store,
            audit,
            provisioner,
            sealer,
            outbox,
            provision_horizon_ms: settings.provisioning.horizon_secs as i64 * 1000,
            sync_orders_for_ms,
            // Webhook mode asks the application within newInstance first (the job is the fallback).
            provision_now: (settings.provisioning.mode == ProvisioningMode::Webhook && settings.provisioning.sync_wait_ms > 0)
                .then(|| worker.clone() as Arc<dyn crate::provisioning::ProvisionNow>),
            provision_sync_ms: settings.provisioning.sync_wait_ms as i64,
            change_policy: (!settings.provisioning.change_check_endpoint.is_empty())
                .then(|| worker.clone() as Arc<dyn crate::provisioning::ChangePolicy>),
            change_refusal: settings.v2.change_check_refusal(),
            order_query: crate::marketplace::MarketplaceClient::new(&settings.marketplace).ok(),
        };
        let state = AppState::new(Shared { settings, pipeline });
        Ok(Application { listener, state, audit_writer, worker, admin })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The admin listener's address, when the admin API is enabled.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.as_ref().map(|(listener, _)| listener.local_addr().expect("a bound listener has an address"))
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.pipeline.store.clone()
    }

    /// Serves until `shutdown` resolves, finishing the calls in flight.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let purge = tokio::spawn(purge(
            self.state.pipeline.store.clone(),
            self.state.settings.jobs.keep_done_days,
            self.state.settings.audit.retention_days,
        ));
        let listen = self.local_addr();
        let (stop_worker, worker) = jobs::spawn(self.worker);
        tracing::info!(
            listen = %listen,
            base_path = %self.state.settings.server.base_path,
            store = self.state.pipeline.store.backend(),
            "koogate is serving"
        );
        let store = self.state.pipeline.store.clone();
        // One shutdown signal for both listeners.
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let header_read_timeout = Duration::from_secs(self.state.settings.limits.header_read_timeout_secs);
        let admin = self.admin.map(|(listener, state)| {
            tracing::info!(listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "admin API is serving");
            tokio::spawn(crate::http::serve(listener, admin::router(state), header_read_timeout, until_stopped(stopped.clone())))
        });
        crate::http::serve(self.listener, router(self.state), header_read_timeout, until_stopped(stopped)).await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        purge.abort();
        // Attempts in flight finish (each is bounded by its timeout); unfinished jobs stay in the queue.
        let _ = stop_worker.send(true);
        let _ = worker.await;
        // The router (and with it every audit sink) is gone: the writer finishes what is queued.
        let _ = self.audit_writer.await;
        store.close().await;
        Ok(())
    }
}

/// Connects to `database.url` and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let db = &settings.database;
    let store = store::connect(&db.url, db.max_connections, Duration::from_secs(db.acquire_timeout_secs))
        .await
        .with_context(|| format!("connecting to database.url {}", crate::config::redact_url(&db.url)))?;
    store.migrate().await.context("applying database migrations")?;
    Ok(store)
}

/// Housekeeping: expired nonces, finished jobs older than `jobs.keep_done_days`, and audit rows older
/// than `audit.retention_days` (when set).
async fn purge(store: Arc<dyn Store>, keep_done_days: u64, audit_retention_days: u64) {
    let mut ticker = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticker.tick().await;
        let now = crate::now_ms();
        match store.purge_expired_nonces(now).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "expired nonces purged"),
            Err(error) => tracing::warn!(%error, "nonce purge failed"),
        }
        if let Err(error) = store.purge_done_jobs(now - keep_done_days as i64 * 86_400_000).await {
            tracing::warn!(%error, "purging finished jobs failed");
        }
        if audit_retention_days > 0 {
            match store.purge_audit(now - audit_retention_days as i64 * 86_400_000).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "audit rows past audit.retention_days deleted"),
                Err(error) => tracing::warn!(%error, "purging old audit rows failed"),
            }
        }
    }
}

/// Makes sure `keys.basic` and `security.encryption_key` are set. On SQLite, missing ones are created
/// once and kept in `dev-secrets.toml` beside the database file (so a restart keeps them); on
/// Postgres — production, several nodes — a missing secret is a configuration error.
pub fn ensure_secrets(settings: &mut Settings) -> anyhow::Result<()> {
    let need_key = settings.keys.basic.is_empty();
    let need_encryption = settings.security.encryption_key.is_none();
    if !need_key && !need_encryption {
        return Ok(());
    }
    if !settings.is_sqlite() {
        let missing =
            if need_key { "keys.basic (KOOGATE__KEYS__BASIC)" } else { "security.encryption_key (KOOGATE__SECURITY__ENCRYPTION_KEY)" };
        bail!("{missing} must be set when the database is Postgres; koogate never accepts unsigned calls");
    }
    let path = dev_secrets_path(&settings.database.url);
    let secrets = load_or_create_dev_secrets(&path)?;
    if need_key {
        tracing::warn!(file = %path.display(), "keys.basic is not set: using the development key kept in this file; configure your Seller Center key before going live");
        settings.keys.basic.0.push(secrets.basic_key);
    }
    if need_encryption {
        tracing::warn!(file = %path.display(), "security.encryption_key is not set: using the development secret kept in this file");
        settings.security.encryption_key = Some(secrets.encryption_key);
    }
    Ok(())
}

/// The file an `sqlite:` database URL names (`None` for other databases and in-memory SQLite).
/// 32 random bytes from the operating system's CSPRNG, as 64 hex characters: what `security.encryption_key`
/// (stretched only by HKDF, so it must be random), `admin.token` and the development key are made of.
pub fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let file = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let file = file.split('?').next().unwrap_or_default();
    (!file.is_empty() && !file.contains(":memory:")).then(|| PathBuf::from(file))
}

fn dev_secrets_path(sqlite_url: &str) -> PathBuf {
    let file = sqlite_file(sqlite_url);
    let folder = file.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("data"));
    folder.join("dev-secrets.toml")
}

struct DevSecrets {
    basic_key: SecretString,
    encryption_key: SecretString,
}

fn load_or_create_dev_secrets(path: &Path) -> anyhow::Result<DevSecrets> {
    #[derive(serde::Deserialize)]
    struct Stored {
        basic_key: String,
        encryption_key: String,
    }
    if path.exists() {
        let stored: Stored = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(DevSecrets { basic_key: stored.basic_key.into(), encryption_key: stored.encryption_key.into() });
    }
    let (basic_key, encryption_key) = (random_secret(), random_secret());
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    }
    let text = format!(
        "# Development secrets created by koogate because keys.basic / security.encryption_key were not set.\n\
         # Use basic_key to sign test calls (koogate sim sign, the load benchmark). Not for production.\n\
         basic_key = \"{basic_key}\"\nencryption_key = \"{encryption_key}\"\n"
    );
    write_private(path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok(DevSecrets { basic_key: basic_key.into(), encryption_key: encryption_key.into() })
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn dev_secrets_live_beside_the_database_and_survive_a_restart() {
        assert_eq!(dev_secrets_path("sqlite:data/koogate.db"), Path::new("data/dev-secrets.toml"));
        assert_eq!(dev_secrets_path("sqlite:///var/lib/k/k.db?mode=rwc"), Path::new("/var/lib/k/dev-secrets.toml"));
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::load(None).unwrap();
        settings.database.url = format!("sqlite:{}/k.db", dir.path().display());
        ensure_secrets(&mut settings).unwrap();
        let key = settings.keys.basic.0[0].expose_secret().to_owned();
        let mut again = Settings::load(None).unwrap();
        again.database.url = settings.database.url.clone();
        ensure_secrets(&mut again).unwrap();
        assert_eq!(again.keys.basic.0[0].expose_secret(), key);
        assert_eq!(key.len(), 64);
    }

    #[test]
    fn postgres_refuses_to_start_without_a_basic_key() {
        let mut settings = Settings::load(None).unwrap();
        settings.database.url = "postgres://localhost/x".into();
        let error = ensure_secrets(&mut settings).unwrap_err().to_string();
        assert!(error.contains("keys.basic"), "{error}");
    }
}
