//! `queryInstance` (saas-v2.md §4): report ready instances with their `appInfo`; read-only.

use super::{Context, Error};
use crate::callback::command::{Outcome, QueryInstance, ReadyInstance};
use crate::domain::{Instance, InstanceId, InstanceStatus};
use crate::protocol::result::ResultCode;
use crate::store::Transaction;

pub async fn run(context: &Context<'_>, tx: &mut dyn Transaction, command: QueryInstance) -> Result<Outcome, Error> {
    if context.debug {
        let entry = |id: InstanceId| ReadyInstance { app_info: context.provisioner.debug_app_info(id.as_str()), instance_id: id };
        return Ok(Outcome::Instances(command.instance_ids.into_iter().map(entry).collect()));
    }
    let ids: Vec<String> = command.instance_ids.iter().map(|id| id.to_string()).collect();
    let found = tx.instances(&ids).await?;
    if found.is_empty() {
        return Ok(Outcome::refused(ResultCode::InstanceNotFound, "none of the requested instances exists"));
    }
    // Answer in the order asked.
    let ready: Vec<&Instance> = ids.iter().filter_map(|id| found.iter().find(|i| &i.instance_id == id && i.status.is_ready())).collect();
    if ready.is_empty() {
        return Ok(not_ready(&found));
    }
    let open = |instance: &Instance| -> Result<ReadyInstance, Error> {
        let app_info = instance.app_info.as_ref().map(|info| info.open(context.sealer, &instance.instance_id)).transpose()?;
        Ok(ReadyInstance { instance_id: InstanceId::new(instance.instance_id.clone()), app_info })
    };
    Ok(Outcome::Instances(ready.into_iter().map(open).collect::<Result<_, _>>()?))
}

/// Why none of the known instances can be reported: still provisioning, failed, or released.
fn not_ready(found: &[Instance]) -> Outcome {
    let with_status = |status| found.iter().find(|i| i.status == status);
    if let Some(instance) = with_status(InstanceStatus::Provisioning) {
        Outcome::refused(ResultCode::InProgress, format!("instance {} is still being provisioned", instance.instance_id))
    } else if let Some(instance) = with_status(InstanceStatus::Failed) {
        match &instance.refusal {
            Some(refusal) => Outcome::Refused(super::refusal_of(refusal)),
            None => Outcome::refused(ResultCode::Internal, format!("provisioning of instance {} failed", instance.instance_id)),
        }
    } else {
        Outcome::refused(ResultCode::InstanceNotFound, "the requested instances have been released")
    }
}
