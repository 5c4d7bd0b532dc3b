//! Marketplace time formats (spec README §8).

use chrono::{DateTime, NaiveDateTime};

/// Reads `expireTime`: UTC `yyyyMMddHHmmss`, or 17 digits with milliseconds. Returns Unix milliseconds.
///
/// ```
/// use koogate::domain::parse_expire_time;
/// assert_eq!(parse_expire_time("20250101000000"), Some(1_735_689_600_000));
/// assert_eq!(parse_expire_time("20221124023618256"), Some(1_669_257_378_256));
/// assert_eq!(parse_expire_time("2025-01-01"), None);
/// ```
pub fn parse_expire_time(value: &str) -> Option<i64> {
    let digits = value.trim();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // chrono reads a 60th second as a leap second; the marketplace's times never have one.
    if digits.len() >= 14 && digits[12..14] > *"59" {
        return None;
    }
    let format = match digits.len() {
        14 => "%Y%m%d%H%M%S",
        17 => "%Y%m%d%H%M%S%3f",
        _ => return None,
    };
    NaiveDateTime::parse_from_str(digits, format).ok().map(|time| time.and_utc().timestamp_millis())
}

/// Formats Unix milliseconds as UTC `yyyyMMddHHmmss`.
pub fn utc_compact(unix_ms: i64) -> String {
    DateTime::from_timestamp_millis(unix_ms).map(|time| time.format("%Y%m%d%H%M%S").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_documented_lengths() {
        assert_eq!(parse_expire_time("19700101000000"), Some(0));
        assert_eq!(parse_expire_time("20250101000000"), Some(1_735_689_600_000));
        assert_eq!(parse_expire_time("20221124023618256"), Some(1_669_257_378_256));
        assert_eq!(parse_expire_time("20240229235959"), Some(1_709_251_199_000));
    }

    #[test]
    fn refuses_impossible_dates_and_other_shapes() {
        for bad in [
            "20230229000000",
            "20251301000000",
            "20250132000000",
            "20250101240000",
            "2025010100000",
            "2025-01-01T00:00",
            "",
            "202501010000001",
            "+2025010100000",
        ] {
            assert_eq!(parse_expire_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_back() {
        assert_eq!(utc_compact(1_669_257_378_256), "20221124023618");
        assert_eq!(utc_compact(0), "19700101000000");
        for text in ["20991231235959", "20000229120000", "19991231000000"] {
            assert_eq!(utc_compact(parse_expire_time(text).unwrap()), text);
        }
    }
}
