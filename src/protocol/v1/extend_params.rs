//! `saasExtendParams` (saas-v1.md §5): the V1 extension parameters, `urlEncode(Base64(JSON array))`.
//!
//! The marketplace packs extra buyer data (notably the `identificationCode`) into one query parameter as a
//! Base64-encoded JSON array of `{"name":…,"value":…}`. This module unpacks it into an ordered name → value
//! map (first occurrence wins, like repeated query parameters) and keeps the Base64 text as received,
//! which is what the `authToken` covers and what koogate stores. Pure; a malformed value is an error that
//! names the parameter and what is wrong, never its content.

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// The query parameter's name.
pub const SAAS_EXTEND_PARAMS: &str = "saasExtendParams";
/// Documented maximum length (String(2048)) of the percent-decoded value; enforced by the caller.
pub const SAAS_EXTEND_PARAMS_MAX_LEN: usize = 2048;

/// Standard alphabet, `=` padding optional.
const BASE64: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent));

/// Why a `saasExtendParams` value could not be read. The message names the parameter, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtendParamsError {
    #[error("saasExtendParams is not Base64")]
    NotBase64,
    #[error("saasExtendParams does not decode to UTF-8 text")]
    NotUtf8,
    #[error("saasExtendParams does not decode to JSON ({0})")]
    NotJson(String),
    #[error("saasExtendParams does not decode to a JSON array")]
    NotArray,
    #[error("saasExtendParams entry {0} is not a JSON object")]
    EntryNotObject(usize),
    #[error("saasExtendParams entry {0} has no string \"name\"")]
    EntryWithoutName(usize),
}

/// A decoded `saasExtendParams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendParams {
    base64: String,
    json: String,
    params: Vec<(String, String)>,
}

impl ExtendParams {
    /// From the value as it appears in the raw query string (still percent-encoded). A `+` is read
    /// literally: it can only be Base64's own `+`.
    pub fn from_query_value(raw: &str) -> Result<ExtendParams, ExtendParamsError> {
        ExtendParams::from_base64(&percent_decode_str(raw).decode_utf8_lossy())
    }

    /// From the percent-decoded value (the Base64 text the `authToken` covers). Spaces, left by a form
    /// decoding of `+`, are turned back into `+` before Base64-decoding; the text is kept as given.
    pub fn from_base64(text: &str) -> Result<ExtendParams, ExtendParamsError> {
        let bytes = BASE64.decode(text.trim().replace(' ', "+")).map_err(|_| ExtendParamsError::NotBase64)?;
        let json = String::from_utf8(bytes).map_err(|_| ExtendParamsError::NotUtf8)?;
        let parsed: Value = serde_json::from_str(&json)
            .map_err(|error| ExtendParamsError::NotJson(format!("line {} column {}", error.line(), error.column())))?;
        let Value::Array(entries) = parsed else {
            return Err(ExtendParamsError::NotArray);
        };
        let mut params: Vec<(String, String)> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let Value::Object(entry) = entry else {
                return Err(ExtendParamsError::EntryNotObject(index));
            };
            let Some(Value::String(name)) = entry.get("name") else {
                return Err(ExtendParamsError::EntryWithoutName(index));
            };
            if params.iter().any(|(seen, _)| seen == name) {
                continue;
            }
            params.push((name.clone(), value_text(entry.get("value"))));
        }
        Ok(ExtendParams { base64: text.to_owned(), json, params })
    }

    /// The Base64 text as received (percent-decoded).
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// The decoded JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(seen, _)| seen == name).map(|(_, value)| value.as_str())
    }

    /// Every distinct name with its first value, in array order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// A `value` member as text: a string as it is, a missing or `null` value as the empty string, anything
/// else (numbers, booleans, nested JSON) as its compact JSON text.
fn value_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn encode(json: &str) -> String {
        STANDARD.encode(json)
    }

    #[test]
    fn first_value_wins_and_order_is_kept() {
        let text = encode(r#"[{"name":"b","value":"1"},{"name":"a","value":"2"},{"name":"b","value":"3"}]"#);
        let params = ExtendParams::from_base64(&text).unwrap();
        assert_eq!(params.iter().collect::<Vec<_>>(), [("b", "1"), ("a", "2")]);
        assert_eq!(params.get("b"), Some("1"));
        assert_eq!(params.get("c"), None);
        assert_eq!(params.len(), 2);
        assert_eq!(params.base64(), text);
    }

    #[test]
    fn value_shapes() {
        let text = encode(
            r#"[{"name":"n","value":12},{"name":"e"},{"name":"z","value":null},{"name":"o","value":{"k":[true]}},{"name":"s","value":""}]"#,
        );
        let params = ExtendParams::from_base64(&text).unwrap();
        assert_eq!(params.iter().collect::<Vec<_>>(), [("n", "12"), ("e", ""), ("z", ""), ("o", r#"{"k":[true]}"#), ("s", "")]);
        let empty = ExtendParams::from_base64(&encode("[]")).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn form_decoded_plus_and_missing_padding_are_tolerated() {
        // ">>>?" makes the Base64 text contain '+', which a form decoding turns into a space.
        let text = encode(r#"[{"name":"x","value":">>>?"}]"#);
        assert!(text.contains('+'), "{text}");
        let params = ExtendParams::from_base64(&text.replace('+', " ")).unwrap();
        assert_eq!(params.get("x"), Some(">>>?"));
        let unpadded = encode(r#"[{"name":"x","value":"1"}]"#);
        assert!(ExtendParams::from_base64(unpadded.trim_end_matches('=')).is_ok());
        let query = unpadded.replace('=', "%3D");
        assert_eq!(ExtendParams::from_query_value(&query).unwrap().base64(), unpadded);
    }

    #[test]
    fn malformed_values_name_the_parameter_and_the_problem() {
        let cases = [
            ("!!!".to_owned(), ExtendParamsError::NotBase64),
            (STANDARD.encode([0xFFu8, 0xFE]), ExtendParamsError::NotUtf8),
            (encode(r#"{"name":"x","value":"1"}"#), ExtendParamsError::NotArray),
            (encode(r#"["x"]"#), ExtendParamsError::EntryNotObject(0)),
            (encode(r#"[{"name":"a","value":"1"},{"value":"1"}]"#), ExtendParamsError::EntryWithoutName(1)),
            (encode(r#"[{"name":7,"value":"1"}]"#), ExtendParamsError::EntryWithoutName(0)),
        ];
        for (text, expected) in cases {
            let error = ExtendParams::from_base64(&text).unwrap_err();
            assert_eq!(error, expected);
            assert!(error.to_string().starts_with("saasExtendParams "), "{error}");
        }
        let error = ExtendParams::from_base64(&encode(r#"[{"name":"secret-value""#)).unwrap_err();
        assert!(matches!(error, ExtendParamsError::NotJson(_)), "{error:?}");
        assert!(!error.to_string().contains("secret-value"), "{error}");
        assert_eq!(ExtendParams::from_base64("").unwrap_err(), ExtendParamsError::NotJson("line 1 column 0".to_owned()));
    }
}
