//! The V2 wire adapter: `POST {base_path}` with a JSON body, signed with URL parameters (saas-v2.md,
//! signing.md (a)).
//!
//! It does what only V2 can: read and verify the body (`verify.rs`, no database), pick the key type from
//! the activity, turn the body into a command (`command.rs`) and render outcomes as V2 envelopes
//! (`render.rs`). The call then runs through the shared pipeline (`crate::callback::pipeline`). Whatever
//! happens, the answer is HTTP 200 JSON with a `resultCode`.

mod command;
mod render;
mod verify;

use super::AppState;
use super::audit::new_audit_entry;
use super::response::{answer, json_response};
use crate::callback::audit::{request_body, unverified_request_body};
use crate::callback::pipeline::{Answer, Call, Record, ReplayKey};
use crate::callback::{Outcome, Refusal};
use crate::protocol::keys::KeyType;
use crate::protocol::v2::request::{Activity, Fields};
use crate::store::AuditEntry;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value};
use std::time::Instant;
use verify::verify_v2;

pub async fn callback(State(app): State<AppState>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let now_ms = crate::now_ms();
    let mut record = Record { wire: "v2", audit: new_audit_entry("POST", &uri, &headers, now_ms), started };
    // Answers are signed with the key that verified the call; refusals with the first basic key.
    let (answer, signing_key) = match verify_v2(&app.settings, &headers, uri.query(), body, now_ms).await {
        Err(refused) => {
            if let Some(object) = &refused.object {
                describe_request(&mut record.audit, object);
            }
            // Unverified: anyone can send these, so keep only the start of the body.
            record.audit.request_body = refused.body.as_deref().map(|body| unverified_request_body(body, refused.object.as_ref()));
            record.audit.verification = refused.reason.to_owned();
            (app.pipeline.refuse(record, answer(refused.envelope)), (KeyType::Basic, 0))
        }
        Ok(verified) => {
            describe_request(&mut record.audit, &verified.object);
            record.audit.request_body = Some(request_body(&verified.body, Some(&verified.object)));
            record.audit.verification = verified.matched.describe();
            let fields = Fields::new(&verified.object);
            let call = Call {
                replay_key: Some(ReplayKey {
                    namespace: verified.matched.key_type.as_str(),
                    label: "nonce",
                    nonce: verified.nonce.clone(),
                    expires_at_ms: now_ms.max(verified.timestamp_ms) + app.settings.security.nonce_retention_ms(),
                }),
                debug: fields.test_flag().unwrap_or(false),
                command: command_of(&fields),
                now_ms,
            };
            let signing_key = (verified.matched.key_type, verified.matched.key_index);
            (app.pipeline.run(call, render::render, record).await, signing_key)
        }
    };
    respond(&app, StatusCode::OK, answer, signing_key)
}

/// The command a verified body carries, or the refusal naming what is wrong with it.
fn command_of(fields: &Fields) -> Result<crate::callback::Command, Refusal> {
    let activity_name = fields.required("activity", 32).map_err(|error| Refusal::invalid(error.0))?;
    let Some(activity) = Activity::parse(&activity_name) else {
        return Err(Refusal::invalid(format!("activity {activity_name:?} is not a supported V2 interface")));
    };
    fields.test_flag().map_err(|error| Refusal::invalid(error.0))?;
    command::command(activity, fields).map_err(|error| Refusal::invalid(error.0))
}

/// The HTTP answer, with `Body-Sign` over its bytes when `v2.emit_body_sign` is on.
pub fn respond(app: &AppState, status: StatusCode, answer: Answer, (key_type, key_index): (KeyType, usize)) -> Response {
    let key = app.settings.v2.emit_body_sign.then(|| app.settings.keys.of(key_type).0.get(key_index)).flatten();
    json_response(status, answer.bytes, key)
}

/// The answer to a refused call: the refusal rendered as a V2 envelope.
pub fn refusal(refusal: Refusal) -> Answer {
    render::render(&Outcome::Refused(refusal))
}

/// Fills the searchable audit columns from whatever the body holds (even an invalid one).
fn describe_request(audit: &mut AuditEntry, object: &Map<String, Value>) {
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(|s| s.chars().take(256).collect::<String>());
    audit.activity = text("activity");
    audit.instance_id = text("instanceId");
    audit.order_id = text("orderId");
    audit.order_line_id = text("orderLineId");
    audit.test_flag = Fields::new(object).test_flag().unwrap_or(false);
}
