//! Identifiers that cross module boundaries, as types: a function taking an [`InstanceId`] and an
//! [`OrderId`] cannot be handed them swapped. Validation (length, characters) happens at the wire edge
//! that builds them; inside they are opaque text.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An instance's ID: the `businessId` of its order line's first `newInstance`.
    InstanceId
);

id_type!(
    /// A marketplace order's ID (purchase, renewal, upgrade or unsubscribe order).
    OrderId
);
