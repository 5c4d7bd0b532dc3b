//! The marketplace's side of the protocol, for testing merchant endpoints: a conformance runner
//! (`run`), a stand-in for the open APIs (`platform`) and a request signer for manual debugging (`sign`).

pub mod platform;
pub mod report;
pub mod run;
pub mod sign;
