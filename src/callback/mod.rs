//! The callback layer: what every marketplace call goes through once a wire adapter has read and
//! verified it.
//!
//! Read `pipeline.rs` for the order of work of one call (and how each wire format plugs in),
//! `command.rs` for the format-neutral commands and outcomes, `instance/` for the SaaS instance
//! operations, and `audit.rs` for what the audit log keeps. Below this layer (store, outbox, domain,
//! protocol) nothing imports it; above it, only the HTTP adapters do.

pub mod audit;
pub mod command;
mod instance;
pub mod pipeline;

pub use audit::AuditSink;
pub use command::{Command, Outcome, Refusal};
pub use pipeline::{Answer, Call, Pipeline, Record, ReplayKey};
