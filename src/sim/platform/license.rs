//! The License 2.0 APIs (license.md §2): activation, heartbeat and software usage statistics, v1 (one
//! code) and v2 (batches), and the activated codes they share. Business results come with HTTP 200;
//! request errors with 4xx. The sim has no list of issued codes: every well-formed code is treated as an
//! issued test code (our choice), so 92020004 / 92020005 are never answered.

use super::{Answer, PlatformState, Version, header};
use crate::domain::{parse_expire_time, utc_compact};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

/// Codes per License batch call and entries per usage list (license.md §2).
const MAX_LICENSE_BATCH: usize = 100;
/// Validity of an activated License code, from its effective time. Our choice: one year.
const LICENSE_VALIDITY_MS: i64 = 365 * 24 * 60 * 60 * 1000;
/// `product_id` / `order_id` reported for activated codes. Our choice: the sim knows no real orders.
const LICENSE_PRODUCT_ID: &str = "sim-license-product";
const LICENSE_ORDER_ID: &str = "SIMLICENSEORDER";

const LICENSE_SUCCESS: &str = "92020000";
const LICENSE_ILLEGAL_STATE: &str = "92020003";
const LICENSE_NOT_ACTIVATED: &str = "92020011";
const LICENSE_BATCH_INVALID: &str = "92020020";

/// An activated License code.
pub(super) struct License {
    activated_ms: i64,
    /// `real_effect_time` when given, else the activation time.
    effect_ms: i64,
}

impl License {
    fn expire_ms(&self) -> i64 {
        self.effect_ms.saturating_add(LICENSE_VALIDITY_MS)
    }

    fn status(&self, now_ms: i64) -> &'static str {
        if now_ms > self.expire_ms() { "EXPIRED" } else { "ALIVE" }
    }

    /// The v1 activate answer's `license_code_info`: a JSON *string* (license.md §2.1).
    fn code_info(&self, now_ms: i64) -> String {
        json!({
            "status": self.status(now_ms),
            "expire_time": utc_compact(self.expire_ms()),
            "product_id": LICENSE_PRODUCT_ID,
            "amount": 1,
            "order_id": LICENSE_ORDER_ID,
        })
        .to_string()
    }

    /// The heartbeat answer's `data` (license.md §2.2); `expire_time` is our addition.
    fn heartbeat(&self, code: &str, now_ms: i64) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("license_code".into(), code.into());
        data.insert("status".into(), self.status(now_ms).into());
        data.insert("activate_time".into(), utc_compact(self.activated_ms).into());
        data.insert("expire_time".into(), utc_compact(self.expire_ms()).into());
        data
    }
}

fn license_invalid(message: &str) -> Answer {
    Answer::market(StatusCode::BAD_REQUEST, "95000001", &format!("request parameter invalid: {message}"))
}

fn license_success(data: Value) -> Answer {
    Answer::new(StatusCode::OK, json!({ "error_code": LICENSE_SUCCESS, "error_msg": "success", "data": data }))
}

/// The JSON object body of a License call.
pub(super) fn license_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Answer> {
    let content_type = header(headers, CONTENT_TYPE.as_str()).unwrap_or_default();
    if !content_type.trim_start().to_ascii_lowercase().starts_with("application/json") {
        return Err(Answer::market(StatusCode::UNSUPPORTED_MEDIA_TYPE, "95000003", "content type must be application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(license_invalid("the body must be a JSON object")),
        Err(_) => Err(Answer::market(StatusCode::BAD_REQUEST, "95000004", "the body is not JSON")),
    }
}

/// A string member of 1..=`max` characters.
fn license_text<'a>(body: &'a Map<String, Value>, name: &str, max: usize) -> Result<&'a str, Answer> {
    match body.get(name) {
        Some(Value::String(text)) if !text.is_empty() && text.chars().count() <= max => Ok(text),
        None | Some(Value::Null) => Err(license_invalid(&format!("{name} is required"))),
        Some(_) => Err(license_invalid(&format!("{name} must be a string of 1 to {max} characters"))),
    }
}

/// The codes of a call: `license` (v1) or `license_list` (v2, 1..=100 codes).
fn license_codes(version: Version, body: &Map<String, Value>) -> Result<Vec<String>, Answer> {
    if version == Version::V1 {
        return license_text(body, "license", 64).map(|code| vec![code.to_owned()]);
    }
    let Some(Value::Array(list)) = body.get("license_list") else {
        return Err(license_invalid("license_list (a list of codes) is required"));
    };
    if list.is_empty() || list.len() > MAX_LICENSE_BATCH {
        return Err(license_invalid("license_list must hold 1 to 100 codes"));
    }
    list.iter()
        .map(|code| match code.as_str() {
            Some(code) if !code.is_empty() && code.chars().count() <= 64 => Ok(code.to_owned()),
            _ => Err(license_invalid("each license_list entry must be a string of 1 to 64 characters")),
        })
        .collect()
}

/// Per-code results of a v2 batch: 92020000 when every code succeeded, else 92020020 (our choice, as
/// the v2 answers are not documented), with the items under `data.license_code_info_list`.
fn license_batch(items: Vec<Value>, all_succeeded: bool) -> Answer {
    let data = json!({ "license_code_info_list": items });
    if all_succeeded {
        return license_success(data);
    }
    Answer::new(StatusCode::OK, json!({ "error_code": LICENSE_BATCH_INVALID, "error_msg": "invalid code in the batch", "data": data }))
}

