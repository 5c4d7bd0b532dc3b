//! Compact JSON with every non-ASCII character escaped as `\uXXXX`.
//!
//! The marketplace requires `memo` (and in practice any text) to reach it ASCII-only; escaping the
//! whole response is the simplest way never to get that wrong.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io::{self, Write};

struct AsciiFormatter;

impl Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, writer: &mut W, escape: CharEscape) -> io::Result<()> {
        serde_json::ser::CompactFormatter.write_char_escape(writer, escape)
    }
}

/// Serialises `value` as compact, ASCII-only JSON.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = Serializer::with_formatter(&mut out, AsciiFormatter);
    value.serialize(&mut serializer).expect("serialising a JSON value into memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_non_ascii_including_surrogate_pairs() {
        let value = serde_json::json!({"memo": "中文 😀 \"q\"\n"});
        let text = String::from_utf8(super::to_vec(&value)).unwrap();
        assert_eq!(text, r#"{"memo":"\u4e2d\u6587 \ud83d\ude00 \"q\"\n"}"#);
        assert!(text.is_ascii());
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
