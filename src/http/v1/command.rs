//! V1 query parameters to commands (saas-v1.md §2–§3). V1 calls state their order themselves (product,
//! SKU, charging mode, period, quantities), so `newInstance` and `upgrade` carry [`OrderFacts`] and need
//! no order query; `newInstance` also names the buyer, whose encrypted mobile number and e-mail are
//! decrypted here and sealed at once for the instance, so their clear text never leaves this module.
//!
//! V1 has no order lines: an instance is keyed by its order (`orderLineId` = `orderId`), or for
//! pay-per-use (`chargingMode` 0, several instances per order) by order and product (`orderLineId` =
//! `productId`); and whenever the call names the product, by (order, product) as well, so a delivery
//! that omits `chargingMode` still finds its instance.

use super::params::Params;
use crate::callback::Refusal;
use crate::callback::command::{
    Command, NewInstance, OrderFacts, OrderRef, QueryInstance, RefreshInstance, ReleaseInstance, UpdateInstanceStatus, UpgradeInstance,
};
use crate::crypto::Sealer;
use crate::domain::{Buyer, InstanceId, OrderId, RefreshScene, StatusChange, parse_expire_time};
use crate::protocol::v1::{Activity, ExtendParams, KeySize, SAAS_EXTEND_PARAMS, SAAS_EXTEND_PARAMS_MAX_LEN, decrypt_with_fallback};
use serde_json::{Map, Value, json};

/// `chargingMode` of pay-per-use products.
const PAY_PER_USE: i64 = 0;

/// What decrypting and sealing the buyer's contacts needs.
pub struct Contacts<'a> {
    /// The V1 Key that verified the call (the marketplace encrypts with it).
    pub key: &'a str,
    /// `v1.request_encrypt_bits`.
    pub key_size: KeySize,
    pub sealer: &'a Sealer,
}

/// The command an activity's parameters carry.
pub fn command(activity: Activity, params: &Params, contacts: &Contacts) -> Result<Command, Refusal> {
    Ok(match activity {
        Activity::NewInstance => Command::NewInstance(new_instance(params, contacts)?),
        Activity::RefreshInstance => Command::RefreshInstance(refresh_instance(params)?),
        Activity::ExpireInstance => {
            // Expiry freezes the instance (its data kept through the freeze period); repeats change nothing.
            let instance_id = instance_id(params)?;
            params.required("orderId", 64)?;
            Command::UpdateInstanceStatus(UpdateInstanceStatus { instance_id, change: StatusChange::Freeze })
        }
        Activity::ReleaseInstance => {
            let instance_id = instance_id(params)?;
            // The purchase order, not an unsubscribe order: nothing to record against the instance.
            params.required("orderId", 64)?;
            params.amount("orderAmount")?;
            Command::ReleaseInstance(ReleaseInstance { instance_id, unsubscribe_order: None })
        }
        Activity::Upgrade => Command::UpgradeInstance(UpgradeInstance {
            instance_id: instance_id(params)?,
            order: OrderRef { id: OrderId::new(params.required("orderId", 64)?), line: None },
            facts: Some(order_facts(params, None)?),
        }),
        Activity::InstanceStatus => {
            let instance_id = instance_id(params)?;
            let status = params.required("instanceStatus", 32)?;
            let change = match status.as_str() {
                "FREEZE" => StatusChange::Freeze,
                "NORMAL" => StatusChange::Unfreeze,
                _ => return Err(Refusal::invalid(format!("instanceStatus must be FREEZE or NORMAL, got {status:?}"))),
            };
            Command::UpdateInstanceStatus(UpdateInstanceStatus { instance_id, change })
        }
        Activity::QueryInstance => {
            // The documented length (64) cannot hold 100 IDs; each ID is checked instead.
            Command::QueryInstance(QueryInstance::from_list(&params.required("instanceId", 100 * 65)?)?)
        }
    })
}

fn instance_id(params: &Params) -> Result<InstanceId, Refusal> {
    Ok(InstanceId::new(params.required("instanceId", 64)?))
}

