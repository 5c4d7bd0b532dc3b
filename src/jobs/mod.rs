//! The background worker: runs the durable jobs of the `jobs` table (event deliveries, asynchronous
//! provisioning, order syncs) on every node.
//!
//! Jobs are claimed in the database (`FOR UPDATE SKIP LOCKED` on Postgres, the single writer on SQLite)
//! with a lease, so several nodes share the work without running a job twice at once, and a crashed
//! node's jobs are taken over when their lease expires. A failed attempt is retried with exponential
//! backoff and jitter until the job's deadline; then the job is dead, visible to operators
//! (`koogate jobs list`, the admin API) and retryable. Delivery is therefore at-least-once: receivers
//! deduplicate by event ID.
//!
//! The worker is also koogate's client of the merchant's application, so the two calls the marketplace
//! waits for use it directly, within the callback's budget: the first provisioning attempt of
//! `newInstance` (`provision.rs`, [`crate::provisioning::ProvisionNow`]) and the change policy of
//! `changeInstanceCheck` (`change_check.rs`).

mod change_check;
mod deliver;
mod order_sync;
mod provision;

use crate::config::Settings;
use crate::crypto::Sealer;
use crate::marketplace::MarketplaceClient;
use crate::outbox::Outbox;
use crate::store::{Job, JobKind, Store, StoreError};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// Longest single attempt (its lease is renewed meanwhile); every network call inside has its own,
/// shorter timeout, so this only catches the unexpected.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(600);

/// The job kinds this worker runs.
const KINDS: [JobKind; 3] = [JobKind::Webhook, JobKind::Provision, JobKind::OrderSync];

/// Why an attempt failed, and whether another attempt can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// A passing failure (network, the receiver, the database): retried with backoff until the deadline.
    Retry(String),
    /// No attempt can succeed (a job payload this version cannot read): dead at once.
    Dead(String),
}

impl JobError {
    pub(crate) fn message(&self) -> &str {
        match self {
            JobError::Retry(message) | JobError::Dead(message) => message,
        }
    }
}

impl From<String> for JobError {
    fn from(message: String) -> JobError {
        JobError::Retry(message)
    }
}

impl From<&str> for JobError {
    fn from(message: &str) -> JobError {
        JobError::Retry(message.to_owned())
    }
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> JobError {
        JobError::Retry(error.to_string())
    }
}

/// The longest answer read from the merchant's application (an `appInfo` is at most a few KiB).
const APPLICATION_ANSWER_MAX_BYTES: usize = 64 * 1024;

