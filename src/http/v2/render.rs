//! Outcomes to V2 answers (saas-v2.md): the envelope with its call-specific members, `appInfo` in plain
//! JSON (V2 sends credentials unencrypted over HTTPS).

use crate::callback::command::{InstanceState, Outcome};
use crate::callback::pipeline::Answer;
use crate::http::response::{answer, instance_info};
use crate::protocol::result::{Envelope, ResultCode};
use serde_json::{Value, json};
use std::convert::Infallible;

/// The V2 answer to an outcome.
pub fn render(outcome: &Outcome) -> Answer {
    answer(envelope(outcome))
}

fn envelope(outcome: &Outcome) -> Envelope {
    match outcome {
        Outcome::Success => Envelope::success(),
        Outcome::Instance { instance_id, state, .. } => {
            let envelope = match state {
                // V2 delivers credentials through queryInstance, not in newInstance's answer.
                InstanceState::Ready(_) => Envelope::success(),
                InstanceState::Provisioning => Envelope::refusal(ResultCode::InProgress, "instance is being provisioned"),
                InstanceState::Failed => Envelope::refusal(ResultCode::Internal, "provisioning of the instance failed"),
                InstanceState::Refused(refusal) => Envelope::refusal(refusal.code, refusal.message.clone()),
            };
            envelope.with("instanceId", json!(instance_id.as_str()))
        }
        Outcome::Instances(instances) => {
            // V2 sends credentials as they are (over HTTPS).
            let as_is = |_: &'static str, value: &str| Ok::<_, Infallible>(value.to_owned());
            let info = instances.iter().map(|instance| instance_info(instance, &as_is).unwrap_or_else(|never| match never {}));
            Envelope::success().with("info", Value::Array(info.collect()))
        }
        Outcome::Refused(refusal) => Envelope::refusal(refusal.code, refusal.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::command::ReadyInstance;
    use crate::domain::{AppInfo, InstanceId};

    #[test]
    fn query_answers_list_only_present_app_info_members() {
        let (user_name, password) = (Some("u".to_owned()), Some("p".to_owned()));
        let app_info = AppInfo { front_end_url: "https://a".into(), admin_url: None, user_name, password, memo: None };
        let outcome = Outcome::Instances(vec![
            ReadyInstance { instance_id: InstanceId::new("i-1"), app_info: Some(app_info) },
            ReadyInstance { instance_id: InstanceId::new("i-2"), app_info: None },
        ]);
        let text = String::from_utf8(render(&outcome).bytes).unwrap();
        assert_eq!(
            text,
            r#"{"resultCode":"000000","resultMsg":"success.","info":[{"instanceId":"i-1","appInfo":{"frontEndUrl":"https://a","userName":"u","password":"p"}},{"instanceId":"i-2"}]}"#
        );
    }
}
