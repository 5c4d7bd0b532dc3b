//! The V1 `authToken` (signing.md (c)): the only authentication of V1 base and License 1.0 GET calls
//! and, as a header, of Kit V1 POST calls.
//!
//! It exists as its own module because V1 signs *decoded query parameters*, not a body: the token is
//! `Base64(HMAC_SHA256(Key + timeStamp, "k=v&…"))` over every parameter except `authToken`, sorted by
//! name like Java's `TreeMap`. How the marketplace encoded a raw `+` is not knowable in advance (a
//! servlet reads it as a space, Base64 ciphertexts carry it literally), so [`RawQuery`] keeps the values
//! still percent-encoded and the verifier tries both decodings, [`PlusDecoding::Form`] (D1) and
//! [`PlusDecoding::Literal`] (D2). Pure: no I/O, no clock; received tokens are compared in constant
//! time by `Mac::verify_slice`.

use crate::protocol::canonical::{compact, utf16_order};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Name of the query parameter (GET) or header (Kit V1 POST) carrying the token.
pub const AUTH_TOKEN: &str = "authToken";
/// Name of the query parameter (GET) or body member (Kit V1 POST) appended to the key.
pub const TIME_STAMP: &str = "timeStamp";
/// Documented maximum length of `authToken` (String(50)); enforced by the caller.
pub const AUTH_TOKEN_MAX_LEN: usize = 50;
/// Documented maximum length of `timeStamp` (String(20)); enforced by the caller.
pub const TIME_STAMP_MAX_LEN: usize = 20;

/// How a raw `+` in the query string is read before the token is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlusDecoding {
    /// D1, form semantics: `+` is a space (Java servlets, `URLEncoder`).
    Form,
    /// D2: `+` stays `+` (raw `+` inside Base64 ciphertexts); only `%XY` is decoded.
    Literal,
}

impl PlusDecoding {
    /// The order in which the verifier tries the decodings.
    pub const ALL: [PlusDecoding; 2] = [PlusDecoding::Form, PlusDecoding::Literal];

    /// The name used in `vectors.json` (`expected.decoding`) and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            PlusDecoding::Form => "plus_as_space",
            PlusDecoding::Literal => "plus_literal",
        }
    }

    /// Percent-decodes one raw name or value; invalid UTF-8 becomes U+FFFD and a `%` not followed by two
    /// hex digits stays as it is (both sides of the comparison see the same text).
    pub fn decode(self, raw: &str) -> String {
        match self {
            PlusDecoding::Form if raw.contains('+') => percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned(),
            _ => percent_decode_str(raw).decode_utf8_lossy().into_owned(),
        }
    }
}

/// Why a V1 call is not authenticated. Never carries a key or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthTokenError {
    #[error("authToken is missing")]
    MissingToken,
    #[error("timeStamp is missing")]
    MissingTimeStamp,
    #[error("authToken is not Base64")]
    MalformedToken,
    #[error("authToken does not match under any configured V1 key")]
    Mismatch,
}

/// What verified a GET call: recorded in the audit log, never the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenMatch {
    /// Which of the configured V1 keys (rotation) matched; the response's `Body-Sign` uses the same one.
    pub key_index: usize,
    /// Which reading of a raw `+` reproduced the token.
    pub decoding: PlusDecoding,
}

/// A query string split into `name=value` pairs, still percent-encoded, in received order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawQuery {
    pairs: Vec<(String, String)>,
}

