//! Producing a new instance's `appInfo` (addresses and initial credentials).
//!
//! This is the seam for provisioning: today the built-in [`TemplateProvisioner`] renders the configured
//! templates and answers at once (`000000`). Asynchronous provisioning by the merchant's application
//! implements [`Provisioner`] too and answers [`Provisioned::Pending`], which the `newInstance` handler
//! turns into status `provisioning` and `000004`.

use crate::crypto::Sealer;
use crate::domain::{AppInfo, StoredAppInfo};
use crate::protocol::v1::fits_credential_field;
use anyhow::bail;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

/// `provisioning.mode`: koogate renders the app info itself (`template`), or the merchant's application
/// provisions each instance (`webhook`, see `crate::jobs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningMode {
    Template,
    Webhook,
}

/// The `[provisioning]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningSettings {
    pub mode: ProvisioningMode,
    pub endpoint: String,
    pub horizon_secs: u64,
    /// How long `newInstance` waits for the application before answering `000004` (webhook mode);
    /// 0 = always asynchronous.
    pub sync_wait_ms: u64,
    /// The application's change policy for `changeInstanceCheck`; "" = every live instance may change.
    pub change_check_endpoint: String,
    pub front_end_url: String,
    pub admin_url: String,
    pub user_name: String,
    pub password_length: usize,
    pub memo: String,
}

impl ProvisioningSettings {
    /// Start-up checks: the password length, the templates (see [`check_templates`]), the endpoint.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.sync_wait_ms > 4000 {
            bail!("provisioning.sync_wait_ms must be at most 4000: newInstance is answered within 4.5 s");
        }
        if !(12..=128).contains(&self.password_length) {
            bail!("provisioning.password_length must be between 12 and 128");
        }
        check_templates(self)?;
        let is_http_url =
            |text: &str| url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
        if self.mode == ProvisioningMode::Webhook && !is_http_url(&self.endpoint) {
            bail!("provisioning.endpoint must be an http(s) URL when provisioning.mode = \"webhook\"");
        }
        if !self.change_check_endpoint.is_empty() && !is_http_url(&self.change_check_endpoint) {
            bail!("provisioning.change_check_endpoint must be an http(s) URL (or \"\" to allow every change)");
        }
        Ok(())
    }

    /// With V1 enabled, the credentials are sent AES-encrypted, and each encrypted field (a 16-character
    /// IV, then Base64) must fit the marketplace's 128 characters: checked for the longest password and
    /// the user name rendered with 64-character IDs.
    pub fn check_v1_credentials(&self) -> anyhow::Result<()> {
        let longest = "x".repeat(64);
        let worst = ProvisionRequest { instance_id: &longest, order_id: &longest, order_line_id: &longest };
        if !fits_credential_field(self.password_length) {
            bail!(
                "provisioning.password_length is too long for V1: encrypted, a password of at most 79 characters fits the marketplace's 128"
            );
        }
        if !fits_credential_field(render(&self.user_name, &worst).len()) {
            bail!("provisioning.user_name can be too long for V1: encrypted, at most 79 bytes fit the marketplace's 128 characters");
        }
        Ok(())
    }
}

/// What the marketplace knows about the order line being provisioned.
#[derive(Debug, Clone)]
pub struct ProvisionRequest<'a> {
    pub instance_id: &'a str,
    pub order_id: &'a str,
    pub order_line_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioned {
    /// Ready now; `None` when the buyer receives credentials another way.
    Ready(Option<StoredAppInfo>),
    /// The application will provision it later.
    Pending,
}

pub trait Provisioner: Send + Sync + 'static {
    fn provision(&self, request: &ProvisionRequest<'_>) -> Provisioned;
    /// The `appInfo` a debug `queryInstance` answers for a made-up instance ID: the configured shape,
    /// the same every time for the same ID, never a real instance's credentials.
    fn debug_app_info(&self, instance_id: &str) -> Option<AppInfo>;
}

