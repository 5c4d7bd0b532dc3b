//! Turning answer bytes into the exact HTTP answer the marketplace accepts: status 200,
//! `Content-Type: application/json` (nothing appended), ASCII-only JSON, and a `Body-Sign` header over
//! the very bytes sent.

use crate::callback::Answer;
use crate::protocol::body_sign::body_sign_header;
use crate::protocol::result::{Envelope, ResultCode};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};

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
