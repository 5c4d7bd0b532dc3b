//! Outcomes to V1 answers (saas-v1.md §2–§3): the envelope, `encryptType` `"1"` and `appInfo` whose
//! `userName`/`password` are AES-256-CBC encrypted with the V1 Key (a fresh IV every time, so a repeat
//! of the same plaintext is another ciphertext). Each encrypted field must fit 128 characters; one that
//! would not is never truncated: the call is answered `000005` and the log names the member.

use crate::callback::command::{InstanceState, Outcome};
use crate::callback::pipeline::Answer;
use crate::http::response::{answer, app_info_json, instance_info};
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v1::{CREDENTIAL_FIELD_MAX_LEN, V1Cipher};
use serde_json::{Value, json};

/// The V1 answer to an outcome; credentials are encrypted with `cipher`.
pub fn render(outcome: &Outcome, cipher: &V1Cipher) -> Answer {
    answer(envelope(outcome, cipher).unwrap_or_else(|member| {
        tracing::error!(member, "an encrypted appInfo member exceeds the marketplace's 128 characters");
        Envelope::refusal(ResultCode::Internal, format!("appInfo.{member} is too long to send encrypted (over 128 characters)"))
    }))
}

/// The envelope, or the name of the credential that does not fit once encrypted.
fn envelope(outcome: &Outcome, cipher: &V1Cipher) -> Result<Envelope, &'static str> {
    let encrypt_type = || json!(cipher.size().encrypt_type());
    Ok(match outcome {
        Outcome::Success => Envelope::success(),
        Outcome::Instance { instance_id, state, .. } => match state {
            InstanceState::Ready(app_info) => {
                let envelope = Envelope::success().with("encryptType", encrypt_type()).with("instanceId", json!(instance_id.as_str()));
                match app_info {
                    Some(app_info) => envelope.with("appInfo", app_info_json(app_info, &encrypted(cipher))?),
                    None => envelope,
                }
            }
            InstanceState::Provisioning => {
                Envelope::refusal(ResultCode::InProgress, "instance is being provisioned").with("instanceId", json!(instance_id.as_str()))
            }
            InstanceState::Failed => Envelope::refusal(ResultCode::Internal, "provisioning of the instance failed")
                .with("instanceId", json!(instance_id.as_str())),
            InstanceState::Refused(refusal) => {
                Envelope::refusal(refusal.code, refusal.message.clone()).with("instanceId", json!(instance_id.as_str()))
            }
        },
        Outcome::Instances(instances) => {
            let info = instances.iter().map(|instance| instance_info(instance, &encrypted(cipher))).collect::<Result<Vec<_>, _>>()?;
            Envelope::success().with("encryptType", encrypt_type()).with("info", Value::Array(info))
        }
        Outcome::Refused(refusal) => Envelope::refusal(refusal.code, refusal.message.clone()),
    })
}

/// `userName`/`password` AES-encrypted, or the member's name when it would exceed 128 characters so.
fn encrypted(cipher: &V1Cipher) -> impl Fn(&'static str, &str) -> Result<String, &'static str> + '_ {
    move |name, value| {
        let encrypted = cipher.encrypt(value);
        if encrypted.len() > CREDENTIAL_FIELD_MAX_LEN { Err(name) } else { Ok(encrypted) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::command::ReadyInstance;
    use crate::domain::{AppInfo, InstanceId};
    use crate::protocol::v1::KeySize;

    fn app_info(password: &str) -> AppInfo {
        let (user_name, password) = (Some("admin".to_owned()), Some(password.to_owned()));
        AppInfo { front_end_url: "https://a".into(), admin_url: None, user_name, password, memo: Some("m".into()) }
    }

    #[test]
    fn credentials_are_encrypted_with_a_fresh_iv_and_decrypt_to_the_same_text() {
        let cipher = V1Cipher::new("v1-test-key", KeySize::Aes256);
        let state = InstanceState::Ready(Some(app_info("pw-1")));
        let outcome = Outcome::Instance { instance_id: InstanceId::new("i-1"), state, created: true };
        let first: Value = serde_json::from_slice(&render(&outcome, &cipher).bytes).unwrap();
        let second: Value = serde_json::from_slice(&render(&outcome, &cipher).bytes).unwrap();
        assert_eq!(
            (first["resultCode"].as_str(), first["encryptType"].as_str(), first["instanceId"].as_str()),
            (Some("000000"), Some("1"), Some("i-1"))
        );
        let password = first["appInfo"]["password"].as_str().unwrap();
        assert_ne!(password, second["appInfo"]["password"].as_str().unwrap(), "a fresh IV per answer");
        assert_eq!(cipher.decrypt(password).unwrap(), "pw-1");
        assert_eq!(cipher.decrypt(first["appInfo"]["userName"].as_str().unwrap()).unwrap(), "admin");
        assert_eq!(first["appInfo"]["memo"], "m");
    }

    #[test]
    fn a_credential_too_long_to_encrypt_is_an_internal_error_not_a_truncation() {
        let cipher = V1Cipher::new("v1-test-key", KeySize::Aes256);
        let ready = ReadyInstance { instance_id: InstanceId::new("i-1"), app_info: Some(app_info(&"p".repeat(80))) };
        let answer = render(&Outcome::Instances(vec![ready]), &cipher);
        assert_eq!(answer.code, ResultCode::Internal);
        assert!(answer.message.contains("appInfo.password"), "{}", answer.message);
    }
}
