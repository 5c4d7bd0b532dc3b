//! AK/SK verification (signing.md (f)) as the API gateway does it, for every open API but the new usage
//! push. It lives apart from the APIs because it is the gateway's concern, not theirs: a call is
//! authenticated before any API looks at it, and a refusal has the gateway's error shape.

use super::{Answer, CLOCK_WINDOW_MS, PlatformState, header};
use crate::protocol::apig::{Authorization, DATE_FORMAT, SignedRequest};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::NaiveDateTime;
use secrecy::ExposeSecret;

/// Why an AK/SK check failed. Messages: "verify aksk signature fail" and "Get secretKey failed…" are the
/// gateway's documented ones; "no Authorization" and "x-sdk-date expired" follow them; the others are
/// our wording in the same style. Neither the SK nor the received signature is ever echoed.
pub(super) enum AuthFailure {
    NoAuthorization,
    Malformed,
    UnknownAk(String),
    NotSigned,
    DateMissing,
    DateFormat,
    DateExpired,
    Signature,
}

impl AuthFailure {
    pub(super) fn answer(self) -> Answer {
        let detail = match self {
            AuthFailure::NoAuthorization => "no Authorization".to_owned(),
            AuthFailure::Malformed => "Authorization format incorrect".to_owned(),
            AuthFailure::UnknownAk(ak) => {
                let ak: String = ak.chars().take(128).collect();
                format!("Get secretKey failed,ak:{ak},err:ak not exist")
            }
            AuthFailure::NotSigned => "host and x-sdk-date must be signed".to_owned(),
            AuthFailure::DateMissing => "x-sdk-date not found".to_owned(),
            AuthFailure::DateFormat => "x-sdk-date format incorrect".to_owned(),
            AuthFailure::DateExpired => "x-sdk-date expired".to_owned(),
            AuthFailure::Signature => "verify aksk signature fail".to_owned(),
        };
        Answer::gateway(StatusCode::UNAUTHORIZED, "APIGW.0301", &format!("Incorrect IAM authentication information: {detail}"))
    }
}

impl PlatformState {
    pub(super) fn verify_aksk(&self, parts: &Parts, body: &[u8], now_ms: i64) -> Result<(), AuthFailure> {
        let config = &self.0.config;
        let raw = parts.headers.get(AUTHORIZATION).ok_or(AuthFailure::NoAuthorization)?;
        let authorization = raw.to_str().ok().and_then(Authorization::parse).ok_or(AuthFailure::Malformed)?;
        if authorization.access != config.ak {
            return Err(AuthFailure::UnknownAk(authorization.access));
        }
        let signed = |name: &str| authorization.signed_headers.iter().any(|signed| signed == name);
        if !signed("host") || !signed("x-sdk-date") {
            return Err(AuthFailure::NotSigned);
        }
        let date = header(&parts.headers, "x-sdk-date").ok_or(AuthFailure::DateMissing)?;
        let date_ms = NaiveDateTime::parse_from_str(date, DATE_FORMAT).map_err(|_| AuthFailure::DateFormat)?.and_utc().timestamp_millis();
        if (now_ms - date_ms).abs() > CLOCK_WINDOW_MS {
            return Err(AuthFailure::DateExpired);
        }
        let mut headers = Vec::with_capacity(authorization.signed_headers.len());
        for name in &authorization.signed_headers {
            let value = match header(&parts.headers, name) {
                Some(value) => value.to_owned(),
                // HTTP/2 carries the host as the URI authority.
                None if name == "host" => parts.uri.authority().map(|authority| authority.to_string()).ok_or(AuthFailure::Signature)?,
                None => return Err(AuthFailure::Signature),
            };
            headers.push((name.clone(), value));
        }
        // Query values are decoded with `+` read as a space, as the gateway's nginx/Lua front end does.
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
        let request = SignedRequest { method: parts.method.as_str(), path: parts.uri.path(), query: &query, headers: &headers, body };
        if !request.verify(config.sk.expose_secret(), &authorization.signature) {
            // The gateway logs its canonical request for the same purpose; it holds no secret.
            tracing::info!(canonical_request = %request.canonical_request(), "simulated platform: AK/SK signature mismatch");
            return Err(AuthFailure::Signature);
        }
        Ok(())
    }
}