fn new_instance(params: &Params, contacts: &Contacts) -> Result<NewInstance, Refusal> {
    let customer_id = params.required("customerId", 100)?;
    let customer_name = params.optional("customerName", 64)?;
    let user_id = params.optional("userId", 64)?;
    let user_name = params.optional("userName", 64)?;
    let proposed_instance_id = params.required("businessId", 64)?;
    let order_id = params.required("orderId", 64)?;
    let charging_mode = params.integer("chargingMode", 3)?;
    let product_id = params.optional("productId", 64)?;
    // Also keyed by product, so that a redelivery that leaves `chargingMode` out still finds the
    // pay-per-use instance (an order names one product per instance).
    let order_product = product_id.clone();
    let order_line_id = match (charging_mode, &product_id) {
        (Some(PAY_PER_USE), Some(product_id)) => product_id.clone(),
        (Some(PAY_PER_USE), None) => return Err(Refusal::invalid("productId is required for pay-per-use orders (chargingMode 0)")),
        _ => order_id.clone(),
    };
    let expire_time_ms = match params.optional("expireTime", 20)? {
        Some(text) => Some(parse_expire_time(&text).ok_or_else(|| Refusal::invalid("expireTime must be a UTC time as yyyyMMddHHmmss"))?),
        None => None,
    };
    let mut facts = order_facts(params, charging_mode)?;
    facts.expire_time_ms = expire_time_ms;
    facts.trial = params.optional("trialFlag", 2)?.map(|flag| flag.trim() == "1");
    let extend_params = extend_params(params)?;
    // Debug calls never store a buyer: their contacts need not decrypt.
    let debug = params.test_flag();
    let seal = |name: &str| -> Result<Option<String>, Refusal> {
        let Some(field) = params.optional(name, 512)? else { return Ok(None) };
        match decrypt_with_fallback(contacts.key, contacts.key_size, &field) {
            Ok((clear, _)) => Ok(Some(contacts.sealer.seal(&clear, &proposed_instance_id))),
            Err(_) if debug => Ok(None),
            Err(error) => Err(Refusal::invalid(format!("{name} could not be decrypted with keys.v1 ({error})"))),
        }
    };
    let buyer = Buyer {
        mobile_phone_sealed: seal("mobilePhone")?,
        email_sealed: seal("email")?,
        customer_id,
        customer_name,
        user_id,
        user_name,
        extend_params: extend_params
            .as_ref()
            .map(|params| params.iter().map(|(name, value)| (name.to_owned(), json!(value))).collect())
            .unwrap_or_default(),
        extend_params_raw: extend_params.map(|params| params.base64().to_owned()),
    };
    Ok(NewInstance {
        order_id: OrderId::new(order_id),
        order_line_id,
        proposed_instance_id: InstanceId::new(proposed_instance_id),
        order: Some(facts),
        buyer: Some(Box::new(buyer)),
        order_product,
    })
}

fn refresh_instance(params: &Params) -> Result<RefreshInstance, Refusal> {
    let order = OrderRef { id: OrderId::new(params.required("orderId", 64)?), line: None };
    let instance_id = instance_id(params)?;
    let product_id = params.optional("productId", 64)?;
    let expire_time_text = params.required("expireTime", 20)?;
    let expire_time_ms =
        parse_expire_time(&expire_time_text).ok_or_else(|| Refusal::invalid("expireTime must be a UTC time as yyyyMMddHHmmss"))?;
    let trial_to_formal = params.optional("trialToFormal", 2)?.is_some_and(|flag| flag.trim() == "1");
    params.optional("periodType", 10)?;
    params.integer("periodNumber", 2)?;
    let unsubscribed = params.amount("orderAmount")?.is_some_and(|amount| amount.starts_with('-'));
    // V1 names no scene: a conversion is flagged, an unsubscribed renewal has a negative amount.
    let scene = if trial_to_formal {
        RefreshScene::TrialToFormal
    } else if unsubscribed {
        RefreshScene::UnsubscribeRenewalPeriod
    } else {
        RefreshScene::Renewal
    };
    Ok(RefreshInstance { instance_id, scene, scene_label: scene.as_str().to_owned(), order, product_id, expire_time_ms, expire_time_text })
}

/// The plan a V1 call states (`newInstance`, `upgrade`): every member sent, as sent.
fn order_facts(params: &Params, charging_mode: Option<i64>) -> Result<OrderFacts, Refusal> {
    let mut plan = Map::new();
    let product_id = params.optional("productId", 64)?;
    let texts = [
        ("productId", product_id.clone()),
        ("skuCode", params.optional("skuCode", 64)?),
        ("periodType", params.optional("periodType", 10)?),
    ];
    for (name, value) in texts {
        if let Some(value) = value {
            plan.insert(name.into(), json!(value));
        }
    }
    let numbers = [
        ("chargingMode", charging_mode),
        ("periodNumber", params.integer("periodNumber", 2)?),
        ("amount", params.integer("amount", 7)?),
        ("diskSize", params.integer("diskSize", 7)?),
        ("bandWidth", params.integer("bandWidth", 7)?),
    ];
    for (name, value) in numbers {
        if let Some(value) = value {
            plan.insert(name.into(), json!(value));
        }
    }
    if let Some(amount) = params.amount("orderAmount")? {
        plan.insert("orderAmount".into(), json!(amount));
    }
    if let Some(provision_type) = params.optional("provisionType", 64)? {
        plan.insert("provisionType".into(), json!(provision_type));
    }
    Ok(OrderFacts { product_id, plan: Value::Object(plan), expire_time_ms: None, trial: None })
}

fn extend_params(params: &Params) -> Result<Option<ExtendParams>, Refusal> {
    let Some(raw) = params.raw(SAAS_EXTEND_PARAMS) else { return Ok(None) };
    let decoded = ExtendParams::from_query_value(raw).map_err(|error| Refusal::invalid(error.to_string()))?;
    if decoded.base64().chars().count() > SAAS_EXTEND_PARAMS_MAX_LEN {
        return Err(Refusal::invalid(format!("{SAAS_EXTEND_PARAMS} exceeds {SAAS_EXTEND_PARAMS_MAX_LEN} characters")));
    }
    Ok(Some(decoded))
}