/// Provisioning one instance now, inside the marketplace's call: webhook mode's synchronous path
/// (saas-v2.md §3: done within the budget → `000000`). The application is asked exactly as the
/// provisioning job asks it, and the job stays queued as the fallback.
#[async_trait::async_trait]
pub trait ProvisionNow: Send + Sync {
    /// Asks the application and records its answer; failures are left to the job (logged only).
    async fn provision_now(&self, instance_id: &str);
}

/// The application's answer to a renewal to another spec (`changeInstanceCheck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeVerdict {
    Allowed,
    /// Refused, with the application's reason (answered as `resultMsg`).
    Refused(String),
    /// The application could not be asked (unreachable, no valid answer): answered `000005`.
    Unavailable(String),
}

/// The application's change policy, asked before `changeInstanceCheck` is answered.
#[async_trait::async_trait]
pub trait ChangePolicy: Send + Sync {
    async fn check_change(&self, instance: &crate::domain::Instance, product: &serde_json::Value) -> ChangeVerdict;
}

/// Renders `provisioning.*` templates and generates a random initial password, stored sealed.
pub struct TemplateProvisioner {
    settings: ProvisioningSettings,
    sealer: Sealer,
}

impl TemplateProvisioner {
    pub fn new(settings: ProvisioningSettings, sealer: Sealer) -> Self {
        TemplateProvisioner { settings, sealer }
    }
}

impl Provisioner for TemplateProvisioner {
    fn provision(&self, request: &ProvisionRequest<'_>) -> Provisioned {
        let s = &self.settings;
        if s.front_end_url.is_empty() {
            return Provisioned::Ready(None);
        }
        let optional = |template: &str| (!template.is_empty()).then(|| render(template, request));
        let user_name = optional(&s.user_name);
        let password_sealed = user_name
            .as_ref()
            .map(|_| self.sealer.seal(&generate_password(&mut rand::rngs::OsRng, s.password_length), request.instance_id));
        Provisioned::Ready(Some(StoredAppInfo {
            front_end_url: render_url(&s.front_end_url, request),
            admin_url: (!s.admin_url.is_empty()).then(|| render_url(&s.admin_url, request)),
            user_name,
            password_sealed,
            memo: optional(&s.memo),
        }))
    }

    fn debug_app_info(&self, instance_id: &str) -> Option<AppInfo> {
        let s = &self.settings;
        if s.front_end_url.is_empty() {
            return None;
        }
        let request = ProvisionRequest { instance_id, order_id: "debug", order_line_id: "debug" };
        let optional = |template: &str| (!template.is_empty()).then(|| render(template, &request));
        let user_name = optional(&s.user_name);
        let password = user_name.as_ref().map(|_| {
            // Deterministic per ID (a seeded generator), yet as strong in form as a real password.
            let seed = self.sealer.derive(format!("debug password {instance_id}").as_bytes());
            generate_password(&mut rand::rngs::StdRng::from_seed(seed), s.password_length)
        });
        Some(AppInfo {
            front_end_url: render_url(&s.front_end_url, &request),
            admin_url: (!s.admin_url.is_empty()).then(|| render_url(&s.admin_url, &request)),
            user_name,
            password,
            memo: optional(&s.memo),
        })
    }
}

/// `provisioning.mode = "webhook"`: the merchant's application provisions (see `crate::jobs`); debug
/// calls are still answered from the templates.
pub struct WebhookProvisioner {
    pub templates: TemplateProvisioner,
}

impl Provisioner for WebhookProvisioner {
    fn provision(&self, _: &ProvisionRequest<'_>) -> Provisioned {
        Provisioned::Pending
    }

    fn debug_app_info(&self, instance_id: &str) -> Option<AppInfo> {
        self.templates.debug_app_info(instance_id)
    }
}

const PLACEHOLDERS: [&str; 3] = ["{instanceId}", "{orderId}", "{orderLineId}"];

fn render(template: &str, request: &ProvisionRequest<'_>) -> String {
    template
        .replace("{instanceId}", request.instance_id)
        .replace("{orderId}", request.order_id)
        .replace("{orderLineId}", request.order_line_id)
}

