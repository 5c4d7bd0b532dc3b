//! APIG AK/SK request signing, `SDK-HMAC-SHA256` (signing.md (f)): how koogate signs its calls to the
//! marketplace's open APIs, and how `koogate sim platform` checks them as the gateway does.
//!
//! Pure: the caller supplies the method, path, query, the headers to sign (including `Host` and
//! `X-Sdk-Date`) and the body bytes; this module builds the canonical request and the signature.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header whose literal value replaces the body hash when it is signed (e.g. `UNSIGNED-PAYLOAD`).
pub const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";
/// `X-Sdk-Date` format: UTC `yyyyMMdd'T'HHmmss'Z'`.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// RFC 3986 unreserved characters stay as they are; everything else is `%XY` (upper-case hex).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODE).to_string()
}

/// The parts of an HTTP request that the signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as sent (no trailing `/` is added to the request itself).
    pub path: &'a str,
    /// Decoded query parameters, in any order.
    pub query: &'a [(String, String)],
    /// The headers to sign, by name in any case, with their values.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    /// Lower-case signed header names, sorted, joined by `;`.
    pub fn signed_headers(&self) -> String {
        let mut names: Vec<String> = self.headers.iter().map(|(name, _)| name.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        names.join(";")
    }

    fn header(&self, lower_name: &str) -> Option<&str> {
        self.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case(lower_name)).map(|(_, value)| value.as_str())
    }

    pub fn canonical_request(&self) -> String {
        let mut uri: String = self.path.split('/').map(encode).collect::<Vec<_>>().join("/");
        if !uri.ends_with('/') {
            uri.push('/');
        }
        let mut query: Vec<(String, String)> = self.query.iter().map(|(k, v)| (encode(k), encode(v))).collect();
        query.sort();
        let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let signed_headers = self.signed_headers();
        let mut canonical_headers = String::new();
        for name in signed_headers.split(';') {
            canonical_headers.push_str(&format!("{name}:{}\n", self.header(name).unwrap_or_default().trim()));
        }
        let payload_hash = match self.header(CONTENT_SHA256_HEADER) {
            Some(literal) => literal.to_owned(),
            None => hex::encode(Sha256::digest(self.body)),
        };
        format!("{}\n{uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}", self.method.to_ascii_uppercase())
    }

    /// The string to sign; `X-Sdk-Date` must be among the headers.
    pub fn string_to_sign(&self) -> String {
        let date = self.header("x-sdk-date").unwrap_or_default();
        format!("{ALGORITHM}\n{date}\n{}", hex::encode(Sha256::digest(self.canonical_request().as_bytes())))
    }

    fn mac(&self, sk: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(sk.as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(self.string_to_sign().as_bytes());
        mac
    }

    /// Lower-case hex signature under `sk`.
    pub fn signature(&self, sk: &str) -> String {
        hex::encode(self.mac(sk).finalize().into_bytes())
    }

    /// The `Authorization` header value.
    pub fn authorization(&self, ak: &str, sk: &str) -> String {
        format!("{ALGORITHM} Access={ak}, SignedHeaders={}, Signature={}", self.signed_headers(), self.signature(sk))
    }

    /// Constant-time check of a received hex signature.
    pub fn verify(&self, sk: &str, received_hex: &str) -> bool {
        hex::decode(received_hex).is_ok_and(|received| self.mac(sk).verify_slice(&received).is_ok())
    }
}

/// The members of a received `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub fn parse(value: &str) -> Option<Authorization> {
        let rest = value.trim().strip_prefix(ALGORITHM)?.trim_start();
        let (mut access, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=')?;
            match name.trim() {
                "Access" => access = Some(value.trim().to_owned()),
                "SignedHeaders" => signed_headers = Some(value.trim().split(';').map(|h| h.to_ascii_lowercase()).collect()),
                "Signature" => signature = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        Some(Authorization { access: access?, signed_headers: signed_headers?, signature: signature? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_and_query_are_encoded() {
        let query = vec![
            ("b".to_owned(), "x y/z".to_owned()),
            ("a".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
            ("e".to_owned(), String::new()),
        ];
        let headers = vec![("Host".to_owned(), " h ".to_owned()), ("X-Sdk-Date".to_owned(), "20250101T000000Z".to_owned())];
        let request = SignedRequest { method: "get", path: "/p/a b/ü", query: &query, headers: &headers, body: b"" };
        let canonical = request.canonical_request();
        let lines: Vec<&str> = canonical.lines().collect();
        assert_eq!(lines[0], "GET");
        assert_eq!(lines[1], "/p/a%20b/%C3%BC/");
        assert_eq!(lines[2], "a=1&a=2&b=x%20y%2Fz&e=");
        assert_eq!(lines[3], "host:h");
        assert_eq!(request.signed_headers(), "host;x-sdk-date");
    }

    #[test]
    fn unsigned_payload_replaces_the_body_hash() {
        let headers = vec![("X-Sdk-Content-Sha256".to_owned(), "UNSIGNED-PAYLOAD".to_owned())];
        let request = SignedRequest { method: "POST", path: "/u", query: &[], headers: &headers, body: b"anything" };
        assert!(request.canonical_request().ends_with("\nUNSIGNED-PAYLOAD"));
    }

    #[test]
    fn authorization_round_trip() {
        let headers = vec![("Host".to_owned(), "h".to_owned()), ("X-Sdk-Date".to_owned(), "20250101T000000Z".to_owned())];
        let request = SignedRequest { method: "GET", path: "/x", query: &[], headers: &headers, body: b"" };
        let parsed = Authorization::parse(&request.authorization("AK1", "SK1")).unwrap();
        assert_eq!(parsed.access, "AK1");
        assert_eq!(parsed.signed_headers, ["host", "x-sdk-date"]);
        assert!(request.verify("SK1", &parsed.signature));
        assert!(!request.verify("SK2", &parsed.signature));
        assert!(Authorization::parse("Bearer x").is_none());
    }
}