impl RawQuery {
    /// Splits on `&` (empty parts skipped) and on the first `=` of each part; a part without `=` is a
    /// name with an empty value, as a servlet reads it.
    pub fn parse(query: &str) -> RawQuery {
        let pairs = query
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (name, value) = part.split_once('=').unwrap_or((part, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect();
        RawQuery { pairs }
    }

    /// How many parameters the query holds (duplicates included).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every pair as received (percent-encoded), duplicates included.
    pub fn raw_pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Every pair decoded with `decoding`, in received order, duplicates included.
    pub fn decoded_pairs(&self, decoding: PlusDecoding) -> Vec<(String, String)> {
        self.pairs.iter().map(|(name, value)| (decoding.decode(name), decoding.decode(value))).collect()
    }

    /// The still percent-encoded value of the first parameter called `name` (duplicates: first wins).
    pub fn raw_value(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(raw_name, _)| PlusDecoding::Literal.decode(raw_name) == name).map(|(_, value)| value.as_str())
    }

    /// The decoded value of the first parameter called `name`.
    pub fn value(&self, name: &str, decoding: PlusDecoding) -> Option<String> {
        self.pairs.iter().find(|(raw_name, _)| decoding.decode(raw_name) == name).map(|(_, value)| decoding.decode(value))
    }

    /// The received `authToken`, normalised: percent-decoded, then every space turned back into `+`
    /// (Base64 never contains a space, so this repairs a form-decoded `+`). Its length is what the
    /// caller compares with [`AUTH_TOKEN_MAX_LEN`].
    pub fn auth_token(&self) -> Option<String> {
        self.raw_value(AUTH_TOKEN).map(|raw| PlusDecoding::Form.decode(raw).replace(' ', "+"))
    }

    /// The `k=v&…` string the token covers under `decoding`.
    pub fn string_to_sign(&self, decoding: PlusDecoding) -> String {
        let decoded = self.decoded_pairs(decoding);
        string_to_sign(decoded.iter().map(|(name, value)| (name.as_str(), value.as_str())))
    }

    /// Whether the two decodings can differ at all (a raw `+` somewhere in the query).
    fn has_plus(&self) -> bool {
        self.pairs.iter().any(|(name, value)| name.contains('+') || value.contains('+'))
    }
}

/// `join("&", name + "=" + value)` over decoded parameters: `authToken` excluded, a repeated name keeps
/// its first value, names sorted by UTF-16 code unit (Java `TreeMap`: upper-case before lower-case).
pub fn string_to_sign<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<(&str, &str)> = Vec::new();
    for (name, value) in params {
        if name != AUTH_TOKEN && seen.insert(name) {
            unique.push((name, value));
        }
    }
    unique.sort_by(|a, b| utf16_order(a.0, b.0));
    let mut out = String::with_capacity(unique.iter().map(|(name, value)| name.len() + value.len() + 2).sum());
    for (i, (name, value)) in unique.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The HMAC key: the V1 Key followed by the call's `timeStamp` (plain string concatenation).
pub fn hmac_key(key: &str, time_stamp: &str) -> SecretString {
    SecretString::from(format!("{key}{time_stamp}"))
}

fn token_mac(key: &str, time_stamp: &str, string_to_sign: &str) -> HmacSha256 {
    let hmac_key = hmac_key(key, time_stamp);
    let mut mac = HmacSha256::new_from_slice(hmac_key.expose_secret().as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}

/// `Base64_std(HMAC_SHA256(Key + timeStamp, string_to_sign))`, with `=` padding: what the marketplace
/// sends (and what `koogate sim` signs with).
///
/// Spec vector `v1-auth-001`:
/// ```
/// use koogate::protocol::v1::{PlusDecoding, RawQuery, compute_auth_token};
/// let query = RawQuery::parse("activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1&timeStamp=20200727073711903");
/// let data = query.string_to_sign(PlusDecoding::Form);
/// assert_eq!(compute_auth_token("xxxxxxx", "20200727073711903", &data), "Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=");
/// ```
pub fn compute_auth_token(key: &str, time_stamp: &str, string_to_sign: &str) -> String {
    STANDARD.encode(token_mac(key, time_stamp, string_to_sign).finalize().into_bytes())
}

/// Constant-time check of a (normalised) Base64 token against one key.
pub fn auth_token_matches(key: &str, time_stamp: &str, string_to_sign: &str, received: &str) -> bool {
    STANDARD.decode(received).is_ok_and(|bytes| token_mac(key, time_stamp, string_to_sign).verify_slice(&bytes).is_ok())
}

/// Verifies a GET call: every key (in order) under D1, then D2 (D2 only when the query holds a raw `+`,
/// otherwise both decodings give the same string). `timeStamp` is taken from the same decoding.
pub fn verify_query(keys: &[SecretString], query: &RawQuery) -> Result<TokenMatch, AuthTokenError> {
    let received = query.auth_token().ok_or(AuthTokenError::MissingToken)?;
    let received = STANDARD.decode(received).map_err(|_| AuthTokenError::MalformedToken)?;
    let decodings: &[PlusDecoding] = if query.has_plus() { &PlusDecoding::ALL } else { &PlusDecoding::ALL[..1] };
    let mut readings = Vec::with_capacity(decodings.len());
    for &decoding in decodings {
        let time_stamp = query.value(TIME_STAMP, decoding).ok_or(AuthTokenError::MissingTimeStamp)?;
        readings.push((decoding, time_stamp, query.string_to_sign(decoding)));
    }
    for (key_index, key) in keys.iter().enumerate() {
        for (decoding, time_stamp, data) in &readings {
            if token_mac(key.expose_secret(), time_stamp, data).verify_slice(&received).is_ok() {
                return Ok(TokenMatch { key_index, decoding: *decoding });
            }
        }
    }
    Err(AuthTokenError::Mismatch)
}

/// One top-level body member as it appears in the Kit V1 string: strings as they are, `null` skipped,
/// everything else as its compact JSON text.
fn kit_member_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(String::from_utf8(compact(other)).expect("compact JSON is UTF-8")),
    }
}

