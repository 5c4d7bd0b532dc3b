//! The one path every marketplace callback takes, whatever its wire format:
//!
//! budget (4.5 s) → transaction → replay claim → operation → render → audit row → commit → answer.
//!
//! A wire adapter (`crate::http::v2` today) does what only it can: read and verify its format, choose
//! the key type from what the call is, build a [`Call`] (replay key, debug flag, typed [`Command`]) and
//! a renderer that turns an [`Outcome`] into its bytes. Everything else is here, once:
//! - the replay key is claimed in the same transaction as the change, its event and the audit row, so
//!   they commit together or not at all, on every node;
//! - a call that is refused before or outside the transaction (bad signature, replay, database failure,
//!   budget exceeded) still gets its audit row, through the background writer;
//! - one log line per call, naming the wire format.
//!
//! How the next formats plug in:
//! - **SaaS V1 / License 1.0** (GET, `authToken`, `Body-Sign`): `http/v1.rs` verifies the query with
//!   `keys.v1`, maps `activity` (`upgrade`, `instanceStatus`, `expireInstance`, …) to the same
//!   [`Command`]s, passes no replay key (V1 has no nonce; the operations' idempotency keys make repeats
//!   harmless), and renders outcomes with AES-CBC-encrypted `userName`/`password` and a `Body-Sign`
//!   header over the bytes. New operations (License 1.0 `getLicense` …) are new [`Command`] variants
//!   with their own module beside `instance/`.
//! - **Kit** (POST `…/produceAPI/v2/<op>`, `x-sign` headers; V1 with `authToken`): `http/kit.rs` picks
//!   the operation from the path, verifies with `keys.kit` (V1: `keys.v1`), claims `x-nonce` as the
//!   replay key, and renders the Kit envelope; the five sync operations live in `kit/`.
//! - **License 2.0** activities arrive on the V2 adapter; only the key type (`license`) and their
//!   commands are new.

