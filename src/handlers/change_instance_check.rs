//! `changeInstanceCheck` (saas-v2.md §9): may the instance take a new spec at renewal? No state change.
//!
//! The policy today: any instance that exists and is not released may change. A usage-aware policy
//! (refusing a downgrade below current usage) needs the merchant's application and comes with it.

use super::{Context, Outcome, not_found, released};
use crate::domain::Transition;
use crate::protocol::result::Envelope;
use crate::protocol::v2::ChangeInstanceCheck;
use crate::store::Transaction;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: ChangeInstanceCheck) -> Outcome {
    if context.debug {
        return Ok(Envelope::success());
    }
    let found = tx.instances(std::slice::from_ref(&request.instance_id)).await?;
    let Some(instance) = found.first() else {
        return Ok(not_found(&request.instance_id));
    };
    if Transition::update(instance.status) == Transition::Gone {
        return Ok(released(&request.instance_id));
    }
    tracing::info!(instance_id = %instance.instance_id, product_id = %request.product_info.product_id, sku_code = %request.product_info.sku_code, "renewal change allowed");
    Ok(Envelope::success())
}