/// As [`render`], for URL templates: the IDs are percent-encoded so they always stay one path segment or
/// query value (debug calls carry made-up IDs with any characters).
fn render_url(template: &str, request: &ProvisionRequest<'_>) -> String {
    const UNRESERVED_KEPT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let encode = |id: &str| percent_encoding::utf8_percent_encode(id, UNRESERVED_KEPT).to_string();
    let (instance_id, order_id, order_line_id) = (encode(request.instance_id), encode(request.order_id), encode(request.order_line_id));
    render(template, &ProvisionRequest { instance_id: &instance_id, order_id: &order_id, order_line_id: &order_line_id })
}

/// Characters a value takes in koogate's ASCII-only answers (each non-ASCII UTF-16 unit is `\uXXXX`),
/// the reading of the marketplace's limits that can never be exceeded.
pub fn wire_length(value: &str) -> usize {
    value.chars().map(|c| if c.is_ascii() { 1 } else { 6 * c.len_utf16() }).sum()
}

/// Start-up check: only known placeholders, and every rendered value within the marketplace's limits
/// even for the longest (64-character) IDs.
fn check_templates(settings: &ProvisioningSettings) -> anyhow::Result<()> {
    let longest = "x".repeat(64);
    let worst = ProvisionRequest { instance_id: &longest, order_id: &longest, order_line_id: &longest };
    for (name, template, max) in [
        ("front_end_url", &settings.front_end_url, 512),
        ("admin_url", &settings.admin_url, 512),
        ("user_name", &settings.user_name, 128),
        ("memo", &settings.memo, 1024),
    ] {
        let mut rest = template.clone();
        for placeholder in PLACEHOLDERS {
            rest = rest.replace(placeholder, "");
        }
        if let Some(start) = rest.find('{') {
            bail!("provisioning.{name} has an unknown placeholder near {:?}; use {}", &rest[start..], PLACEHOLDERS.join(" "));
        }
        if wire_length(&render(template, &worst)) > max {
            bail!("provisioning.{name} can exceed the marketplace's limit of {max} characters");
        }
    }
    if settings.front_end_url.is_empty() && !(settings.admin_url.is_empty() && settings.user_name.is_empty() && settings.memo.is_empty()) {
        bail!("provisioning.front_end_url is required when admin_url, user_name or memo is set (frontEndUrl is mandatory in appInfo)");
    }
    Ok(())
}

// Look-alike characters (l, 1, I, O, 0) are left out: buyers type these passwords.
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#%+-=@^_~";
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%+-=@^_~";

