//! Outcomes to V2 answers (saas-v2.md): the envelope with its call-specific members, `appInfo` in plain
//! JSON (V2 sends credentials unencrypted over HTTPS).

use crate::callback::command::{InstanceState, Outcome, ReadyInstance};
use crate::callback::pipeline::Answer;
use crate::domain::AppInfo;
use crate::http::response::answer;
use crate::protocol::result::{Envelope, ResultCode};
use serde_json::{Map, Value, json};

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
        Outcome::Instances(instances) => Envelope::success().with("info", Value::Array(instances.iter().map(instance_info).collect())),
        Outcome::Refused(refusal) => Envelope::refusal(refusal.code, refusal.message.clone()),
    }
}

/// One entry of `queryInstance`'s `info`.
fn instance_info(instance: &ReadyInstance) -> Value {
    let mut info = Map::new();
    info.insert("instanceId".into(), json!(instance.instance_id.as_str()));
    if let Some(app_info) = &instance.app_info {
        info.insert("appInfo".into(), app_info_json(app_info));
    }
    Value::Object(info)
}

/// `appInfo` with the members that have a value. Limits (checked where values are made): URLs 512,
/// userName/password 128, memo 1024.
fn app_info_json(app_info: &AppInfo) -> Value {
    let mut members = Map::new();
    members.insert("frontEndUrl".into(), json!(app_info.front_end_url));
    for (name, value) in
        [("adminUrl", &app_info.admin_url), ("userName", &app_info.user_name), ("password", &app_info.password), ("memo", &app_info.memo)]
    {
        if let Some(value) = value {
            members.insert(name.into(), json!(value));
        }
    }
    Value::Object(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InstanceId;

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
