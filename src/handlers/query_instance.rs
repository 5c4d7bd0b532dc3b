//! `queryInstance` (saas-v2.md §4): report ready instances with their `appInfo`; read-only.

use super::{Context, Outcome};
use crate::crypto::Sealer;
use crate::domain::{Instance, InstanceStatus};
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v2::{AppInfo, InstanceInfo, QueryInstance};
use crate::store::Transaction;
use secrecy::ExposeSecret;

pub async fn handle(context: &Context<'_>, tx: &mut dyn Transaction, request: QueryInstance) -> Outcome {
    let info: Vec<InstanceInfo> = if context.debug {
        let entry = |id: &String| InstanceInfo { instance_id: id.clone(), app_info: context.provisioner.debug_app_info(id) };
        request.instance_ids.iter().map(entry).collect()
    } else {
        let found = tx.instances(&request.instance_ids).await?;
        if found.is_empty() {
            return Ok(Envelope::refusal(ResultCode::InstanceNotFound, "none of the requested instances exists"));
        }
        // Answer in the order asked.
        let ready: Vec<&Instance> =
            request.instance_ids.iter().filter_map(|id| found.iter().find(|i| &i.instance_id == id && i.status.is_ready())).collect();
        if ready.is_empty() {
            return Ok(not_ready(&found));
        }
        ready
            .into_iter()
            .map(|instance| Ok(InstanceInfo { instance_id: instance.instance_id.clone(), app_info: app_info(instance, context.sealer)? }))
            .collect::<Result<_, super::Error>>()?
    };
    let info = serde_json::to_value(info).expect("instance info serialises");
    Ok(Envelope::success().with("info", info))
}

/// Why none of the known instances can be reported: still provisioning, failed, or released.
fn not_ready(found: &[Instance]) -> Envelope {
    let with_status = |status| found.iter().find(|i| i.status == status);
    if let Some(instance) = with_status(InstanceStatus::Provisioning) {
        Envelope::refusal(ResultCode::InProgress, format!("instance {} is still being provisioned", instance.instance_id))
    } else if let Some(instance) = with_status(InstanceStatus::Failed) {
        Envelope::refusal(ResultCode::Internal, format!("provisioning of instance {} failed", instance.instance_id))
    } else {
        Envelope::refusal(ResultCode::InstanceNotFound, "the requested instances have been released")
    }
}

fn app_info(instance: &Instance, sealer: &Sealer) -> Result<Option<AppInfo>, super::Error> {
    let Some(stored) = &instance.app_info else { return Ok(None) };
    let password = match &stored.password_sealed {
        Some(sealed) => Some(sealer.open(sealed, &instance.instance_id)?.expose_secret().to_owned()),
        None => None,
    };
    Ok(Some(AppInfo {
        front_end_url: stored.front_end_url.clone(),
        admin_url: stored.admin_url.clone(),
        user_name: stored.user_name.clone(),
        password,
        memo: stored.memo.clone(),
    }))
}
