//! The audit row of any call to the production address, as the HTTP edge sees it before its outcome
//! is known: method, path, query (credentials removed) and the headers worth keeping.

use crate::store::AuditEntry;
use axum::http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// Query parameters that are credentials (V2 `signature`, V1 `authToken`): never kept.
const CREDENTIAL_PARAMETERS: [&str; 2] = ["signature", "authToken"];
/// Query parameters that are (or may hold) personal data, even encrypted or encoded (V1 `mobilePhone`,
/// `email`, `saasExtendParams`): kept as `***`.
const PERSONAL_PARAMETERS: [&str; 3] = ["mobilePhone", "email", "saasExtendParams"];

pub fn new_audit_entry(method: &str, uri: &Uri, headers: &HeaderMap, now_ms: i64) -> AuditEntry {
    AuditEntry {
        received_at_ms: now_ms,
        method: method.to_owned(),
        path: uri.path().to_owned(),
        query: query_for_audit(uri.query()),
        request_headers: Some(audit_headers(headers)),
        ..Default::default()
    }
}

/// The headers worth keeping: what was sent, by whom, through which proxies.
fn audit_headers(headers: &HeaderMap) -> String {
    let mut kept = Map::new();
    for name in ["content-type", "content-length", "user-agent", "x-forwarded-for", "x-real-ip", "x-request-id"] {
        if let Some(value) = headers.get(name) {
            kept.insert(name.to_owned(), Value::String(String::from_utf8_lossy(value.as_bytes()).chars().take(256).collect()));
        }
    }
    Value::Object(kept).to_string()
}

/// The query string for the audit log: every parameter but the credentials, personal data masked,
/// however the names were encoded.
fn query_for_audit(query: Option<&str>) -> String {
    let mut kept = Vec::new();
    for pair in query.unwrap_or_default().split('&').filter(|pair| !pair.is_empty()) {
        let raw_name = pair.split_once('=').map_or(pair, |(name, _)| name);
        let name = percent_decode_str(raw_name).decode_utf8_lossy();
        if CREDENTIAL_PARAMETERS.contains(&name.as_ref()) {
            continue;
        }
        kept.push(if PERSONAL_PARAMETERS.contains(&name.as_ref()) { format!("{raw_name}=***") } else { pair.to_owned() });
    }
    kept.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_audit_query() {
        assert_eq!(query_for_audit(Some("signature=ABC&timestamp=1&nonce=n")), "timestamp=1&nonce=n");
        assert_eq!(query_for_audit(Some("%73ignature=ABC&timestamp=1&signature")), "timestamp=1");
        assert_eq!(query_for_audit(Some("activity=a&authToken=x%2By")), "activity=a");
        assert_eq!(query_for_audit(Some("mobilePhone=IV123%2Bcipher&a=1&email=x")), "mobilePhone=***&a=1&email=***");
        assert_eq!(query_for_audit(None), "");
    }
}
