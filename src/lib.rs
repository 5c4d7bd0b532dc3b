//! koogate: the merchant's side of a Huawei Cloud KooGallery SaaS listing.
//!
//! Reading order: `protocol` (wire formats, pure) → `domain` (lifecycle rules, pure) → `store` (durable
//! state) → `outbox` (events and the jobs they queue) → `callback` (the one pipeline every call takes,
//! and the operations) → `http` (one adapter per wire format: verify, command, render) → `startup`
//! (wiring it together). Beside them: `jobs` (the background worker), `admin` (the operators' API and
//! CLI), `marketplace` (the open-API client), `sim` (the marketplace's side, for testing). Dependencies
//! point only in that direction.

pub mod admin;
pub mod callback;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod marketplace;
pub mod outbox;
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