impl PlatformState {
    pub(super) fn activate(&self, version: Version, body: &Map<String, Value>, now_ms: i64) -> Result<Answer, Answer> {
        let effect_ms = match body.get("real_effect_time") {
            None | Some(Value::Null) => now_ms,
            Some(Value::String(text)) if text.len() == 14 => {
                parse_expire_time(text).ok_or_else(|| license_invalid("real_effect_time is not UTC yyyyMMddHHmmss"))?
            }
            Some(_) => return Err(license_invalid("real_effect_time is not UTC yyyyMMddHHmmss")),
        };
        let codes = license_codes(version, body)?;
        let mut data = self.data();
        let mut items = Vec::with_capacity(codes.len());
        let mut all_succeeded = true;
        for code in codes {
            if data.licenses.contains_key(&code) {
                all_succeeded = false;
                if version == Version::V1 {
                    return Ok(Answer::market(StatusCode::OK, LICENSE_ILLEGAL_STATE, "license code in illegal state: already activated"));
                }
                items.push(json!({ "license": code, "error_code": LICENSE_ILLEGAL_STATE, "error_msg": "already activated" }));
                continue;
            }
            let license = License { activated_ms: now_ms, effect_ms };
            let info = license.code_info(now_ms);
            data.licenses.insert(code.clone(), license);
            if version == Version::V1 {
                return Ok(license_success(json!({ "license_code_info": info })));
            }
            items.push(json!({ "license": code, "error_code": LICENSE_SUCCESS, "error_msg": "success", "license_code_info": info }));
        }
        Ok(license_batch(items, all_succeeded))
    }

    pub(super) fn heartbeat(&self, version: Version, body: &Map<String, Value>, now_ms: i64) -> Result<Answer, Answer> {
        match body.get("heartbeatInfo") {
            None | Some(Value::Null) => {}
            Some(Value::Object(info)) => {
                license_text(info, "thirdPartyAccount", 256)?;
                if info.get("ip").is_some_and(|ip| !ip.is_null()) {
                    license_text(info, "ip", 32)?;
                }
            }
            Some(_) => return Err(license_invalid("heartbeatInfo must be an object")),
        }
        let codes = license_codes(version, body)?;
        let data = self.data();
        let mut items = Vec::with_capacity(codes.len());
        let mut all_succeeded = true;
        for code in codes {
            let Some(license) = data.licenses.get(&code) else {
                all_succeeded = false;
                if version == Version::V1 {
                    return Ok(Answer::market(StatusCode::OK, LICENSE_NOT_ACTIVATED, "license code not activated"));
                }
                items.push(json!({ "license_code": code, "error_code": LICENSE_NOT_ACTIVATED, "error_msg": "license code not activated" }));
                continue;
            };
            let mut item = license.heartbeat(&code, now_ms);
            if version == Version::V1 {
                return Ok(license_success(Value::Object(item)));
            }
            item.insert("error_code".into(), LICENSE_SUCCESS.into());
            item.insert("error_msg".into(), "success".into());
            items.push(Value::Object(item));
        }
        Ok(license_batch(items, all_succeeded))
    }

    /// Software usage statistics (license.md §2.3). Codes never activated are listed in
    /// `data.check_fail_license_list` (our name: the documented member is cut off after `check_fail_`).
    pub(super) fn software_usage(&self, body: &Map<String, Value>) -> Result<Answer, Answer> {
        let Some(Value::Array(usage)) = body.get("usage_info") else {
            return Err(license_invalid("usage_info (a list) is required"));
        };
        if usage.is_empty() || usage.len() > MAX_LICENSE_BATCH {
            return Err(license_invalid("usage_info must hold 1 to 100 entries"));
        }
        let mut codes = Vec::with_capacity(usage.len());
        for entry in usage {
            let Some(entry) = entry.as_object() else {
                return Err(license_invalid("each usage_info entry must be an object"));
            };
            codes.push(license_text(entry, "license", 64)?.to_owned());
            let Some(Value::Array(infos)) = entry.get("software_usage_Info") else {
                return Err(license_invalid("usage_info[].software_usage_Info (a list) is required"));
            };
            if infos.is_empty() || infos.len() > MAX_LICENSE_BATCH {
                return Err(license_invalid("software_usage_Info must hold 1 to 100 entries"));
            }
            for info in infos {
                let id = info.get("id").filter(|id| !id.is_null());
                let active = info.get("active_num").filter(|active| !active.is_null());
                let valid = match (id, active) {
                    (Some(Value::String(id)), None) => !id.is_empty() && id.chars().count() <= 256,
                    (None, Some(active)) => active.as_u64().is_some_and(|active| active <= 999_999_999),
                    _ => false,
                };
                if !valid {
                    return Err(license_invalid(
                        "each software_usage_Info entry needs exactly one of id (string ≤ 256) and active_num (integer ≤ 9 digits)",
                    ));
                }
            }
        }
        let data = self.data();
        let failed: Vec<String> = codes.into_iter().filter(|code| !data.licenses.contains_key(code)).collect();
        Ok(license_success(json!({ "check_fail_license_list": failed })))
    }
}
