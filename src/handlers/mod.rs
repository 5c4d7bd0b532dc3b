//! One module per V2 base operation. Each reads like its table in saas-v2.md: parse the typed request,
//! ask the domain what the call means for the instance, tell the store, answer with an envelope.
//!
//! Handlers run inside the callback's transaction (opened by `http::v2` after the nonce is claimed) and
//! decide everything before they write, so a refusal never leaves a partial change behind.

mod change_instance_check;
pub mod feed;
mod new_instance;
mod query_instance;
mod refresh_instance;
mod release_instance;
mod update_instance_status;
mod upgrade_instance;

use crate::crypto::{OpenError, Sealer};
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v2::{Activity, Fields, ParamError};
use crate::provisioning::Provisioner;
use crate::store::{StoreError, Transaction};

/// What a handler may use besides the transaction.
pub struct Context<'a> {
    pub provisioner: &'a dyn Provisioner,
    pub sealer: &'a Sealer,
    pub feed: &'a feed::Feed,
    /// How long asynchronous provisioning may take before the instance is failed.
    pub provision_horizon_ms: i64,
    /// The open APIs are configured: fetch the orders of upgrades and renewals (retried this long).
    pub sync_orders_for_ms: Option<i64>,
    /// `testFlag` = 1: validate and answer, but touch no real instance.
    pub debug: bool,
    pub now_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sealed(#[from] OpenError),
}

pub type Outcome = Result<Envelope, Error>;

/// Runs the handler of `activity`.
pub async fn dispatch(context: &Context<'_>, tx: &mut dyn Transaction, activity: Activity, fields: &Fields<'_>) -> Outcome {
    use crate::protocol::v2::*;
    match activity {
        Activity::NewInstance => new_instance::handle(context, tx, NewInstance::parse(fields)?).await,
        Activity::QueryInstance => query_instance::handle(context, tx, QueryInstance::parse(fields)?).await,
        Activity::RefreshInstance => refresh_instance::handle(context, tx, RefreshInstance::parse(fields)?).await,
        Activity::UpdateInstanceStatus => update_instance_status::handle(context, tx, UpdateInstanceStatus::parse(fields)?).await,
        Activity::ReleaseInstance => release_instance::handle(context, tx, ReleaseInstance::parse(fields)?).await,
        Activity::UpgradeInstance => upgrade_instance::handle(context, tx, UpgradeInstance::parse(fields)?).await,
        Activity::ChangeInstanceCheck => change_instance_check::handle(context, tx, ChangeInstanceCheck::parse(fields)?).await,
    }
}

fn not_found(instance_id: &str) -> Envelope {
    Envelope::refusal(ResultCode::InstanceNotFound, format!("instance {instance_id} does not exist"))
}

fn released(instance_id: &str) -> Envelope {
    Envelope::refusal(ResultCode::InstanceNotFound, format!("instance {instance_id} has been released"))
}

/// Claiming an order (renewal, conversion, upgrade) for an instance: applied at most once per order.
enum OrderClaim {
    /// Apply it to this (locked) instance.
    FirstTime(Box<crate::domain::Instance>),
    /// Applied before: answer success without applying again.
    AlreadyApplied,
    /// The instance is unknown or released: answer this.
    Refused(Envelope),
}

async fn claim_order(
    context: &Context<'_>,
    tx: &mut dyn Transaction,
    instance_id: &str,
    operation: String,
    order_id: &str,
    order_line_id: &str,
) -> Result<OrderClaim, Error> {
    let Some(instance) = tx.lock_instance(instance_id).await? else {
        return Ok(OrderClaim::Refused(not_found(instance_id)));
    };
    if crate::domain::Transition::update(instance.status) == crate::domain::Transition::Gone {
        return Ok(OrderClaim::Refused(released(instance_id)));
    }
    let order = crate::store::AppliedOrder {
        instance_id: instance.instance_id.clone(),
        operation,
        order_id: order_id.to_owned(),
        order_line_id: Some(order_line_id.to_owned()),
        applied_at_ms: context.now_ms,
    };
    Ok(if tx.claim_applied_order(&order).await? { OrderClaim::FirstTime(Box::new(instance)) } else { OrderClaim::AlreadyApplied })
}

/// Saves an instance an order was just applied to, records the event, and (with the open APIs
/// configured) queues fetching the order's plan.
async fn record_applied_order(
    context: &Context<'_>,
    tx: &mut dyn Transaction,
    instance: &crate::domain::Instance,
    event_type: crate::domain::EventType,
    extra: serde_json::Value,
    (order_id, order_line_id): (&str, &str),
) -> Result<(), Error> {
    tx.update_instance(instance).await?;
    context.feed.instance_event(tx, event_type, instance, extra, context.now_ms).await?;
    if let Some(horizon_ms) = context.sync_orders_for_ms {
        feed::sync_order(tx, horizon_ms, &instance.instance_id, order_id, order_line_id, context.now_ms).await?;
    }
    Ok(())
}