use super::audit::{AuditSink, response_body};
use super::command::{Command, InstanceState, Outcome, Refusal};
use super::instance::{self, Context};
use crate::crypto::Sealer;
use crate::marketplace::MarketplaceClient;
use crate::outbox::Outbox;
use crate::protocol::result::ResultCode;
use crate::provisioning::{ChangePolicy, ChangeVerdict, ProvisionNow, Provisioner};
use crate::store::{AuditEntry, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The answer budget: the marketplace waits 20 s, the spec's rule is 5 s; past this the call is rolled
/// back and answered `000005`, and the marketplace retries it.
const CALLBACK_BUDGET: Duration = Duration::from_millis(4500);

/// A call the adapter has verified, ready to run.
pub struct Call {
    /// Refused as a replay when already claimed (V2 and Kit nonces); `None` where the format has none.
    pub replay_key: Option<ReplayKey>,
    /// `testFlag` = 1: answered from the debug namespace.
    pub debug: bool,
    /// The operation, or why the call's members are unacceptable (answered after the replay claim, so
    /// a malformed call still uses up its nonce).
    pub command: Result<Command, Refusal>,
    pub now_ms: i64,
}

/// A value unique to one call (a V2 nonce, a V1 authToken), kept for as long as a replay could still verify.
pub struct ReplayKey {
    /// The key type that verified the call: values of different keys never collide.
    pub namespace: &'static str,
    /// What the value is called on the wire (`nonce`, `authToken`), for the refusal and the audit log.
    pub label: &'static str,
    pub nonce: String,
    /// Until when a replay could still verify (the adapter knows its window): the key is kept that long.
    pub expires_at_ms: i64,
}

/// What a wire format sends for an outcome, with what the audit log records of it.
pub struct Answer {
    pub code: ResultCode,
    pub message: String,
    pub bytes: Vec<u8>,
}

/// The audit row of a call being answered, and when the call arrived.
pub struct Record {
    /// The wire format, for the log line (`v2`, `v1`, `kit`).
    pub wire: &'static str,
    pub audit: AuditEntry,
    pub started: Instant,
}

/// Everything the callbacks share; built once at start-up.
pub struct Pipeline {
    pub store: Arc<dyn Store>,
    pub audit: AuditSink,
    pub provisioner: Arc<dyn Provisioner>,
    pub sealer: Sealer,
    pub outbox: Outbox,
    /// How long asynchronous provisioning may take before the instance is failed.
    pub provision_horizon_ms: i64,
    /// Set when the open APIs are configured: how long an order sync is retried.
    pub sync_orders_for_ms: Option<i64>,
    /// Webhook mode's synchronous path: a new instance is provisioned inside its `newInstance` for at
    /// most `provision_sync_ms` (within the budget); `None` = always asynchronous.
    pub provision_now: Option<Arc<dyn ProvisionNow>>,
    pub provision_sync_ms: i64,
    /// The application's change policy for `changeInstanceCheck`, and the code of its refusals.
    pub change_policy: Option<Arc<dyn ChangePolicy>>,
    pub change_refusal: ResultCode,
    /// The open APIs, when configured: a new V2 order line's order is queried before it is claimed.
    pub order_query: Option<MarketplaceClient>,
}

/// How a transaction ended without an error.
enum Committed {
    Answered(Answer),
    /// A new instance awaits its application (webhook mode); the audit row is not written yet.
    Provisioning(String),
    /// Rolled back: the replay key (named by its label) was already claimed.
    Replay(&'static str, Answer),
}

impl Pipeline {
    /// Answers a call refused before it could run (verification, unknown method): its audit row goes
    /// through the background writer.
    pub fn refuse(&self, mut record: Record, answer: Answer) -> Answer {
        finish_audit(&mut record, &answer);
        self.audit.submit(record.audit.clone());
        log_call(&record, &answer);
        answer
    }

    /// Runs a verified call within the budget and answers it with `render`.
    pub async fn run(&self, mut call: Call, render: impl Fn(&Outcome) -> Answer + Sync, mut record: Record) -> Answer {
        self.consult_change_policy(&mut call, record.started).await;
        self.consult_order(&mut call, record.started).await;
        let answer = match tokio::time::timeout(CALLBACK_BUDGET, self.in_transaction(call, &render, &mut record)).await {
            Ok(Ok(Committed::Answered(answer))) => answer,
            Ok(Ok(Committed::Provisioning(instance_id))) => self.provision_within_budget(&instance_id, &render, &mut record).await,
            Ok(Ok(Committed::Replay(label, answer))) => {
                record.audit.verification = format!("{}; {label}_replayed", record.audit.verification);
                return self.refuse(record, answer);
            }
            Ok(Err(error)) => return self.failed(record, &render, &error.to_string()),
            Err(_) => return self.failed(record, &render, &format!("no answer within {} ms", CALLBACK_BUDGET.as_millis())),
        };
        log_call(&record, &answer);
        answer
    }

    /// Rolled back: nothing of this call was stored. The marketplace retries with a fresh nonce.
    fn failed(&self, record: Record, render: &impl Fn(&Outcome) -> Answer, error: &str) -> Answer {
        tracing::error!(%error, "callback transaction failed");
        let outcome = Outcome::refused(ResultCode::Internal, "internal error: the request was not processed; retry later");
        self.refuse(record, render(&outcome))
    }

    async fn in_transaction(
        &self,
        call: Call,
        render: &impl Fn(&Outcome) -> Answer,
        record: &mut Record,
    ) -> Result<Committed, instance::Error> {
        let mut tx = self.store.begin().await?;
        if let Some(key) = &call.replay_key {
            if !tx.claim_nonce(key.namespace, &key.nonce, call.now_ms, key.expires_at_ms).await? {
                tracing::warn!(key_type = key.namespace, replayed = key.label, "replayed call refused");
                let outcome = Outcome::refused(ResultCode::AuthFailed, format!("{} has already been used (replayed request)", key.label));
                return Ok(Committed::Replay(key.label, render(&outcome)));
            }
        }
        let outcome = match call.command {
            Ok(command) => {
                let context = Context {
                    provisioner: self.provisioner.as_ref(),
                    sealer: &self.sealer,
                    outbox: &self.outbox,
                    provision_horizon_ms: self.provision_horizon_ms,
                    provision_delay_ms: if self.provision_now.is_some() { self.provision_sync_ms } else { 0 },
                    change_refusal: self.change_refusal,
                    sync_orders_for_ms: self.sync_orders_for_ms,
                    debug: call.debug,
                    now_ms: call.now_ms,
                };
                match instance::run(&context, tx.as_mut(), command).await {
                    Ok(outcome) => outcome,
                    Err(instance::Error::Sealed(error)) => unreadable_credentials(&error),
                    Err(error) => return Err(error),
                }
            }
            Err(refusal) => Outcome::Refused(refusal),
        };
        if let (None, Outcome::Instance { instance_id, .. }) = (&record.audit.instance_id, &outcome) {
            // newInstance: the instance is known from the outcome.
            record.audit.instance_id = Some(instance_id.to_string());
        }
        if let (Some(_), Outcome::Instance { instance_id, state: InstanceState::Provisioning, created: true }) =
            (&self.provision_now, &outcome)
        {
            // The instance must be committed before the application is asked; the answer (and its audit
            // row) follow the attempt.
            tx.commit().await?;
            return Ok(Committed::Provisioning(instance_id.to_string()));
        }
        let answer = render(&outcome);
        finish_audit(record, &answer);
        tx.insert_audit(&record.audit).await?;
        tx.commit().await?;
        Ok(Committed::Answered(answer))
    }

    /// Webhook mode's synchronous path: asks the application within what is left of the budget (at most
    /// `provision_sync_ms`), then answers the instance as it stands: `000000` with its app info, the
    /// application's refusal, or `000004` while the job carries on. The audit row is written after the
    /// answer is known (outside the committed transaction; through the background writer if that fails).
    async fn provision_within_budget(&self, instance_id: &str, render: &impl Fn(&Outcome) -> Answer, record: &mut Record) -> Answer {
        let wait = budget_left(record.started, Duration::from_millis(self.provision_sync_ms.max(0) as u64));
        if let Some(provision_now) = &self.provision_now {
            if tokio::time::timeout(wait, provision_now.provision_now(instance_id)).await.is_err() {
                tracing::info!(
                    instance_id,
                    wait_ms = wait.as_millis() as u64,
                    "the application did not answer in time; provisioning goes on in the background"
                );
            }
        }
        let outcome = match self.store.instance(instance_id).await {
            Ok(Some(instance)) => match instance::instance_outcome(&self.sealer, &instance, true) {
                Ok(outcome) => outcome,
                Err(error) => unreadable_credentials(&error),
            },
            Ok(None) | Err(_) => Outcome::Instance {
                instance_id: crate::domain::InstanceId::new(instance_id),
                state: InstanceState::Provisioning,
                created: true,
            },
        };
        let answer = render(&outcome);
        finish_audit(record, &answer);
        let left = CALLBACK_BUDGET.saturating_sub(record.started.elapsed());
        if !matches!(tokio::time::timeout(left, self.store.record_audits(std::slice::from_ref(&record.audit))).await, Ok(Ok(()))) {
            self.audit.submit(record.audit.clone());
        }
        answer
    }

    /// Asks the application's change policy about a real `changeInstanceCheck` of a live instance, before
    /// the transaction (the check changes nothing; no database lock waits for the application), within
    /// at most 3 s of the budget.
    async fn consult_change_policy(&self, call: &mut Call, started: Instant) {
        let (Some(policy), Ok(Command::ChangeInstanceCheck(check)), false) = (&self.change_policy, &mut call.command, call.debug) else {
            return;
        };
        let Ok(Some(instance)) = self.store.instance(check.instance_id.as_str()).await else { return };
        if instance.status == crate::domain::InstanceStatus::Released {
            return;
        }
        let wait = budget_left(started, Duration::from_secs(3));
        let verdict = tokio::time::timeout(wait, policy.check_change(&instance, &check.product.to_json())).await;
        check.verdict = Some(verdict.unwrap_or_else(|_| ChangeVerdict::Unavailable(format!("no answer within {} ms", wait.as_millis()))));
    }

    /// saas-v2.md §3 step 2: a new V2 order line's order is queried within the budget (at most 2 s) before
    /// it is claimed, so the instance starts with its plan and expiry, and a pay-per-use order is keyed
    /// by (order, product) as well. Redeliveries are answered from the store without asking; an order
    /// query that fails or is slow leaves it to the background order sync.
    async fn consult_order(&self, call: &mut Call, started: Instant) {
        let (Some(client), Ok(Command::NewInstance(new)), false) = (&self.order_query, &mut call.command, call.debug) else { return };
        if new.order.is_some()
            || self.store.count_instances_for_order_line(new.order_id.as_str(), &new.order_line_id).await.map_or(true, |n| n > 0)
        {
            return;
        }
        let wait = budget_left(started, Duration::from_secs(2));
        let order = match tokio::time::timeout(wait, client.query_order(new.order_id.as_str(), Some(&new.order_line_id))).await {
            Ok(Ok(order)) => order,
            Ok(Err(error)) => return tracing::info!(%error, "order query before newInstance failed; the order sync follows"),
            Err(_) => return tracing::info!("order query before newInstance was slow; the order sync follows"),
        };
        let Some(line) = order.line(&new.order_line_id) else { return };
        let pay_per_use =
            line.charging_mode.as_deref().is_some_and(|mode| ["ON_DEMAND", "ONDEMAND", "0"].contains(&mode.to_ascii_uppercase().as_str()));
        if pay_per_use {
            new.order_product = line.product_id().map(str::to_owned);
        }
        new.order = Some(crate::callback::command::OrderFacts {
            product_id: line.product_id().map(str::to_owned),
            plan: line.plan(),
            expire_time_ms: line.expire_time.as_deref().and_then(crate::domain::parse_expire_time),
            trial: None,
        });
    }
}

/// What is kept of the budget for the rest of a call after a wait for the application or the open
/// APIs (the transaction, or the audit row).
const AUDIT_RESERVE: Duration = Duration::from_millis(500);

/// How long a call that started at `started` may still wait for something outside koogate: what is
/// left of the budget less [`AUDIT_RESERVE`], and at most `at_most`.
fn budget_left(started: Instant, at_most: Duration) -> Duration {
    CALLBACK_BUDGET.saturating_sub(started.elapsed()).saturating_sub(AUDIT_RESERVE).min(at_most)
}

/// A stored sealed value this key cannot open: answered `000005`, never as a success without it.
fn unreadable_credentials(error: &dyn std::fmt::Display) -> Outcome {
    tracing::error!(%error, "stored credentials could not be opened");
    Outcome::refused(ResultCode::Internal, "stored credentials could not be read")
}

fn finish_audit(record: &mut Record, answer: &Answer) {
    let audit = &mut record.audit;
    audit.result_code = answer.code.code().to_owned();
    audit.result_msg = answer.message.clone();
    audit.response_body = Some(response_body(&answer.bytes));
    audit.duration_ms = record.started.elapsed().as_millis() as i64;
}

fn log_call(record: &Record, answer: &Answer) {
    let audit = &record.audit;
    tracing::info!(
        wire = record.wire,
        activity = audit.activity.as_deref().unwrap_or("-"),
        instance_id = audit.instance_id.as_deref().unwrap_or("-"),
        order_id = audit.order_id.as_deref().unwrap_or("-"),
        test_flag = audit.test_flag,
        result_code = answer.code.code(),
        verification = %audit.verification,
        duration_ms = record.started.elapsed().as_millis() as u64,
        "marketplace call"
    );
}
