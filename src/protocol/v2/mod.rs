//! The V2 wire format (saas-v2.md): POST JSON bodies dispatched by `activity`, signed with URL parameters.

pub mod request;
pub mod signature;
