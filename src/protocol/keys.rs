//! The key types a production address binds keys to (spec README §3), and one configured key by reference.
//!
//! Each wire adapter decides which type verifies a call from what the call is; `security.key_fallback`
//! then lets the other V2 types be tried as well (never the V1 Key, which signs another scheme).

use secrecy::SecretString;

/// The interface types a key can be bound to in Seller Center (spec README §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    Basic,
    License,
    Kit,
    General,
    /// The V1 Key (服务商信息 > Key值): V1 `authToken`, `Body-Sign`, AES of V1 fields, Kit V1, License 1.0.
    V1,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Basic => "basic",
            KeyType::License => "license",
            KeyType::Kit => "kit",
            KeyType::General => "general",
            KeyType::V1 => "v1",
        }
    }

    /// The order in which other V2 keys are tried when `security.key_fallback` is on.
    pub const V2_ORDER: [KeyType; 4] = [KeyType::Basic, KeyType::License, KeyType::Kit, KeyType::General];
}

/// One configured key with the interface type it is bound to and its place in that type's list.
pub struct KeyRef<'a> {
    pub key_type: KeyType,
    pub index: usize,
    pub key: &'a SecretString,
}
