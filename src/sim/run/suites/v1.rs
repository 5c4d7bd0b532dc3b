//! What the V1 suites share: signing a GET as the marketplace does, judging each answer like the
//! marketplace plus its `Body-Sign` header (required on every V1 answer, refusals included), and
//! decrypting the credentials of `appInfo` with the V1 Key.

use crate::protocol::body_sign::body_sign_header;
use crate::protocol::v1::{KeySize, V1Cipher};
use crate::sim::report::Outcome;
use crate::sim::run::{Exchange, Expect, Session, member_problem, signed_v1_query, v1_time_stamp};
use serde_json::{Value, json};
use std::time::Duration;

/// A V1 call's parameters, in the order sent.
pub(super) type Params = Vec<(&'static str, String)>;

pub(super) fn param(name: &'static str, value: impl Into<String>) -> (&'static str, String) {
    (name, value.into())
}

pub(super) fn v1_key(session: &Session) -> String {
    session.target.v1_key.clone().expect("V1 suites run only with --v1-key")
}

/// A debug copy of `params` (`testFlag` = 1).
pub(super) fn debug(params: &Params) -> Params {
    let mut params = params.clone();
    params.push(param("testFlag", "1"));
    params
}

/// A `newInstance` for `order_id` with a fresh `businessId`.
pub(super) fn new_instance(order_id: &str) -> Params {
    vec![
        param("activity", "newInstance"),
        param("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
        param("customerName", "sim buyer"),
        param("businessId", uuid::Uuid::new_v4().to_string()),
        param("orderId", order_id),
        param("skuCode", "sku-basic"),
        param("productId", "OFFI000000000001"),
        param("chargingMode", "1"),
        param("expireTime", crate::sim::run::expire_in_days(365)),
        param("periodType", "year"),
        param("periodNumber", "1"),
    ]
}

/// Signs `params` with the V1 Key, sends them, and judges the answer (envelope, code, `Body-Sign`,
/// required members).
pub(super) async fn step(session: &mut Session, step: &str, params: &Params, expect: Expect) -> Option<Value> {
    let key = v1_key(session);
    let exchange = session.get(&signed_v1_query(params, &key, &v1_time_stamp())).await;
    let answer = judge(session, step, &exchange, expect)?;
    let activity = params.iter().find(|(name, _)| *name == "activity").map(|(_, value)| value.as_str());
    if let Some(problem) = member_problem(&json!({ "activity": activity }), &answer) {
        session.record(format!("{step}: answer members"), "within spec", problem.clone(), Duration::ZERO, Outcome::Fail, Some(problem));
    }
    Some(answer)
}

/// Judges a V1 answer as the marketplace does, `Body-Sign` included.
pub(super) fn judge(session: &mut Session, step: &str, exchange: &Exchange, expect: Expect) -> Option<Value> {
    let answer = session.judge(step, exchange, expect);
    if exchange.error.is_none() {
        let expected = body_sign_header(&v1_key(session), &exchange.body);
        let problem = match &exchange.body_sign {
            None => Some("the Body-Sign header is missing: every V1 answer must carry it".to_owned()),
            Some(header) if *header == expected => None,
            Some(_) => Some(
                "Body-Sign does not match: sign_type=\"HMAC-SHA256\", signature=\"Base64(HMAC-SHA256(V1 Key, exact body bytes))\""
                    .to_owned(),
            ),
        };
        if let Some(problem) = problem {
            session.record(format!("{step}: Body-Sign"), "valid", "invalid", Duration::ZERO, Outcome::Fail, Some(problem));
        }
    }
    answer
}

/// Decrypts `appInfo.userName`/`password` of an answer with the V1 Key (the size `encryptType` names);
/// records a failure for a credential that does not decrypt. Returns the password in clear.
pub(super) fn credentials(session: &mut Session, step: &str, answer: &Value, app_info: &Value) -> Option<String> {
    let encrypt_type = answer.get("encryptType").and_then(Value::as_str).unwrap_or("1");
    let Some(size) = KeySize::from_encrypt_type(encrypt_type) else {
        let detail = format!("encryptType must be \"1\" (AES-256) or \"2\" (AES-128), got {encrypt_type:?}");
        session.record(format!("{step}: encryptType"), "1 or 2", encrypt_type, Duration::ZERO, Outcome::Fail, Some(detail));
        return None;
    };
    let cipher = V1Cipher::new(&v1_key(session), size);
    let mut password = None;
    for name in ["userName", "password"] {
        let Some(field) = app_info.get(name).and_then(Value::as_str) else { continue };
        match cipher.decrypt(field) {
            Ok(clear) if name == "password" => password = Some(clear),
            Ok(_) => {}
            Err(error) => {
                let detail = format!(
                    "appInfo.{name} must be IV (16 characters) + Base64(AES-{}-CBC) with the SHA1PRNG-derived V1 Key: {error}",
                    size.bits()
                );
                session.record(
                    format!("{step}: {name} decrypts"),
                    "decrypts",
                    "does not decrypt",
                    Duration::ZERO,
                    Outcome::Fail,
                    Some(detail),
                );
            }
        }
    }
    password
}
