//! Pure wire formats of the marketplace protocol: canonical JSON, signatures, result codes and typed
//! requests. Nothing here touches the network, the database or the clock; everything is unit-tested
//! against `shared/spec/vectors.json` (see `tests/vectors.rs`).

pub mod apig;
pub mod ascii_json;
pub mod canonical;
pub mod result;
pub mod signature;
pub mod v1;
pub mod v2;
