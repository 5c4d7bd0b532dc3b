//! The V1 wire adapter: `GET {base_path}?activity=…&timeStamp=…&authToken=…` (saas-v1.md, signing.md
//! (c)–(e)), for products listed under the V1 guide.
//!
//! It does what only V1 can: read the raw query string itself (both `+` decodings), verify `authToken`
//! with `keys.v1` (a list, for rotation), turn the parameters into the same commands V2 produces
//! (`command.rs`), and render outcomes with AES-encrypted credentials (`render.rs`). Every answer,
//! refusals included, is HTTP 200 `application/json` with a `Body-Sign` header over the exact bytes,
//! signed with the key that verified the call (the first V1 key for calls that did not verify). The call
//! runs through the shared pipeline like any other; V1 has no nonce, so by default there is no replay
//! key (the operations' idempotency keys make repeats harmless) unless `v1.max_age_secs` bounds the
//! `timeStamp`, when the `authToken` itself is claimed as one.

mod command;
mod params;
mod render;

use super::AppState;
use super::audit::new_audit_entry;
use super::response::{answer, json_response};
use crate::callback::audit::UNVERIFIED_TEXT_MAX_CHARS;
use crate::callback::pipeline::{Answer, Call, Record, ReplayKey};
use crate::callback::{Outcome, Refusal};
use crate::domain::parse_expire_time;
use crate::protocol::keys::KeyType;
use crate::protocol::result::{Envelope, ResultCode};
use crate::protocol::v1::{
    AUTH_TOKEN_MAX_LEN, Activity, AuthTokenError, KeySize, PlusDecoding, RawQuery, TIME_STAMP, TIME_STAMP_MAX_LEN, V1Cipher, verify_query,
};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use command::Contacts;
use futures::FutureExt;
use params::Params;
use secrecy::ExposeSecret;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

/// The most parameters a V1 call carries (newInstance has about 30): more is refused before any work.
const MAX_PARAMETERS: usize = 100;
/// Kept beyond a replay key's window, for nodes whose clocks differ a little.
const REPLAY_GRACE_MS: i64 = 60_000;

pub async fn callback(app: &AppState, uri: Uri, headers: HeaderMap) -> Response {
    // Every V1 answer must carry Body-Sign, even the one to a call that hit a bug.
    let (answer, key_index) = match AssertUnwindSafe(answer_call(app, uri, headers)).catch_unwind().await {
        Ok(answered) => answered,
        Err(_) => {
            tracing::error!("a V1 call panicked");
            (render::render(&Outcome::refused(ResultCode::Internal, "internal error"), &cipher(app, 0)), 0)
        }
    };
    json_response(StatusCode::OK, answer.bytes, app.settings.keys.v1.0.get(key_index))
}

/// Verifies, runs and renders one call; the answer with the index of the V1 key to sign it with.
async fn answer_call(app: &AppState, uri: Uri, headers: HeaderMap) -> (Answer, usize) {
    let started = Instant::now();
    let now_ms = crate::now_ms();
    let mut record = Record { wire: "v1", audit: new_audit_entry("GET", &uri, &headers, now_ms), started };
    let query = RawQuery::parse(uri.query().unwrap_or_default());
    describe_request(&mut record, &query);
    match verify(app, &query, uri.query().map_or(0, str::len), now_ms) {
        Err((reason, refusal)) => {
            // Unverified: anyone can send these, so keep only the start of the query.
            record.audit.query = record.audit.query.chars().take(UNVERIFIED_TEXT_MAX_CHARS).collect();
            record.audit.verification = reason.to_owned();
            (app.pipeline.refuse(record, render::render(&Outcome::Refused(refusal), &cipher(app, 0))), 0)
        }
        Ok(verified) => {
            record.audit.verification = format!("v1/{}", verified.decoding.as_str());
            let params = Params::new(&query, verified.decoding);
            let cipher = cipher(app, verified.key_index);
            let key = app.settings.keys.v1.0[verified.key_index].expose_secret();
            let request_key_size = KeySize::from_bits(app.settings.v1.request_encrypt_bits).unwrap_or(KeySize::Aes256);
            let contacts = Contacts { key, key_size: request_key_size, sealer: &app.pipeline.sealer };
            let call = Call { replay_key: verified.replay_key, debug: params.test_flag(), command: command_of(&params, &contacts), now_ms };
            (app.pipeline.run(call, |outcome| render::render(outcome, &cipher), record).await, verified.key_index)
        }
    }
}

/// Whether V1 calls can be verified at all: without `keys.v1` they are answered like any call this
/// address does not serve.
pub fn enabled(app: &AppState) -> bool {
    !app.settings.keys.v1.is_empty()
}

