//! Settings: `config/default.toml` (built in), then an optional `--config` file, then
//! `KOOGATE__SECTION__KEY` environment variables. Values are checked once here, at start-up, so the
//! rest of the program can trust them; secrets are `SecretString`s and never printed.

use crate::protocol::keys::KeyType;
use crate::protocol::result::ResultCode;
use crate::provisioning::{ProvisioningMode, ProvisioningSettings};
use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::path::Path;

pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Added to nonce retention for clock differences between nodes.
pub const NONCE_CLOCK_GRACE_MS: i64 = 300_000;
/// With `security.enforce_window = "log_only"`, timestamps further off than this are still refused: the
/// replay cache could not cover them.
pub const LOG_ONLY_MAX_SKEW_MS: i64 = 86_400_000;

/// Shortest interface key accepted: catches a key split into fragments by a stray comma.
pub const MIN_KEY_CHARS: usize = 8;
/// Shortest `security.encryption_key` accepted.
pub const MIN_ENCRYPTION_KEY_CHARS: usize = 16;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub keys: KeySettings,
    pub security: SecuritySettings,
    pub limits: LimitSettings,
    pub provisioning: ProvisioningSettings,
    pub marketplace: MarketplaceSettings,
    pub webhook: WebhookSettings,
    pub jobs: JobSettings,
    pub admin: AdminSettings,
    pub v2: V2Settings,
    pub v1: V1Settings,
    pub audit: AuditSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    pub base_path: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .finish()
    }
}

/// A database URL with any password (user info or `password`/`sslpassword` parameter) replaced, for
/// logs and errors; a URL that does not parse is not shown at all.
pub fn redact_url(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
    let Ok(mut parsed) = url::Url::parse(url) else { return "<unparseable database URL>".into() };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(name, _)| name.contains("password")) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if name.contains("password") { "***".to_owned() } else { value.into_owned() };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// TOML syntax errors name the line and column only: the offending source line may hold a secret.
fn check_toml_syntax(text: &str) -> anyhow::Result<()> {
    match text.parse::<toml::Table>() {
        Ok(_) => Ok(()),
        Err(error) => {
            let offset = error.span().map_or(0, |span| span.start);
            let before = &text[..offset.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            bail!("invalid TOML at line {line}, column {column}: {}", error.message())
        }
    }
}

/// Configuration errors without the offending value (it may be a secret).
fn describe_config_error(error: config::ConfigError) -> anyhow::Error {
    match error {
        config::ConfigError::Type { key, expected, .. } => {
            anyhow::anyhow!("setting {} has the wrong type: expected {expected}", key.unwrap_or_default())
        }
        other => {
            let message = other.to_string();
            if message.contains("does not have variant constructor") {
                // serde's wording for an unknown enum value; the value itself is not repeated.
                let key = message.rsplit("for key ").next().unwrap_or_default().trim_matches('`');
                anyhow::anyhow!("setting {key} has a value that is not one of the documented choices (see config/default.toml)")
            } else {
                anyhow::anyhow!("reading the configuration: {message}")
            }
        }
    }
}

/// One key or several (rotation); deserialised from a string (comma-separated) or a list of strings.
#[derive(Debug, Clone, Default)]
pub struct KeyList(pub Vec<SecretString>);

impl KeyList {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let keys = match Raw::deserialize(deserializer)? {
            Raw::One(text) => text.split(',').map(str::to_owned).collect(),
            Raw::Many(list) => list,
        };
        Ok(KeyList(keys.into_iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).map(SecretString::from).collect()))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    pub basic: KeyList,
    pub kit: KeyList,
    pub license: KeyList,
    pub general: KeyList,
    pub v1: KeyList,
}

