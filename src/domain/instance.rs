//! The instance record koogate keeps for each order line it provisioned.

use super::InstanceStatus;
use crate::crypto::{OpenError, Sealer};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

/// One buyer's instance. `instance_id` is the `businessId` of the first `newInstance` for the order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: String,
    pub order_id: String,
    pub order_line_id: String,
    pub status: InstanceStatus,
    /// Current product (plan); set by `refreshInstance` when the period type changes, later by order query.
    pub product_id: Option<String>,
    /// Expiry as Unix milliseconds (UTC), once the marketplace has told us.
    pub expire_time_ms: Option<i64>,
    /// `Some(false)` once a trial was converted; `None` while unknown.
    pub trial: Option<bool>,
    /// The upgrade or renewal order last applied, if any.
    pub last_order_id: Option<String>,
    /// The plan (JSON) from the marketplace's order query, when the open APIs are configured.
    pub plan: Option<String>,
    pub app_info: Option<StoredAppInfo>,
    /// Who bought it, when the marketplace's call said so (V1); `None` for V2 (the order query knows).
    pub buyer: Option<Buyer>,
    /// The merchant's application refused the order (the instance is then `failed`).
    pub refusal: Option<OrderRefusal>,
    /// The product that identifies the instance within its order (pay-per-use orders hold one instance
    /// per product, whatever the order line); `None` where the order line alone identifies it.
    pub order_product: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The credentials and addresses returned to the buyer, as stored: the password only ever sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAppInfo {
    pub front_end_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// AEAD-sealed initial password (see `crate::crypto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// Why the merchant's application refused an order: a marketplace refusal code (`000100`–`000107`) and
/// the application's reason, answered to the marketplace as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRefusal {
    pub code: String,
    pub message: String,
}

/// The buyer of an instance as the marketplace described them (V1 `newInstance`), as stored: the mobile
/// number and e-mail (sent encrypted, for creating the buyer's account) only ever sealed, bound to the
/// instance ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Buyer {
    pub customer_id: String,
    pub customer_name: Option<String>,
    /// The IAM sub-user, when the product creates the admin account from it.
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub mobile_phone_sealed: Option<String>,
    pub email_sealed: Option<String>,
    /// `saasExtendParams` decoded, name → value (first wins), e.g. `identificationCode`.
    pub extend_params: serde_json::Map<String, serde_json::Value>,
    /// `saasExtendParams` as received (Base64), kept for what the map cannot show.
    pub extend_params_raw: Option<String>,
}

impl Buyer {
    /// What every event says of the buyer: who it is, without the sealed contacts and without
    /// `saasExtendParams` (which can hold personal data such as `idNum`, `custEmail`).
    pub fn summary(&self) -> serde_json::Value {
        let mut summary = self.without_sealed();
        if let Some(members) = summary.as_object_mut() {
            members.remove("extendParams");
            members.remove("extendParamsRaw");
        }
        summary
    }

    /// Everything the call said of the buyer but the sealed contacts (for the application, once).
    pub fn without_sealed(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a buyer serialises");
        if let Some(members) = value.as_object_mut() {
            members.remove("mobilePhoneSealed");
            members.remove("emailSealed");
        }
        value
    }

    /// The sealed contacts opened: (`mobilePhone`, `email`).
    pub fn contacts(&self, sealer: &Sealer, instance_id: &str) -> Result<(Option<String>, Option<String>), OpenError> {
        let open = |sealed: &Option<String>| -> Result<Option<String>, OpenError> {
            sealed.as_deref().map(|sealed| sealer.open(sealed, instance_id).map(|clear| clear.expose_secret().to_owned())).transpose()
        };
        Ok((open(&self.mobile_phone_sealed)?, open(&self.email_sealed)?))
    }
}

/// The addresses and credentials a buyer receives, opened for answering the marketplace: the password
/// in clear. Each wire format renders it its own way (V2 plain JSON, V1 with encrypted credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct AppInfo {
    pub front_end_url: String,
    pub admin_url: Option<String>,
    pub user_name: Option<String>,
    pub password: Option<String>,
    pub memo: Option<String>,
}

impl std::fmt::Debug for AppInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppInfo")
            .field("front_end_url", &self.front_end_url)
            .field("admin_url", &self.admin_url)
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("memo", &self.memo)
            .finish()
    }
}

impl StoredAppInfo {
    /// The app info with its password opened (it is sealed bound to the instance's ID).
    pub fn open(&self, sealer: &Sealer, instance_id: &str) -> Result<AppInfo, OpenError> {
        let password = match &self.password_sealed {
            Some(sealed) => Some(sealer.open(sealed, instance_id)?.expose_secret().to_owned()),
            None => None,
        };
        Ok(AppInfo {
            front_end_url: self.front_end_url.clone(),
            admin_url: self.admin_url.clone(),
            user_name: self.user_name.clone(),
            password,
            memo: self.memo.clone(),
        })
    }
}

use super::RefreshScene;

impl Instance {
    /// A freshly claimed instance for an order line; plan and expiry arrive with later calls.
    pub fn claimed(
        instance_id: String,
        order_id: String,
        order_line_id: String,
        status: InstanceStatus,
        app_info: Option<StoredAppInfo>,
        now_ms: i64,
    ) -> Instance {
        Instance {
            instance_id,
            order_id,
            order_line_id,
            status,
            product_id: None,
            expire_time_ms: None,
            trial: None,
            last_order_id: None,
            plan: None,
            app_info,
            buyer: None,
            refusal: None,
            order_product: None,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        }
    }

    /// Applies a `refreshInstance` order: the new expiry (also when earlier), the end of a trial, a new
    /// product when the period type changed. Status is deliberately untouched: only
    /// `updateInstanceStatus` freezes or unfreezes.
    pub fn apply_refresh(&mut self, scene: RefreshScene, expire_time_ms: i64, product_id: Option<String>, order_id: &str, now_ms: i64) {
        self.expire_time_ms = Some(expire_time_ms);
        if scene.ends_trial() {
            self.trial = Some(false);
        }
        if product_id.is_some() {
            self.product_id = product_id;
        }
        self.last_order_id = Some(order_id.to_owned());
        self.updated_at_ms = now_ms;
    }

    /// Records a paid upgrade order as the instance's current order.
    pub fn apply_upgrade(&mut self, order_id: &str, now_ms: i64) {
        self.last_order_id = Some(order_id.to_owned());
        self.updated_at_ms = now_ms;
    }

    pub fn move_to(&mut self, status: InstanceStatus, now_ms: i64) {
        self.status = status;
        self.updated_at_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance::claimed("i".into(), "o".into(), "l".into(), InstanceStatus::Frozen, None, 1)
    }

    #[test]
    fn refresh_sets_expiry_even_earlier_and_keeps_status() {
        let mut i = instance();
        i.apply_refresh(RefreshScene::Renewal, 2_000, None, "renew-1", 5);
        assert_eq!((i.expire_time_ms, i.status, i.trial, i.updated_at_ms), (Some(2_000), InstanceStatus::Frozen, None, 5));
        i.apply_refresh(RefreshScene::UnsubscribeRenewalPeriod, 1_000, Some("p2".into()), "unsub-1", 6);
        assert_eq!((i.expire_time_ms, i.product_id.as_deref(), i.last_order_id.as_deref()), (Some(1_000), Some("p2"), Some("unsub-1")));
        i.apply_refresh(RefreshScene::TrialToFormal, 3_000, None, "conv-1", 7);
        assert_eq!((i.trial, i.product_id.as_deref()), (Some(false), Some("p2")));
    }
}
