//! What a marketplace call asks for and what koogate answers, independent of the wire format.
//!
//! A wire adapter (V2 POST, later V1 GET and Kit) turns a verified request into a [`Command`]; the
//! operation under `instance/` turns it into an [`Outcome`]; the adapter renders the outcome as its
//! own bytes (V2: plain JSON; V1: encrypted credentials and `Body-Sign`). Nothing here knows JSON
//! member names or query parameters.

use crate::domain::{AppInfo, Buyer, InstanceId, OrderId, RefreshScene, StatusChange};
use crate::protocol::result::ResultCode;
use crate::provisioning::ChangeVerdict;

/// One marketplace operation with its typed, validated arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    NewInstance(NewInstance),
    QueryInstance(QueryInstance),
    RefreshInstance(RefreshInstance),
    UpdateInstanceStatus(UpdateInstanceStatus),
    ReleaseInstance(ReleaseInstance),
    UpgradeInstance(UpgradeInstance),
    ChangeInstanceCheck(ChangeInstanceCheck),
}

/// A paid (or trial) order line to provision, however often it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    pub order_id: OrderId,
    pub order_line_id: String,
    /// The instance ID the marketplace proposes (`businessId`); the first delivery's wins.
    pub proposed_instance_id: InstanceId,
    /// What the call itself says about the order (V1); `None` when the order query tells it (V2).
    pub order: Option<OrderFacts>,
    /// Who bought it, when the call says so (V1), contacts already sealed for `proposed_instance_id`.
    pub buyer: Option<Box<Buyer>>,
    /// The product that identifies the instance within its order: one instance per (order, product),
    /// whatever the order line (V1: whenever the call names the product; V2: pay-per-use orders, from the
    /// order query the pipeline makes before the transaction).
    pub order_product: Option<String>,
}

/// An order's facts as a call states them: V1 calls carry them, V2 leaves them to the order query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub product_id: Option<String>,
    /// The plan the instance keeps (JSON: productId, skuCode, chargingMode, periodType, …).
    pub plan: serde_json::Value,
    /// The expiry the call estimates (periodic products); later renewal and expiry calls are authoritative.
    pub expire_time_ms: Option<i64>,
    /// `Some(true)` for a trial instance.
    pub trial: Option<bool>,
}

/// Report ready instances (at most 100, in the order asked, without duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInstance {
    pub instance_ids: Vec<InstanceId>,
}

/// Most instance IDs one `queryInstance` may ask for.
pub const QUERY_BATCH_MAX: usize = 100;

impl QueryInstance {
    /// From `instanceId` as every wire format sends it: one ID or up to 100 comma-separated, each at most
    /// 64 characters; blanks and repeats are dropped. Errors name the member.
    pub fn from_list(list: &str) -> Result<QueryInstance, Refusal> {
        let mut instance_ids: Vec<InstanceId> = Vec::new();
        for id in list.split(',').map(str::trim).filter(|id| !id.is_empty()) {
            if id.chars().count() > 64 {
                return Err(Refusal::invalid("instanceId: each ID must be at most 64 characters"));
            }
            if !instance_ids.iter().any(|seen| seen.as_str() == id) {
                instance_ids.push(InstanceId::new(id));
            }
        }
        if instance_ids.is_empty() {
            return Err(Refusal::invalid("instanceId is required"));
        }
        if instance_ids.len() > QUERY_BATCH_MAX {
            return Err(Refusal::invalid(format!("instanceId lists more than {QUERY_BATCH_MAX} IDs")));
        }
        Ok(QueryInstance { instance_ids })
    }
}

/// A new expiry from a trial conversion, renewal, renewal change or unsubscribed renewal period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshInstance {
    pub instance_id: InstanceId,
    pub scene: RefreshScene,
    /// The scene as the wire named it (trimmed): part of the idempotency key and of the event.
    pub scene_label: String,
    /// The renewal (or conversion, or unsubscribe) order.
    pub order: OrderRef,
    /// The new product, when the period type changed.
    pub product_id: Option<String>,
    pub expire_time_ms: i64,
    /// `expireTime` as sent, for the debug event.
    pub expire_time_text: String,
}

/// Freeze or unfreeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateInstanceStatus {
    pub instance_id: InstanceId,
    pub change: StatusChange,
}

/// The end of an instance's life, by an unsubscribe order when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInstance {
    pub instance_id: InstanceId,
    pub unsubscribe_order: Option<OrderRef>,
}

/// A paid upgrade/downgrade/scale order for an existing instance, applied once per order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeInstance {
    pub instance_id: InstanceId,
    pub order: OrderRef,
    /// The new spec as the call states it (V1); `None` when the order query tells it (V2).
    pub facts: Option<OrderFacts>,
}

/// An order a call applies to an instance: V2 names its line (which the order query can fetch); V1
/// orders have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub id: OrderId,
    pub line: Option<String>,
}

/// May the instance take this spec at renewal?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeInstanceCheck {
    pub instance_id: InstanceId,
    pub product: ProductSpec,
    /// The application's change policy's answer, when one is configured: asked by the pipeline before
    /// the transaction (adapters leave it `None`).
    pub verdict: Option<ChangeVerdict>,
}

/// The target spec of a renewal change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    pub product_id: String,
    pub sku_code: String,
    pub linear_value: Option<i64>,
    pub product_name: String,
}

impl ProductSpec {
    /// As the application's change policy receives it (`productInfo`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "productId": self.product_id,
            "skuCode": self.sku_code,
            "linearValue": self.linear_value,
            "productName": self.product_name,
        })
    }
}

/// What an operation answers, before any wire format renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or already done): `000000` with nothing more to say.
    Success,
    /// `newInstance`: the order line's instance as it stands, the same for every delivery; `created` by
    /// this very call.
    Instance { instance_id: InstanceId, state: InstanceState, created: bool },
    /// `queryInstance`: the ready instances, in the order asked.
    Instances(Vec<ReadyInstance>),
    /// Not done, and why.
    Refused(Refusal),
}

impl Outcome {
    pub fn refused(code: ResultCode, message: impl Into<String>) -> Outcome {
        Outcome::Refused(Refusal { code, message: message.into() })
    }
}

/// Where a `newInstance`'s instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceState {
    /// Usable; `None` when the buyer receives credentials another way.
    Ready(Option<AppInfo>),
    /// The merchant's application is still provisioning it (`000004`).
    Provisioning,
    /// Provisioning gave up (`000005`); an operator may retry it.
    Failed,
    /// The merchant's application refused the order (`000100`–`000107` with its reason).
    Refused(Refusal),
}

/// One instance of a `queryInstance` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyInstance {
    pub instance_id: InstanceId,
    pub app_info: Option<AppInfo>,
}

/// A refusal: the result code every wire format shares (spec README §4) and a message naming the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ResultCode,
    pub message: String,
}

impl Refusal {
    pub fn invalid(message: impl Into<String>) -> Refusal {
        Refusal { code: ResultCode::InvalidParam, message: message.into() }
    }
}
