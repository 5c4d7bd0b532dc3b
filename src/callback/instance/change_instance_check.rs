//! `changeInstanceCheck` (saas-v2.md §9): may the instance take a new spec at renewal? No state change.
//!
//! The policy today: any instance that exists and is not released may change. A usage-aware policy
//! (refusing a downgrade below current usage) needs the merchant's application and comes with it.

use super::{Context, Error, not_found, released};
use crate::callback::command::{ChangeInstanceCheck, Outcome};
use crate::domain::Transition;
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
    tracing::info!(instance_id = %instance.instance_id, product_id = %command.product.product_id, sku_code = %command.product.sku_code, "renewal change allowed");
    Ok(Outcome::Success)
}