/// Reads an answer of the application as JSON, at most [`APPLICATION_ANSWER_MAX_BYTES`] of it.
async fn answer_json(mut response: reqwest::Response) -> Result<serde_json::Value, JobError> {
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| JobError::Retry(format!("reading the answer failed: {}", e.without_url())))?
    {
        if body.len() + chunk.len() > APPLICATION_ANSWER_MAX_BYTES {
            return Err(JobError::Retry(format!("application's answer exceeds {APPLICATION_ANSWER_MAX_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| JobError::Retry("application's answer is not JSON".into()))
}

/// A request koogate makes of the merchant's application (provisioning, the change policy).
struct ApplicationRequest<'a> {
    /// `webhook-id`: the application deduplicates by it.
    message_id: &'a str,
    /// `type`, e.g. `instance.provision`.
    kind: &'static str,
    instance_id: &'a str,
    data: serde_json::Map<String, serde_json::Value>,
}

/// Reads a job's JSON payload; one that does not parse can never run.
fn payload(job: &Job) -> Result<serde_json::Value, JobError> {
    serde_json::from_str(&job.payload).map_err(|e| JobError::Dead(format!("bad job payload: {e}")))
}

/// A text member of a job's payload; a payload without it can never run.
fn payload_text(payload: &serde_json::Value, name: &str) -> Result<String, JobError> {
    payload[name].as_str().map(str::to_owned).ok_or_else(|| JobError::Dead(format!("job payload has no {name}")))
}

/// Everything a job needs; shared by the worker's concurrent attempts.
pub struct Worker {
    store: Arc<dyn Store>,
    settings: Settings,
    http: reqwest::Client,
    /// The Standard Webhooks key (`webhook.secret`), when set.
    signing_key: Option<Vec<u8>>,
    sealer: Sealer,
    outbox: Outbox,
    marketplace: Option<MarketplaceClient>,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, settings: Settings, sealer: Sealer, outbox: Outbox) -> anyhow::Result<Worker> {
        let signing_key = settings.webhook.secret.as_ref().map(crate::webhook::signing_key).transpose()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.webhook.timeout_secs))
            .user_agent(concat!("koogate/", env!("CARGO_PKG_VERSION")))
            // Never re-send a signed body (events carry initial passwords) to wherever a 3xx points.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // Order details are fetched only when the open APIs are configured.
        let marketplace = MarketplaceClient::new(&settings.marketplace).ok();
        Ok(Worker { store, settings, http, signing_key, sealer, outbox, marketplace })
    }

    /// Runs until `shutdown` turns true, then waits for the attempts in flight. At most `jobs.batch`
    /// attempts run at once; a slow one does not hold up the others (each runs in its own task).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let worker = self;
        let poll = Duration::from_millis(worker.settings.jobs.poll_interval_ms);
        let slots = worker.settings.jobs.batch as usize;
        let running = Arc::new(Semaphore::new(slots));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = running.available_permits();
            let claimed = if free == 0 { Vec::new() } else { worker.claim(free as i64).await };
            if claimed.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for job in claimed {
                let permit = running.clone().acquire_owned().await.expect("the semaphore is never closed");
                let worker = worker.clone();
                tokio::spawn(async move {
                    worker.attempt(job).await;
                    drop(permit);
                });
            }
        }
        // Unfinished attempts end with their own timeouts; their jobs stay claimed until the lease ends.
        let _ = running.acquire_many(slots as u32).await;
    }

    async fn claim(&self, limit: i64) -> Vec<Job> {
        let now = crate::now_ms();
        match self.store.claim_jobs(&KINDS, now, now + self.lease_ms(), limit).await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "claiming jobs failed");
                Vec::new()
            }
        }
    }

    fn lease_ms(&self) -> i64 {
        self.settings.jobs.lease_secs as i64 * 1000
    }

    /// Runs `work` while renewing the job's lease, so a long attempt (order query retries, a slow
    /// application) is never taken over by another claimer while it is still running.
    async fn with_lease<T>(&self, job: &Job, work: impl std::future::Future<Output = T>) -> T {
        let renew = async {
            let mut ticker = tokio::time::interval(Duration::from_millis((self.lease_ms() / 3).max(1) as u64));
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match self.store.extend_lease(job, crate::now_ms() + self.lease_ms()).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(job = job.id, "job lease lost while running"),
                    Err(error) => tracing::warn!(job = job.id, %error, "renewing a job lease failed"),
                }
            }
        };
        tokio::select! {
            result = work => result,
            _ = renew => unreachable!("the lease renewal never ends"),
        }
    }

    /// One attempt of one job, and its bookkeeping.
    async fn attempt(&self, job: Job) {
        let work = async {
            match &job.kind {
                JobKind::Webhook => self.deliver(&job).await,
                JobKind::Provision => self.provision(&job).await,
                JobKind::OrderSync => self.sync_order(&job).await,
                JobKind::Unrecognised(kind) => Err(JobError::Dead(format!("no handler for job kind {kind:?}"))),
            }
        };
        let result = match tokio::time::timeout(ATTEMPT_LIMIT, self.with_lease(&job, work)).await {
            Ok(result) => result,
            Err(_) => Err(JobError::Retry(format!("attempt did not finish within {} s", ATTEMPT_LIMIT.as_secs()))),
        };
        let now = crate::now_ms();
        let recorded = match result {
            Ok(()) => self.store.complete_job(&job, now).await,
            Err(error) => {
                let retry_at = now + self.backoff(job.attempts).as_millis() as i64;
                let (retry, error) = (matches!(error, JobError::Retry(_)) && retry_at <= job.deadline_ms, error.message());
                if retry {
                    tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed; will retry");
                    self.store.fail_job(&job, now, error, Some(retry_at)).await
                } else {
                    tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, %error, "job failed for good: dead");
                    if job.kind == JobKind::Provision {
                        // The job's death and the instance's failure commit together.
                        self.provisioning_gave_up(&job, error).await
                    } else {
                        self.store.fail_job(&job, now, error, None).await
                    }
                }
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job = job.id, "job outcome not recorded: its lease expired and another claimer took it"),
            Err(error) => tracing::warn!(job = job.id, %error, "recording a job outcome failed; the job will run again"),
        }
    }

    /// Exponential backoff with jitter: base × 2^(attempt−1), between half and all of it, capped.
    fn backoff(&self, attempts: i64) -> Duration {
        let jobs = &self.settings.jobs;
        let exponent = attempts.clamp(1, 30) as u32 - 1;
        let delay_ms = jobs.retry_base_ms.max(1).saturating_mul(1 << exponent.min(20)).min(jobs.retry_max_secs * 1000);
        Duration::from_millis(delay_ms).mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }

    /// POSTs a request to the merchant's application: `{"id", "type", "occurredAt", "instanceId", "data"}`,
    /// signed Standard Webhooks style.
    async fn ask_application(&self, url: &str, request: ApplicationRequest<'_>) -> Result<reqwest::Response, JobError> {
        let body = serde_json::json!({
            "id": request.message_id,
            "type": request.kind,
            "occurredAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "instanceId": request.instance_id,
            "data": request.data,
        });
        let bytes = serde_json::to_vec(&body).expect("bodies serialise");
        self.post_signed(url, request.message_id, &bytes).await
    }

    /// Signs and POSTs a JSON body to the merchant's application, Standard Webhooks style.
    async fn post_signed(&self, url: &str, message_id: &str, body: &[u8]) -> Result<reqwest::Response, JobError> {
        let key = self.signing_key.as_deref().ok_or("webhook.secret is not set")?;
        let timestamp = crate::now_ms() / 1000;
        self.http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", crate::webhook::signature(key, message_id, timestamp, body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                JobError::Retry(if e.is_timeout() { "timed out".to_owned() } else { format!("request failed: {}", e.without_url()) })
            })
    }
}

impl Worker {
    /// The buyer as the application sees it when it creates the account (`instance.created`, the
    /// provisioning request): the sealed contacts opened and `saasExtendParams` (`None` for V2 instances).
    fn buyer_with_contacts(&self, instance: &crate::domain::Instance) -> Result<Option<serde_json::Value>, JobError> {
        let Some(buyer) = &instance.buyer else { return Ok(None) };
        let (mobile_phone, email) = buyer.contacts(&self.sealer, &instance.instance_id).map_err(|e| JobError::Dead(e.to_string()))?;
        let mut summary = buyer.without_sealed();
        summary["mobilePhone"] = serde_json::json!(mobile_phone);
        summary["email"] = serde_json::json!(email);
        Ok(Some(summary))
    }
}

/// Starts the worker in the background; stop it by sending `true`.
pub fn spawn(worker: Arc<Worker>) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(worker.run(stopped)))
}