/// A random password from a CSPRNG with at least one lower-case letter, upper-case letter, digit and symbol.
pub fn generate_password(rng: &mut impl Rng, length: usize) -> String {
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())];
    let mut chars = vec![pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
    while chars.len() < length.max(4) {
        chars.push(pick(PASSWORD_ALPHABET));
    }
    chars.shuffle(rng);
    String::from_utf8(chars).expect("password characters are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};

    fn settings() -> ProvisioningSettings {
        ProvisioningSettings {
            mode: ProvisioningMode::Template,
            endpoint: String::new(),
            horizon_secs: 10800,
            sync_wait_ms: 3000,
            change_check_endpoint: String::new(),
            front_end_url: "https://app.example.com/t/{instanceId}".into(),
            admin_url: "https://admin.example.com/{orderId}/{orderLineId}".into(),
            user_name: "admin".into(),
            password_length: 20,
            memo: "".into(),
        }
    }

    #[test]
    fn renders_templates_and_seals_a_fresh_password() {
        let sealer = Sealer::new(&SecretString::from("s"));
        let provisioner = TemplateProvisioner::new(settings(), sealer.clone());
        let request = ProvisionRequest { instance_id: "i-1", order_id: "o-1", order_line_id: "o-1-1" };
        let Provisioned::Ready(Some(info)) = provisioner.provision(&request) else { panic!("expected app info") };
        assert_eq!(info.front_end_url, "https://app.example.com/t/i-1");
        assert_eq!(info.admin_url.as_deref(), Some("https://admin.example.com/o-1/o-1-1"));
        assert_eq!(info.memo, None);
        let password = sealer.open(info.password_sealed.as_deref().unwrap(), "i-1").unwrap();
        assert_eq!(password.expose_secret().len(), 20);
        let Provisioned::Ready(Some(again)) = provisioner.provision(&request) else { panic!() };
        assert_ne!(sealer.open(again.password_sealed.as_deref().unwrap(), "i-1").unwrap().expose_secret(), password.expose_secret());
    }

    #[test]
    fn no_front_end_url_means_no_app_info() {
        let mut s = settings();
        s.front_end_url.clear();
        s.admin_url.clear();
        s.user_name.clear();
        let provisioner = TemplateProvisioner::new(s, Sealer::new(&SecretString::from("s")));
        let request = ProvisionRequest { instance_id: "i", order_id: "o", order_line_id: "l" };
        assert_eq!(provisioner.provision(&request), Provisioned::Ready(None));
    }

    #[test]
    fn debug_app_info_is_deterministic_per_id() {
        let provisioner = TemplateProvisioner::new(settings(), Sealer::new(&SecretString::from("s")));
        let a = provisioner.debug_app_info("made-up-1").unwrap();
        assert_eq!(a, provisioner.debug_app_info("made-up-1").unwrap());
        assert_eq!(a.front_end_url, "https://app.example.com/t/made-up-1");
        let odd = provisioner.debug_app_info("it's/../x").unwrap();
        assert_eq!(odd.front_end_url, "https://app.example.com/t/it%27s%2F..%2Fx", "IDs stay one path segment");
        assert_eq!(a.password.as_ref().unwrap().len(), 20);
        let mut long = settings();
        long.password_length = 100;
        let long = TemplateProvisioner::new(long, Sealer::new(&SecretString::from("s"))).debug_app_info("x").unwrap().password.unwrap();
        assert_eq!(long.len(), 100);
        assert_ne!(&long[..32], &long[32..64], "no repeating seed");
        assert_ne!(a.password, provisioner.debug_app_info("made-up-2").unwrap().password);
    }

    #[test]
    fn passwords_mix_character_classes() {
        for _ in 0..200 {
            let password = generate_password(&mut rand::rngs::OsRng, 12);
            assert_eq!(password.len(), 12);
            assert!(password.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(password.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(password.bytes().any(|b| b.is_ascii_digit()));
            assert!(password.bytes().any(|b| !b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn v1_credentials_must_fit_128_characters_encrypted() {
        let mut s = settings();
        assert!(s.check_v1_credentials().is_ok());
        s.password_length = 79;
        assert!(s.check_v1_credentials().is_ok());
        s.password_length = 80;
        assert!(s.check_v1_credentials().unwrap_err().to_string().contains("password_length"));
        let mut s = settings();
        s.user_name = "{instanceId}-admin".into();
        assert!(s.check_v1_credentials().is_ok());
        s.user_name = "{instanceId}{orderId}".into();
        assert!(s.check_v1_credentials().unwrap_err().to_string().contains("user_name"));
    }

    #[test]
    fn templates_are_checked() {
        let mut s = settings();
        s.front_end_url = "https://x/{tenant}".into();
        assert!(check_templates(&s).unwrap_err().to_string().contains("provisioning.front_end_url"));
        let mut s = settings();
        // Fits with short IDs, not with 64-character ones.
        s.front_end_url = format!("https://x/{}/{{instanceId}}", "a".repeat(450));
        assert!(check_templates(&s).unwrap_err().to_string().contains("512"));
        let mut s = settings();
        s.front_end_url.clear();
        assert!(check_templates(&s).unwrap_err().to_string().contains("front_end_url is required"));
        assert!(check_templates(&settings()).is_ok());
        let mut s = settings();
        s.memo = "中".repeat(171);
        assert!(check_templates(&s).unwrap_err().to_string().contains("provisioning.memo"), "counted as sent: \\uXXXX per character");
    }
}