/// The `k=v&…` string of a Kit V1 POST: the top-level body members (including `timeStamp`) sorted by
/// name, no percent-decoding.
pub fn kit_string_to_sign(body: &Map<String, Value>) -> String {
    let members: Vec<(&str, String)> =
        body.iter().filter_map(|(name, value)| kit_member_text(value).map(|text| (name.as_str(), text))).collect();
    string_to_sign(members.iter().map(|(name, text)| (*name, text.as_str())))
}

/// The body's `timeStamp` member as it enters the HMAC key (a number is taken as its JSON text).
pub fn kit_time_stamp(body: &Map<String, Value>) -> Option<String> {
    body.get(TIME_STAMP).and_then(kit_member_text)
}

/// The token of a Kit V1 `authToken` header: surrounding whitespace and quotes (`"…"` or `“…”`, as
/// the documentation shows the value) removed.
pub fn kit_header_token(header_value: &str) -> &str {
    let trimmed = header_value.trim();
    for (open, close) in [('"', '"'), ('\u{201C}', '\u{201D}')] {
        if let Some(inner) = trimmed.strip_prefix(open).and_then(|rest| rest.strip_suffix(close)) {
            return inner.trim();
        }
    }
    trimmed
}

/// Verifies a Kit V1 POST against every key in order; returns the index of the key that matched.
pub fn verify_kit(keys: &[SecretString], body: &Map<String, Value>, header_value: &str) -> Result<usize, AuthTokenError> {
    let token = kit_header_token(header_value);
    if token.is_empty() {
        return Err(AuthTokenError::MissingToken);
    }
    let received = STANDARD.decode(token).map_err(|_| AuthTokenError::MalformedToken)?;
    let time_stamp = kit_time_stamp(body).ok_or(AuthTokenError::MissingTimeStamp)?;
    let data = kit_string_to_sign(body);
    keys.iter()
        .position(|key| token_mac(key.expose_secret(), &time_stamp, &data).verify_slice(&received).is_ok())
        .ok_or(AuthTokenError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "unit-test-v1-key";

    fn keys(list: &[&str]) -> Vec<SecretString> {
        list.iter().map(|key| SecretString::from(*key)).collect()
    }

    /// `raw_without_token` plus the token the marketplace would append if it read the query with `decoding`.
    fn signed(raw_without_token: &str, decoding: PlusDecoding, key: &str) -> String {
        let query = RawQuery::parse(raw_without_token);
        let ts = query.value(TIME_STAMP, decoding).unwrap();
        let token = compute_auth_token(key, &ts, &query.string_to_sign(decoding));
        let encoded = token.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        format!("{raw_without_token}&authToken={encoded}")
    }

    #[test]
    fn sorts_like_a_java_tree_map_and_first_value_wins() {
        let query = RawQuery::parse("b=2&a=1&B=3&a=9&authToken=x&&flag&timeStamp=1");
        assert_eq!(query.string_to_sign(PlusDecoding::Form), "B=3&a=1&b=2&flag=&timeStamp=1");
        assert_eq!(query.value("a", PlusDecoding::Literal).as_deref(), Some("1"));
        assert_eq!(query.raw_pairs().len(), 7);
    }

    #[test]
    fn the_two_decodings_differ_only_on_a_raw_plus() {
        let query = RawQuery::parse("v=a+b%2Bc%20d&n%41me=%E4%B8%AD");
        assert_eq!(query.value("v", PlusDecoding::Form).as_deref(), Some("a b+c d"));
        assert_eq!(query.value("v", PlusDecoding::Literal).as_deref(), Some("a+b+c d"));
        assert_eq!(query.value("nAme", PlusDecoding::Form).as_deref(), Some("中"));
        assert_eq!(query.raw_value("v"), Some("a+b%2Bc%20d"));
        // Malformed escapes and bytes are kept visible rather than refused.
        assert_eq!(PlusDecoding::Literal.decode("%zz%4"), "%zz%4");
        assert_eq!(PlusDecoding::Literal.decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn received_token_is_normalised() {
        assert_eq!(RawQuery::parse("authToken=ab+c%2Bd%3D").auth_token().as_deref(), Some("ab+c+d="));
        assert_eq!(RawQuery::parse("authToken=a%20b").auth_token().as_deref(), Some("a+b"));
        assert_eq!(RawQuery::parse("authToken=").auth_token().as_deref(), Some(""));
        assert_eq!(RawQuery::parse("x=1").auth_token(), None);
    }

    #[test]
    fn verifies_either_decoding_and_names_it() {
        let raw = "customerName=Demo+Buyer&timeStamp=20240101080000123&activity=newInstance";
        let form = signed(raw, PlusDecoding::Form, KEY);
        let matched = verify_query(&keys(&[KEY]), &RawQuery::parse(&form)).unwrap();
        assert_eq!(matched, TokenMatch { key_index: 0, decoding: PlusDecoding::Form });
        let literal = signed(raw, PlusDecoding::Literal, KEY);
        let matched = verify_query(&keys(&[KEY]), &RawQuery::parse(&literal)).unwrap();
        assert_eq!(matched.decoding, PlusDecoding::Literal);
    }

    #[test]
    fn key_rotation_reports_the_matching_index() {
        let raw = signed("activity=expireInstance&timeStamp=20240101080000123", PlusDecoding::Form, "second-key-000");
        let matched = verify_query(&keys(&["first-key-0000", "second-key-000"]), &RawQuery::parse(&raw)).unwrap();
        assert_eq!(matched.key_index, 1);
        assert_eq!(verify_query(&keys(&["first-key-0000"]), &RawQuery::parse(&raw)), Err(AuthTokenError::Mismatch));
        assert_eq!(verify_query(&[], &RawQuery::parse(&raw)), Err(AuthTokenError::Mismatch));
    }

    #[test]
    fn tampering_and_malformed_input_are_refused() {
        let raw = signed("activity=newInstance&orderId=CS1&timeStamp=20240101080000123", PlusDecoding::Form, KEY);
        let ok = keys(&[KEY]);
        assert!(verify_query(&ok, &RawQuery::parse(&raw)).is_ok());
        let tampered = raw.replace("orderId=CS1", "orderId=CS2");
        assert_eq!(verify_query(&ok, &RawQuery::parse(&tampered)), Err(AuthTokenError::Mismatch));
        let added = format!("{raw}&extra=");
        assert_eq!(verify_query(&ok, &RawQuery::parse(&added)), Err(AuthTokenError::Mismatch));
        // A duplicate appended after the signed value is ignored (first wins), one put before it is not.
        assert!(verify_query(&ok, &RawQuery::parse(&format!("{raw}&orderId=CS9"))).is_ok());
        assert_eq!(verify_query(&ok, &RawQuery::parse(&format!("orderId=CS9&{raw}"))), Err(AuthTokenError::Mismatch));
        let no_ts = raw.replace("timeStamp=20240101080000123", "ts=1");
        assert_eq!(verify_query(&ok, &RawQuery::parse(&no_ts)), Err(AuthTokenError::MissingTimeStamp));
        assert_eq!(verify_query(&ok, &RawQuery::parse("timeStamp=1")), Err(AuthTokenError::MissingToken));
        assert_eq!(verify_query(&ok, &RawQuery::parse("timeStamp=1&authToken=%21%21")), Err(AuthTokenError::MalformedToken));
        // Base64 is compared byte-exact: a token whose padding was stripped does not pass.
        let unpadded = raw.trim_end_matches("%3D");
        assert_eq!(verify_query(&ok, &RawQuery::parse(unpadded)), Err(AuthTokenError::MalformedToken));
    }

    #[test]
    fn empty_values_take_part() {
        let raw = signed("activity=newInstance&customerName=&timeStamp=20240101080000123", PlusDecoding::Form, KEY);
        let query = RawQuery::parse(&raw);
        assert_eq!(query.string_to_sign(PlusDecoding::Form), "activity=newInstance&customerName=&timeStamp=20240101080000123");
        assert!(verify_query(&keys(&[KEY]), &query).is_ok());
        let dropped = raw.replace("customerName=&", "");
        assert!(verify_query(&keys(&[KEY]), &RawQuery::parse(&dropped)).is_err());
    }

    #[test]
    fn kit_body_rendering_and_header_quotes() {
        let body: Map<String, Value> =
            serde_json::from_str(r#"{"z":null,"b":true,"a":[1,{"y":"é","x":null}],"c":{"k":"v"},"timeStamp":20220420114117642}"#).unwrap();
        assert_eq!(kit_string_to_sign(&body), r#"a=[1,{"y":"é","x":null}]&b=true&c={"k":"v"}&timeStamp=20220420114117642"#);
        assert_eq!(kit_time_stamp(&body).as_deref(), Some("20220420114117642"));
        for (header, token) in [(" \"abc=\" ", "abc="), ("\u{201C}abc=\u{201D}", "abc="), ("abc=", "abc="), ("\"abc=", "\"abc=")] {
            assert_eq!(kit_header_token(header), token, "{header}");
        }
    }

    #[test]
    fn kit_verification() {
        let body: Map<String, Value> = serde_json::from_str(r#"{"instanceId":"i-1","flag":1,"timeStamp":"20220420114117642"}"#).unwrap();
        let token = compute_auth_token(KEY, "20220420114117642", &kit_string_to_sign(&body));
        let list = keys(&["other-key-0000", KEY]);
        assert_eq!(verify_kit(&list, &body, &format!("\"{token}\"")), Ok(1));
        assert_eq!(verify_kit(&list[..1], &body, &token), Err(AuthTokenError::Mismatch));
        assert_eq!(verify_kit(&list, &body, " "), Err(AuthTokenError::MissingToken));
        assert_eq!(verify_kit(&list, &body, "not base64!"), Err(AuthTokenError::MalformedToken));
        let mut tampered = body.clone();
        tampered.insert("flag".into(), Value::from(0));
        assert_eq!(verify_kit(&list, &tampered, &token), Err(AuthTokenError::Mismatch));
        tampered.remove(TIME_STAMP);
        assert_eq!(verify_kit(&list, &tampered, &token), Err(AuthTokenError::MissingTimeStamp));
    }
}
