//! koogate: the merchant's side of a Huawei Cloud KooGallery SaaS listing.
//!
//! Reading order: `protocol` (wire formats, pure) → `domain` (lifecycle rules, pure) → `store` (durable
//! state) → `handlers` (one per marketplace operation) → `http` (routing, verification, answers) →
//! `startup` (wiring it together). Dependencies point only in that direction.

pub mod admin;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod jobs;
pub mod marketplace;
pub mod protocol;
pub mod provisioning;
pub mod sim;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhook;

/// Wall-clock time as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}