impl KeySettings {
    pub fn of(&self, key_type: KeyType) -> &KeyList {
        match key_type {
            KeyType::Basic => &self.basic,
            KeyType::License => &self.license,
            KeyType::Kit => &self.kit,
            KeyType::General => &self.general,
            KeyType::V1 => &self.v1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    Enforce,
    LogOnly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub timestamp_window_secs: u64,
    pub enforce_window: WindowMode,
    pub key_fallback: bool,
    #[serde(deserialize_with = "optional_secret")]
    pub encryption_key: Option<SecretString>,
}

impl SecuritySettings {
    pub fn window_ms(&self) -> i64 {
        self.timestamp_window_secs as i64 * 1000
    }

    /// How long a nonce is remembered after the later of its timestamp and its arrival: twice the window
    /// (a timestamp may be early or late) plus 10 s, plus a grace so nodes whose clocks differ a little
    /// agree. With `log_only` timestamps are not limited by the window, so nonces are kept a day and
    /// older timestamps are refused (see `LOG_ONLY_MAX_SKEW_MS`).
    pub fn nonce_retention_ms(&self) -> i64 {
        match self.enforce_window {
            WindowMode::Enforce => 2 * self.window_ms() + 10_000 + NONCE_CLOCK_GRACE_MS,
            WindowMode::LogOnly => LOG_ONLY_MAX_SKEW_MS + NONCE_CLOCK_GRACE_MS,
        }
    }
}

fn optional_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(if text.trim().is_empty() { None } else { Some(SecretString::from(text)) })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub max_body_bytes: usize,
    /// A client that has not sent a request's whole header within this time is disconnected.
    pub header_read_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketplaceSettings {
    pub api_base: String,
    pub fallback_base: String,
    pub ak: String,
    #[serde(deserialize_with = "optional_secret")]
    pub sk: Option<SecretString>,
    pub connect_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
}

impl MarketplaceSettings {
    /// The open-API base addresses, primary first; each must be https (http only for loopback).
    pub fn bases(&self) -> anyhow::Result<Vec<url::Url>> {
        let mut bases = Vec::new();
        for (name, value) in [("api_base", &self.api_base), ("fallback_base", &self.fallback_base)] {
            if value.trim().is_empty() {
                if name == "api_base" {
                    bail!("marketplace.api_base must be set");
                }
                continue;
            }
            let url = url::Url::parse(value.trim()).with_context(|| format!("marketplace.{name} is not a URL"))?;
            let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
                || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
                || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => bail!("marketplace.{name} must be an https:// address (http:// only for a loopback test platform)"),
            }
            bases.push(url);
        }
        Ok(bases)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    #[serde(deserialize_with = "optional_secret")]
    pub secret: Option<SecretString>,
    pub include_debug: bool,
    pub timeout_secs: u64,
    pub retry_horizon_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub poll_interval_ms: u64,
    pub batch: u32,
    pub lease_secs: u64,
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    pub keep_done_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    pub listen: String,
    #[serde(deserialize_with = "optional_secret")]
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V2Settings {
    pub emit_body_sign: bool,
    /// The `resultCode` of a `changeInstanceCheck` the application's change policy refuses.
    pub change_check_refuse_code: String,
}

impl V2Settings {
    /// `change_check_refuse_code` as a result code (checked at start-up to be a refusal).
    pub fn change_check_refusal(&self) -> ResultCode {
        ResultCode::parse(&self.change_check_refuse_code).unwrap_or(ResultCode::InvalidParam)
    }
}

/// The `[audit]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Audit rows older than this many days are deleted by the housekeeping task; 0 keeps them all.
    pub retention_days: u64,
}

/// The `[v1]` settings: the GET wire format of older listings (saas-v1.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V1Settings {
    /// Key size (128 or 256) the marketplace encrypts `mobilePhone`/`email` with; the other size is
    /// tried when a value does not decrypt.
    pub request_encrypt_bits: u32,
    /// Refuse calls whose `timeStamp` is further than this from the server clock, and refuse a replayed
    /// `authToken` within it; 0 = off (the marketplace documents no freshness rule for V1).
    pub max_age_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Loads the layers and validates the result.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        if let Some(path) = config_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading configuration file {}", path.display()))?;
            check_toml_syntax(&text).with_context(|| format!("configuration file {}", path.display()))?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        builder = builder.add_source(config::Environment::with_prefix("KOOGATE").prefix_separator("__").separator("__"));
        let settings: Settings = builder.build().and_then(|c| c.try_deserialize()).map_err(describe_config_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks everything that can be checked before serving; each error names the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        let base = &self.server.base_path;
        if !base.starts_with('/') || base.contains(['?', '#', ' ', '{', '}', '*']) {
            bail!("server.base_path must be a plain path starting with '/' (no ? # {{ }} * or spaces), got {base:?}");
        }
        if ["/healthz", "/readyz"].contains(&base.trim_end_matches('/')) {
            bail!("server.base_path must not be /healthz or /readyz");
        }
        if self.database.max_connections == 0 {
            bail!("database.max_connections must be at least 1");
        }
        if self.security.timestamp_window_secs == 0 {
            bail!("security.timestamp_window_secs must be at least 1");
        }
        if self.limits.max_body_bytes < 1024 {
            bail!("limits.max_body_bytes must be at least 1024");
        }
        if self.limits.header_read_timeout_secs == 0 {
            bail!("limits.header_read_timeout_secs must be at least 1");
        }
        let p = &self.provisioning;
        p.check()?;
        let needs_secret = !self.webhook.url.is_empty() || p.mode == ProvisioningMode::Webhook || !p.change_check_endpoint.is_empty();
        if !self.webhook.url.is_empty() && !is_http_url(&self.webhook.url) {
            bail!("webhook.url must be an http(s) URL");
        }
        match &self.webhook.secret {
            Some(secret) => {
                crate::webhook::signing_key(secret)?;
            }
            None if needs_secret => bail!("webhook.secret must be set (whsec_<base64>) to sign events and provisioning requests"),
            None => {}
        }
        if self.jobs.batch == 0 || self.jobs.lease_secs <= self.webhook.timeout_secs {
            bail!("jobs.batch must be at least 1 and jobs.lease_secs longer than webhook.timeout_secs");
        }
        if self.admin.token.as_ref().is_some_and(|t| t.expose_secret().chars().count() < MIN_ENCRYPTION_KEY_CHARS) {
            bail!("admin.token must have at least {MIN_ENCRYPTION_KEY_CHARS} characters");
        }
        self.marketplace.bases()?;
        if self.marketplace.max_attempts == 0 {
            bail!("marketplace.max_attempts must be at least 1");
        }
        if ResultCode::parse(&self.v2.change_check_refuse_code)
            .is_none_or(|code| matches!(code, ResultCode::Success | ResultCode::InProgress))
        {
            bail!("v2.change_check_refuse_code must be a refusal code such as 000002 (000001-000005 but 000004, or 000100-000107)");
        }
        if crate::protocol::v1::KeySize::from_bits(self.v1.request_encrypt_bits).is_none() {
            bail!("v1.request_encrypt_bits must be 128 or 256");
        }
        if !self.keys.v1.is_empty() {
            self.provisioning.check_v1_credentials()?;
        }
        for key_type in KeyType::V2_ORDER.into_iter().chain([KeyType::V1]) {
            for key in &self.keys.of(key_type).0 {
                let length = key.expose_secret().chars().count();
                if !(MIN_KEY_CHARS..=1024).contains(&length) {
                    bail!(
                        "keys.{} holds a key of {length} characters; keys must have {MIN_KEY_CHARS} to 1024 (a key containing ',' must be given as a TOML list)",
                        key_type.as_str()
                    );
                }
            }
        }
        if self.security.encryption_key.as_ref().is_some_and(|k| k.expose_secret().chars().count() < MIN_ENCRYPTION_KEY_CHARS) {
            bail!("security.encryption_key must have at least {MIN_ENCRYPTION_KEY_CHARS} characters");
        }
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let settings = Settings::load(None).unwrap();
        assert_eq!(settings.server.listen, "127.0.0.1:8080");
        assert_eq!(settings.server.base_path, "/");
        assert_eq!(settings.security.timestamp_window_secs, 60);
        assert_eq!(settings.limits.max_body_bytes, 65536);
        assert!(settings.keys.basic.is_empty());
        assert!(settings.security.encryption_key.is_none());
        assert_eq!(settings.security.nonce_retention_ms(), 430_000);
    }

    #[test]
    fn key_lists_accept_a_string_or_a_list() {
        let from_string: KeyList = serde_json::from_str("\"a, b,\"").unwrap();
        assert_eq!(from_string.0.iter().map(|k| k.expose_secret().to_owned()).collect::<Vec<_>>(), ["a", "b"]);
        let from_list: KeyList = serde_json::from_str("[\"zq-secret-value\", \"\"]").unwrap();
        assert_eq!(from_list.0.len(), 1);
        assert!(!format!("{from_list:?}").contains("zq-secret-value"), "keys must not appear in Debug output");
    }

    #[test]
    fn marketplace_bases_must_be_https_except_on_loopback() {
        let mut m = Settings::load(None).unwrap().marketplace;
        assert_eq!(m.bases().unwrap().len(), 2);
        m.api_base = "http://127.0.0.1:9000".into();
        m.fallback_base = String::new();
        assert_eq!(m.bases().unwrap().len(), 1);
        m.api_base = "http://mkt.example.com".into();
        assert!(m.bases().unwrap_err().to_string().contains("marketplace.api_base"));
        m.sk = Some("sk-value-zq".into());
        assert!(!format!("{m:?}").contains("sk-value-zq"), "the SK never appears in Debug output");
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db?sslmode=require&password=secret"), "postgres://u@h/db?sslmode=require&password=***");
        assert_eq!(redact_url("postgres://u:sec ret@h:x/db"), "<unparseable database URL>");
        assert_eq!(redact_url("sqlite:data/koogate.db"), "sqlite:data/koogate.db");
    }

    #[test]
    fn a_config_file_overrides_the_defaults_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("koogate.toml");
        std::fs::write(&path, "[server]\nbase_path = \"/saasproduce\"\n[keys]\nbasic = [\"key-one-1\", \"key-two-2\"]\n").unwrap();
        let settings = Settings::load(Some(&path)).unwrap();
        assert_eq!(settings.server.base_path, "/saasproduce");
        assert_eq!(settings.keys.basic.0.len(), 2);
        std::fs::write(&path, "[server]\nbase_path = \"saasproduce\"\n").unwrap();
        let err = Settings::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("server.base_path"), "{err}");
        assert!(Settings::load(Some(&dir.path().join("missing.toml"))).is_err());
        std::fs::write(&path, "[keys]\nbasic = \"short,keys\"\n").unwrap();
        assert!(Settings::load(Some(&path)).unwrap_err().to_string().contains("keys.basic holds a key of 5 characters"));
        std::fs::write(&path, "[server]\nbase_path = \"/a/{id}\"\n").unwrap();
        assert!(Settings::load(Some(&path)).unwrap_err().to_string().contains("server.base_path"));
        for (setting, named) in [
            ("[v2]\nchange_check_refuse_code = \"000000\"\n", "v2.change_check_refuse_code"),
            ("[v2]\nchange_check_refuse_code = \"nope\"\n", "v2.change_check_refuse_code"),
            ("[v1]\nrequest_encrypt_bits = 192\n", "v1.request_encrypt_bits"),
            ("[provisioning]\nsync_wait_ms = 5000\n", "provisioning.sync_wait_ms"),
            ("[provisioning]\nchange_check_endpoint = \"ftp://x\"\n", "provisioning.change_check_endpoint"),
            ("[keys]\nv1 = \"short\"\n", "keys.v1"),
        ] {
            std::fs::write(&path, setting).unwrap();
            let error = Settings::load(Some(&path)).unwrap_err().to_string();
            assert!(error.contains(named), "{setting}: {error}");
        }
        std::fs::write(&path, "[v2]\nchange_check_refuse_code = \"000105\"\n").unwrap();
        assert_eq!(Settings::load(Some(&path)).unwrap().v2.change_check_refuse_code, "000105");
    }

    #[test]
    fn misspelled_settings_and_unknown_choices_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("koogate.toml");
        std::fs::write(&path, "[webhook]\nretry_horizon = 5\n").unwrap();
        let error = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(error.contains("retry_horizon"), "{error}");
        std::fs::write(&path, "[webhok]\nurl = \"x\"\n").unwrap();
        assert!(format!("{:#}", Settings::load(Some(&path)).unwrap_err()).contains("webhok"));
        std::fs::write(&path, "[provisioning]\nmode = \"Webhook\"\n").unwrap();
        let error = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(error.contains("provisioning.mode") && !error.contains("Webhook"), "{error}");
    }

    #[test]
    fn configuration_errors_never_show_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("koogate.toml");
        std::fs::write(&path, "[keys]\nbasic = \"TOPSECRETKEY123\n").unwrap();
        let error = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(error.contains("line 2"), "{error}");
        assert!(!error.contains("TOPSECRETKEY123"), "{error}");
        std::fs::write(&path, "[security]\nkey_fallback = \"TOPSECRETKEY123\"\n").unwrap();
        let error = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(error.contains("security.key_fallback") && !error.contains("TOPSECRETKEY123"), "{error}");
    }
}
