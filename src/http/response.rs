//! Turning answer bytes into the exact HTTP answer the marketplace accepts: status 200,
//! `Content-Type: application/json` (nothing appended), ASCII-only JSON, and a `Body-Sign` header over
//! the very bytes sent.

use crate::callback::Answer;
use crate::callback::command::ReadyInstance;
use crate::domain::AppInfo;
use crate::protocol::body_sign::body_sign_header;
use crate::protocol::result::{Envelope, ResultCode};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

/// One entry of `queryInstance`'s `info`, as every wire format writes it: `instanceId`, and `appInfo`
/// when there is one (see [`app_info_json`]).
pub fn instance_info<E>(instance: &ReadyInstance, credential: &impl Fn(&'static str, &str) -> Result<String, E>) -> Result<Value, E> {
    let mut info = Map::new();
    info.insert("instanceId".into(), json!(instance.instance_id.as_str()));
    if let Some(app_info) = &instance.app_info {
        info.insert("appInfo".into(), app_info_json(app_info, credential)?);
    }
    Ok(Value::Object(info))
}

/// `appInfo` with the members that have a value; `credential` writes `userName` and `password` (V2 as
/// they are, V1 encrypted) or refuses one that cannot be sent. Limits (checked where values are made):
/// URLs 512, userName/password 128, memo 1024.
pub fn app_info_json<E>(app_info: &AppInfo, credential: &impl Fn(&'static str, &str) -> Result<String, E>) -> Result<Value, E> {
    let mut members = Map::new();
    members.insert("frontEndUrl".into(), json!(app_info.front_end_url));
    if let Some(admin_url) = &app_info.admin_url {
        members.insert("adminUrl".into(), json!(admin_url));
    }
    for (name, value) in [("userName", &app_info.user_name), ("password", &app_info.password)] {
        if let Some(value) = value {
            members.insert(name.into(), json!(credential(name, value)?));
        }
    }
    if let Some(memo) = &app_info.memo {
        members.insert("memo".into(), json!(memo));
    }
    Ok(Value::Object(members))
}

/// The exact bytes of an envelope, with what the audit log records of them.
pub fn answer(envelope: Envelope) -> Answer {
    let bytes = envelope.to_bytes();
    Answer { code: envelope.code, message: envelope.message, bytes }
}

/// HTTP `status` with the JSON body; signed with `body_sign_key` when given.
pub fn json_response(status: StatusCode, bytes: Vec<u8>, body_sign_key: Option<&SecretString>) -> Response {
    let mut builder = Response::builder().status(status).header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(key) = body_sign_key {
        let value = body_sign_header(key.expose_secret(), &bytes);
        builder = builder.header("Body-Sign", HeaderValue::from_str(&value).expect("Body-Sign is ASCII"));
    }
    builder.body(Body::from(bytes)).expect("static response parts are valid")
}

/// A marketplace-shaped error answer with a non-200 status, for paths and methods outside the protocol.
pub fn plain_error(status: StatusCode, message: &str) -> Response {
    json_response(status, Envelope::refusal(ResultCode::InvalidParam, message).to_bytes(), None)
}
