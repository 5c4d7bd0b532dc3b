//! The SaaS instance operations, one module per operation. Each reads like its table in saas-v2.md:
//! take the typed command, ask the domain what it means for the instance, tell the store, return an
//! [`Outcome`]. No SQL and no wire types: the same operation serves every wire format that carries it.
//!
//! Operations run inside the callback's transaction (opened by the pipeline after the replay key is
//! claimed) and decide everything before they write, so a refusal never leaves a partial change behind.

mod change_instance_check;
mod new_instance;
mod query_instance;
mod refresh_instance;
mod release_instance;
mod update_instance_status;
mod upgrade_instance;

use super::command::{Command, InstanceState, OrderRef, Outcome, Refusal};
use crate::crypto::{OpenError, Sealer};
use crate::domain::{EventType, Instance, InstanceId, InstanceStatus, Transition};
use crate::outbox::{Outbox, queue_order_sync};
use crate::protocol::result::ResultCode;
use crate::provisioning::Provisioner;
use crate::store::{AppliedOrder, StoreError, Transaction};

/// What an operation may use besides the transaction.
pub struct Context<'a> {
    pub provisioner: &'a dyn Provisioner,
    pub sealer: &'a Sealer,
    pub outbox: &'a Outbox,
    /// How long asynchronous provisioning may take before the instance is failed.
    pub provision_horizon_ms: i64,
    /// How long the provisioning job waits before its first attempt (the call's own synchronous try).
    pub provision_delay_ms: i64,
    /// The open APIs are configured: fetch the orders of purchases, upgrades and renewals (retried
    /// this long).
    pub sync_orders_for_ms: Option<i64>,
    /// The answer to a change the application's change policy refuses (`v2.change_check_refuse_code`).
    pub change_refusal: ResultCode,
    /// `testFlag` = 1: validate and answer, but touch no real instance.
    pub debug: bool,
    pub now_ms: i64,
}

/// Why an operation could not produce an outcome: the callback is rolled back and answered `000005`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sealed(#[from] OpenError),
}

/// Runs the operation a command names.
pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: Command) -> Result<Outcome, Error> {
    match command {
        Command::NewInstance(command) => new_instance::run(context, tx, command).await,
        Command::QueryInstance(command) => query_instance::run(context, tx, command).await,
        Command::RefreshInstance(command) => refresh_instance::run(context, tx, command).await,
        Command::UpdateInstanceStatus(command) => update_instance_status::run(context, tx, command).await,
        Command::ReleaseInstance(command) => release_instance::run(context, tx, command).await,
        Command::UpgradeInstance(command) => upgrade_instance::run(context, tx, command).await,
        Command::ChangeInstanceCheck(command) => change_instance_check::run(context, tx, command).await,
    }
}

/// A `newInstance`'s answer from its instance as it stands, the same for the first and every repeated
/// delivery (and after the call's synchronous provisioning attempt).
pub fn instance_outcome(sealer: &Sealer, instance: &Instance, created: bool) -> Result<Outcome, Error> {
    let state = match (&instance.status, &instance.refusal) {
        (InstanceStatus::Provisioning, _) => InstanceState::Provisioning,
        (InstanceStatus::Failed, Some(refusal)) => InstanceState::Refused(refusal_of(refusal)),
        (InstanceStatus::Failed, None) => InstanceState::Failed,
        _ => InstanceState::Ready(instance.app_info.as_ref().map(|info| info.open(sealer, &instance.instance_id)).transpose()?),
    };
    Ok(Outcome::Instance { instance_id: InstanceId::new(instance.instance_id.clone()), state, created })
}

/// The stored refusal as answered (a code that is not a refusal code can only come from a damaged row).
fn refusal_of(refusal: &crate::domain::OrderRefusal) -> Refusal {
    let code = ResultCode::refusal(&refusal.code).unwrap_or(ResultCode::Internal);
    Refusal { code, message: refusal.message.clone() }
}

fn not_found(instance_id: &InstanceId) -> Outcome {
    Outcome::refused(ResultCode::InstanceNotFound, format!("instance {instance_id} does not exist"))
}

fn released(instance_id: &InstanceId) -> Outcome {
    Outcome::refused(ResultCode::InstanceNotFound, format!("instance {instance_id} has been released"))
}

/// Claiming an order (renewal, conversion, upgrade) for an instance: applied at most once per order.
enum OrderClaim {
    /// Apply it to this (locked) instance.
    FirstTime(Box<Instance>),
    /// Applied before: answer success without applying again.
    AlreadyApplied,
    /// The instance is unknown or released: answer this.
    Refused(Outcome),
}

async fn claim_order(
    context: &Context<'_>,
    tx: &mut dyn Transaction,
    instance_id: &InstanceId,
    operation: String,
    order: &OrderRef,
) -> Result<OrderClaim, Error> {
    let Some(instance) = tx.lock_instance(instance_id.as_str()).await? else {
        return Ok(OrderClaim::Refused(not_found(instance_id)));
    };
    if Transition::update(instance.status) == Transition::Gone {
        return Ok(OrderClaim::Refused(released(instance_id)));
    }
    let order = AppliedOrder {
        instance_id: instance.instance_id.clone(),
        operation,
        order_id: order.id.to_string(),
        order_line_id: order.line.clone(),
        applied_at_ms: context.now_ms,
    };
    Ok(if tx.claim_applied_order(&order).await? { OrderClaim::FirstTime(Box::new(instance)) } else { OrderClaim::AlreadyApplied })
}

/// Saves an instance an order was just applied to, records the event, and (with the open APIs
/// configured and an order line to ask for) queues fetching `order_to_sync`'s plan.
async fn record_applied_order(
    context: &Context<'_>,
    tx: &mut dyn Transaction,
    instance: &Instance,
    event_type: EventType,
    extra: serde_json::Value,
    order_to_sync: Option<&OrderRef>,
) -> Result<(), Error> {
    tx.update_instance(instance).await?;
    context.outbox.instance_event(tx, event_type, instance, extra, context.now_ms).await?;
    if let (Some(horizon_ms), Some(OrderRef { id, line: Some(line) })) = (context.sync_orders_for_ms, order_to_sync) {
        queue_order_sync(tx, horizon_ms, &instance.instance_id, id.as_str(), line, context.now_ms).await?;
    }
    Ok(())
}

/// Takes what a call states about its order onto the instance: the plan's stated members replace the
/// kept ones (an upgrade states the new spec, not the charging mode).
fn apply_order_facts(instance: &mut Instance, facts: crate::callback::command::OrderFacts) {
    if facts.product_id.is_some() {
        instance.product_id = facts.product_id;
    }
    let mut plan = match instance.plan.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        Some(Ok(serde_json::Value::Object(kept))) => kept,
        _ => serde_json::Map::new(),
    };
    if let serde_json::Value::Object(stated) = facts.plan {
        plan.extend(stated);
    }
    instance.plan = Some(serde_json::Value::Object(plan).to_string());
    if facts.expire_time_ms.is_some() {
        instance.expire_time_ms = facts.expire_time_ms;
    }
    if facts.trial.is_some() {
        instance.trial = facts.trial;
    }
}
