//! Reading V1 query parameters (saas-v1.md §1–§3) the way the verified `authToken` read them: with the
//! `+` decoding that reproduced the token, the first value of a repeated name, and checks of type and
//! documented length whose errors name the parameter (answered `000002`).

use crate::callback::Refusal;
use crate::protocol::v1::{PlusDecoding, RawQuery};

pub struct Params<'a> {
    query: &'a RawQuery,
    decoding: PlusDecoding,
}

impl<'a> Params<'a> {
    pub fn new(query: &'a RawQuery, decoding: PlusDecoding) -> Params<'a> {
        Params { query, decoding }
    }

    /// A mandatory, non-empty value of at most `max` characters.
    pub fn required(&self, name: &str, max: usize) -> Result<String, Refusal> {
        self.optional(name, max)?.ok_or_else(|| Refusal::invalid(format!("{name} is required")))
    }

    /// An optional value of at most `max` characters; absent and empty both read as `None`.
    pub fn optional(&self, name: &str, max: usize) -> Result<Option<String>, Refusal> {
        let Some(value) = self.query.value(name, self.decoding).filter(|value| !value.is_empty()) else {
            return Ok(None);
        };
        if value.chars().count() > max {
            return Err(Refusal::invalid(format!("{name} exceeds {max} characters")));
        }
        if value.chars().any(char::is_control) {
            return Err(Refusal::invalid(format!("{name} contains control characters")));
        }
        Ok(Some(value))
    }

    /// An optional whole number of at most `max_digits` digits (the marketplace sends integers as text).
    pub fn integer(&self, name: &str, max_digits: usize) -> Result<Option<i64>, Refusal> {
        let Some(text) = self.optional(name, max_digits + 1)? else { return Ok(None) };
        let digits = text.strip_prefix('-').unwrap_or(&text);
        if digits.is_empty() || digits.len() > max_digits || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::invalid(format!("{name} must be an integer of at most {max_digits} digits")));
        }
        text.parse().map(Some).map_err(|_| Refusal::invalid(format!("{name} must be an integer")))
    }

    /// An optional decimal amount (`orderAmount`: up to 20 characters, at most 3 decimals, negative for
    /// an unsubscribed renewal), kept as the text sent.
    pub fn amount(&self, name: &str) -> Result<Option<String>, Refusal> {
        let Some(text) = self.optional(name, 20)? else { return Ok(None) };
        let unsigned = text.strip_prefix('-').unwrap_or(&text);
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 3 || (unsigned.contains('.') && fraction.is_empty())
        {
            return Err(Refusal::invalid(format!("{name} must be a decimal amount with at most 3 decimals")));
        }
        Ok(Some(text))
    }

    /// `testFlag`: debug iff its trimmed value is `1` (typed Integer on some pages, String(2) on others).
    pub fn test_flag(&self) -> bool {
        self.query.value("testFlag", self.decoding).is_some_and(|flag| flag.trim() == "1")
    }

    /// The value still percent-encoded, for values that are decoded their own way (`saasExtendParams`).
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.query.raw_value(name).filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: std::fmt::Debug>(query: &str, read: impl Fn(&Params) -> Result<T, Refusal>) -> Result<T, String> {
        let query = RawQuery::parse(query);
        read(&Params::new(&query, PlusDecoding::Form)).map_err(|refusal| refusal.message)
    }

    #[test]
    fn values_are_checked_and_errors_name_the_parameter() {
        assert_eq!(check("a=x&a=y", |p| p.required("a", 5)).unwrap(), "x", "the first value wins");
        assert_eq!(check("a=", |p| p.required("a", 5)).unwrap_err(), "a is required");
        assert_eq!(check("a=123456", |p| p.required("a", 5)).unwrap_err(), "a exceeds 5 characters");
        assert_eq!(check("a=x%00", |p| p.required("a", 5)).unwrap_err(), "a contains control characters");
        assert_eq!(check("a=x+y", |p| p.required("a", 5)).unwrap(), "x y", "form decoding");
        assert_eq!(check("n=12", |p| p.integer("n", 2)).unwrap(), Some(12));
        assert!(check("n=123", |p| p.integer("n", 2)).unwrap_err().starts_with("n must be an integer"));
        assert!(check("n=1.5", |p| p.integer("n", 2)).is_err());
        for (amount, ok) in [("10", true), ("-0.5", true), ("1.125", true), ("1.1255", false), ("1.", false), ("x", false), ("-", false)] {
            assert_eq!(check(&format!("m={amount}"), |p| p.amount("m")).is_ok(), ok, "{amount}");
        }
        assert!(check("testFlag=1", |p| Ok(p.test_flag())).unwrap());
        assert!(!check("testFlag=0", |p| Ok(p.test_flag())).unwrap());
    }
}
