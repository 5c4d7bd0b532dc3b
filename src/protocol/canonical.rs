//! The canonical JSON forms the marketplace may have signed (signing.md (a), candidates C1–C4).
//!
//! The marketplace's server-side payload form is not documented; the official Java sample re-serialises
//! the body with Jackson after sorting the top-level members. We therefore rebuild each plausible form
//! byte for byte and let the verifier accept any of them (each still needs the secret key). The writer is
//! hand-rolled because Jackson's escaping differs from serde_json's (upper-case `\u00XX`, `/` and non-ASCII
//! written raw).

use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Which reading of the body produced a candidate payload; recorded in the audit log when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// Top-level members sorted, top-level nulls dropped, nested values as received (the official sample).
    C1Sorted,
    /// The raw body bytes as received.
    C2Raw,
    /// As C1, with the members of nested objects sorted too.
    C3DeepSorted,
    /// As C1, with top-level numbers and booleans turned into strings (`Map<String,String>` binding).
    C4Stringified,
}

impl Candidate {
    pub fn as_str(self) -> &'static str {
        match self {
            Candidate::C1Sorted => "C1",
            Candidate::C2Raw => "C2",
            Candidate::C3DeepSorted => "C3",
            Candidate::C4Stringified => "C4",
        }
    }
}

/// Every distinct candidate payload for a body, most likely first. `parsed` must be the body parsed with
/// member order preserved; when the body is not a JSON object only the raw bytes are a candidate.
pub fn candidates<'a>(raw: &'a [u8], parsed: Option<&Map<String, Value>>) -> Vec<(Candidate, std::borrow::Cow<'a, [u8]>)> {
    use std::borrow::Cow;
    let mut out: Vec<(Candidate, Cow<'a, [u8]>)> = Vec::with_capacity(4);
    let mut push = |candidate: Candidate, bytes: Cow<'a, [u8]>| {
        if !out.iter().any(|(_, existing)| existing.as_ref() == bytes.as_ref()) {
            out.push((candidate, bytes));
        }
    };
    if let Some(object) = parsed {
        push(Candidate::C1Sorted, Cow::Owned(canonical_c1(object)));
        push(Candidate::C2Raw, Cow::Borrowed(raw));
        if object.values().any(|v| v.is_object() || v.is_array()) {
            push(Candidate::C3DeepSorted, Cow::Owned(canonical_c3(object)));
        }
        if object.values().any(|v| v.is_number() || v.is_boolean()) {
            push(Candidate::C4Stringified, Cow::Owned(canonical_c4(object)));
        }
    } else {
        push(Candidate::C2Raw, Cow::Borrowed(raw));
    }
    out
}

/// C1: top-level members sorted by name, top-level nulls dropped, nested values in received order.
pub fn canonical_c1(object: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_top_level(&mut out, object, |out, value| write_value(out, value, false));
    out
}

/// C3: as C1, and nested objects sorted by member name as well.
pub fn canonical_c3(object: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_top_level(&mut out, object, |out, value| write_value(out, value, true));
    out
}

/// C4: as C1, with top-level numbers and booleans written as JSON strings.
pub fn canonical_c4(object: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_top_level(&mut out, object, |out, value| match value {
        Value::Number(n) => write_string(out, &n.to_string()),
        Value::Bool(b) => write_string(out, if *b { "true" } else { "false" }),
        other => write_value(out, other, false),
    });
    out
}

/// Any JSON value as Jackson writes it compactly, members in received order (the V1 Kit authToken renders
/// array and object members this way).
pub fn compact(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, value, false);
    out
}

fn write_top_level(out: &mut Vec<u8>, object: &Map<String, Value>, write_member: impl FnMut(&mut Vec<u8>, &Value)) {
    let mut members: Vec<(&String, &Value)> = object.iter().filter(|(_, v)| !v.is_null()).collect();
    members.sort_by(|a, b| utf16_order(a.0, b.0));
    write_object(out, members, write_member);
}

/// `{"name":value,…}` with the members in the order given.
fn write_object<'v>(out: &mut Vec<u8>, members: Vec<(&'v String, &'v Value)>, mut write_member: impl FnMut(&mut Vec<u8>, &'v Value)) {
    out.push(b'{');
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_member(out, value);
    }
    out.push(b'}');
}

/// Java's `String.compareTo` (and so `TreeMap`) orders by UTF-16 code unit, which differs from byte order
/// only for characters outside the Basic Multilingual Plane.
pub fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_value(out: &mut Vec<u8>, value: &Value, sort_nested: bool) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, sort_nested);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            let mut members: Vec<(&String, &Value)> = object.iter().collect();
            if sort_nested {
                members.sort_by(|a, b| utf16_order(a.0, b.0));
            }
            write_object(out, members, |out, member| write_value(out, member, sort_nested));
        }
    }
}

/// Jackson's default string escaping: the two mandatory escapes, the five short control escapes, every
/// other control character as `\u00XX` with upper-case hex, everything else raw UTF-8.
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0C => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            0x00..=0x1F => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(seq) => out.extend_from_slice(seq),
            None => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xF) as usize]]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Map<String, Value> {
        serde_json::from_str(raw).unwrap()
    }

    #[test]
    fn escapes_like_jackson() {
        let object = parse(r#"{"b":"a\"b\\c\u0001\u001f\b\f\n\r\t/é","a":null}"#);
        assert_eq!(String::from_utf8(canonical_c1(&object)).unwrap(), "{\"b\":\"a\\\"b\\\\c\\u0001\\u001F\\b\\f\\n\\r\\t/é\"}");
    }

    #[test]
    fn nested_nulls_are_kept_and_only_c3_sorts_nested_members() {
        let object = parse(r#"{"z":{"b":null,"a":1},"y":[{"d":1,"c":2}]}"#);
        assert_eq!(canonical_c1(&object), br#"{"y":[{"d":1,"c":2}],"z":{"b":null,"a":1}}"#);
        assert_eq!(canonical_c3(&object), br#"{"y":[{"c":2,"d":1}],"z":{"a":1,"b":null}}"#);
    }

    #[test]
    fn sorts_by_utf16_code_unit_like_java() {
        // U+FF21 (BMP) sorts after U+1F600 (surrogate pair D83D…) in UTF-16, before it in UTF-8 byte order.
        let object = parse(r#"{"\uff21":1,"\ud83d\ude00":2}"#);
        assert_eq!(String::from_utf8(canonical_c1(&object)).unwrap(), "{\"😀\":2,\"Ａ\":1}");
    }

    #[test]
    fn candidate_list_has_no_duplicates() {
        let raw = br#"{"a":"1"}"#;
        let object = parse(std::str::from_utf8(raw).unwrap());
        let list = candidates(raw, Some(&object));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].0, Candidate::C1Sorted);
    }
}
