//! The lifecycle of a marketplace instance, as pure rules: which call moves an instance from which state
//! to which, what a repeated or out-of-order call does, and how marketplace times are read.
//!
//! Handlers ask these functions what to do and then tell the store to do it; nothing here performs I/O,
//! so every rule is unit-tested below.
//!
//! ```text
//!                 FREEZE
//!  provisioning ─► active ◄──────► frozen
//!       │            │   UNFREEZE     │
//!       ▼            └──────┬─────────┘
//!     failed ───────────────┴──► released   (terminal)
//! ```
//!
//! Out-of-order and late calls (no event time exists in the protocol, so arrival order is the order):
//! - anything but `releaseInstance` on a released instance answers `000003` and changes nothing;
//! - a repeated release, freeze of a frozen or unfreeze of an active instance succeeds without a change;
//! - a renewal or upgrade already applied for the same order is not applied again, so a late retry of an
//!   older renewal cannot move the expiry back over a newer one;
//! - freeze/unfreeze of an instance still provisioning answers `000004` so the marketplace retries.

mod event;
mod ids;
mod instance;
mod lifecycle;
mod time;

pub use event::{Event, EventType};
pub use ids::{InstanceId, OrderId};
pub use instance::{AppInfo, Buyer, Instance, OrderRefusal, StoredAppInfo};
pub use lifecycle::{InstanceStatus, RefreshScene, StatusChange, Transition, status_transition};
pub use time::{parse_expire_time, utc_compact};