/// The answer to a V1 call when V1 is not enabled.
pub fn not_enabled() -> Answer {
    answer(Envelope::refusal(ResultCode::InvalidParam, "V1 (GET) interfaces are not enabled on this production address: set keys.v1"))
}

/// The responses' cipher: AES-256 (`encryptType` 1) with the V1 Key that verified the call.
fn cipher(app: &AppState, key_index: usize) -> V1Cipher {
    V1Cipher::new(app.settings.keys.v1.0[key_index].expose_secret(), KeySize::Aes256)
}

struct Verified {
    key_index: usize,
    decoding: PlusDecoding,
    replay_key: Option<ReplayKey>,
}

/// Every check before the call runs; a refusal carries the audit log's reason.
fn verify(app: &AppState, query: &RawQuery, query_len: usize, now_ms: i64) -> Result<Verified, (&'static str, Refusal)> {
    let limit = app.settings.limits.max_body_bytes;
    if query_len > limit {
        return Err(("query_too_large", Refusal::invalid(format!("query string exceeds limits.max_body_bytes ({limit} bytes)"))));
    }
    if query.len() > MAX_PARAMETERS {
        return Err(("query_too_many_parameters", Refusal::invalid(format!("the query has more than {MAX_PARAMETERS} parameters"))));
    }
    let auth_failed = |reason, message: &str| Err((reason, Refusal { code: ResultCode::AuthFailed, message: message.to_owned() }));
    match query.auth_token() {
        None => return auth_failed("token_missing", "authToken query parameter is required"),
        Some(token) if token.chars().count() > AUTH_TOKEN_MAX_LEN => {
            return auth_failed("token_too_long", &format!("authToken exceeds {AUTH_TOKEN_MAX_LEN} characters"));
        }
        Some(_) => {}
    }
    let time_stamp = query.value(TIME_STAMP, PlusDecoding::Literal).unwrap_or_default();
    if time_stamp.is_empty() {
        return Err(("timestamp_missing", Refusal::invalid("timeStamp query parameter is required")));
    }
    if time_stamp.chars().count() > TIME_STAMP_MAX_LEN {
        return Err(("timestamp_invalid", Refusal::invalid(format!("timeStamp exceeds {TIME_STAMP_MAX_LEN} characters"))));
    }
    let matched = match verify_query(&app.settings.keys.v1.0, query) {
        Ok(matched) => matched,
        Err(AuthTokenError::MalformedToken) => return auth_failed("token_malformed", "authToken is not valid Base64"),
        Err(AuthTokenError::MissingTimeStamp) => {
            return Err(("timestamp_missing", Refusal::invalid("timeStamp query parameter is required")));
        }
        Err(AuthTokenError::MissingToken | AuthTokenError::Mismatch) => {
            return auth_failed("token_mismatch", "authToken verification failed");
        }
    };
    let replay_key = match app.settings.v1.max_age_secs {
        0 => None,
        max_age_secs => {
            let Some(timestamp_ms) = parse_expire_time(&time_stamp) else {
                return Err(("timestamp_invalid", Refusal::invalid("timeStamp must be a UTC time as yyyyMMddHHmmssSSS")));
            };
            if (now_ms - timestamp_ms).abs() > max_age_secs as i64 * 1000 {
                let message = format!("timeStamp is more than {max_age_secs} s away from the server clock (v1.max_age_secs)");
                return Err(("timestamp_outside_window", Refusal::invalid(message)));
            }
            let token = query.auth_token().unwrap_or_default();
            // Kept while a replay could still pass the window around its timeStamp, plus a grace.
            let expires_at_ms = now_ms.max(timestamp_ms) + max_age_secs as i64 * 1000 + REPLAY_GRACE_MS;
            Some(ReplayKey { namespace: KeyType::V1.as_str(), label: "authToken", nonce: token, expires_at_ms })
        }
    };
    Ok(Verified { key_index: matched.key_index, decoding: matched.decoding, replay_key })
}

/// The command a verified query carries, or the refusal naming what is wrong with it.
fn command_of(params: &Params, contacts: &Contacts) -> Result<crate::callback::Command, Refusal> {
    let activity_name = params.required("activity", 20)?;
    let Some(activity) = Activity::parse(&activity_name) else {
        return Err(Refusal::invalid(format!("activity {activity_name:?} is not a supported V1 interface")));
    };
    command::command(activity, params, contacts)
}

/// Fills the searchable audit columns from whatever the query holds (even an unverified one).
fn describe_request(record: &mut Record, query: &RawQuery) {
    let text = |name: &str| query.value(name, PlusDecoding::Form).map(|value| value.chars().take(256).collect::<String>());
    let audit = &mut record.audit;
    audit.activity = text("activity");
    audit.instance_id = text("instanceId");
    audit.order_id = text("orderId");
    audit.test_flag = text("testFlag").is_some_and(|flag| flag.trim() == "1");
}
