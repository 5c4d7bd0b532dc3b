//! `changeInstanceCheck` (saas-v2.md §9): may the instance take a new spec at renewal? No state change.
//!
//! Any instance that exists and is not released may change, unless the application's change policy
//! (`provisioning.change_check_endpoint`, asked by the pipeline before the transaction) refuses: then
//! `v2.change_check_refuse_code` with its reason; an application that could not be asked: `000005`.

use super::{Context, Error, not_found, released};
use crate::callback::command::{ChangeInstanceCheck, Outcome};
use crate::domain::Transition;
use crate::protocol::result::ResultCode;
use crate::provisioning::ChangeVerdict;
use crate::store::Transaction;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: ChangeInstanceCheck) -> Result<Outcome, Error> {
    if context.debug {
        return Ok(Outcome::Success);
    }
    let found = tx.instances(&[command.instance_id.to_string()]).await?;
    let Some(instance) = found.first() else {
        return Ok(not_found(&command.instance_id));
    };
    if Transition::update(instance.status) == Transition::Gone {
        return Ok(released(&command.instance_id));
    }
    Ok(match command.verdict {
        Some(ChangeVerdict::Refused(reason)) => Outcome::refused(context.change_refusal, reason),
        Some(ChangeVerdict::Unavailable(problem)) => {
            tracing::warn!(instance_id = %instance.instance_id, %problem, "the application's change policy could not be asked");
            Outcome::refused(ResultCode::Internal, "the merchant's change policy could not be asked; retry later")
        }
        Some(ChangeVerdict::Allowed) | None => {
            tracing::info!(instance_id = %instance.instance_id, product_id = %command.product.product_id, sku_code = %command.product.sku_code, "renewal change allowed");
            Outcome::Success
        }
    })
}
