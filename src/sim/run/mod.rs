//! `koogate sim run`: plays the marketplace against a production address and judges every answer as
//! the marketplace does (HTTP 200, `application/json`, a 6-character `resultCode`, `resultMsg` ≤ 255,
//! required members within their lengths, an answer within 20 s), plus koogate's stricter checks (a
//! replay is refused, a redelivered order line keeps its instance).
//!
//! Work is organised in [`Suite`]s, one file each under `suites/`: `v2-lifecycle`, `v2-debug`,
//! `v2-negative` (with the basic key) and `v1-lifecycle`, `v1-debug`, `v1-negative` (with the V1 Key,
//! also judging `Body-Sign` and the encrypted credentials); the Kit and License suites of later issues
//! will be further files implementing the same trait. Each check ends `pass`, `warn` (accepted by the
//! marketplace, but not what the spec answers) or `fail`.
//!
//! This file holds what every suite shares: the [`Target`], the [`Session`] that signs, sends, judges
//! and records, and the marketplace's checks of an answer (envelope and required members).

mod suites;

use super::report::{Check, Outcome, Report};
use crate::protocol::canonical::canonical_c1;
use crate::protocol::v2::signature::v2_sign;
use async_trait::async_trait;
use serde_json::Value;
use std::time::{Duration, Instant};

/// What `sim run` needs to know about the endpoint under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// The production address, e.g. `https://isv.example.com/saasproduce`.
    pub url: String,
    /// The key bound to the basic interfaces (基础接口); empty when only V1 is tested.
    pub key: String,
    /// The V1 Key (Key值), for the V1 suites.
    pub v1_key: Option<String>,
    /// The marketplace's limit for one answer.
    pub timeout: Duration,
    /// How long to poll `queryInstance` while an instance is still being provisioned (`000004`).
    pub provisioning_wait: Duration,
    /// A `koogate sim platform` to register the orders of the run with, so that an endpoint which calls
    /// the order query (pointed at that platform) finds them.
    pub platform: Option<String>,
    /// Keys of the other interface types (联营SaaS同步接口, License授权码交付接口), for the Kit and License
    /// suites. No such suite exists in this version yet: a given key is reported, not silently ignored.
    pub kit_key: Option<String>,
    pub license_key: Option<String>,
}

#[async_trait]
pub trait Suite: Send + Sync {
    async fn run(&self, session: &mut Session);
}

/// Every suite with its name, in the order `sim run` runs them.
pub fn suites() -> Vec<(&'static str, Box<dyn Suite>)> {
    suites::all()
}

/// Whether the target has the key a suite signs with (`v2-*`: the basic key, `v1-*`: the V1 Key).
fn has_key_for(target: &Target, suite: &str) -> bool {
    if suite.starts_with("v1") { target.v1_key.is_some() } else { !target.key.is_empty() }
}

/// Runs the suites whose name starts with `selector` (`v2` runs all V2 suites; `None` runs everything).
pub async fn run(target: Target, selector: Option<&str>) -> anyhow::Result<Report> {
    let selected: Vec<(&'static str, Box<dyn Suite>)> =
        suites().into_iter().filter(|(name, _)| selector.is_none_or(|selected| name.starts_with(selected))).collect();
    if selected.is_empty() {
        let names: Vec<&str> = suites().iter().map(|(name, _)| *name).collect();
        anyhow::bail!("no suite matches {:?}; suites: {}", selector.unwrap_or_default(), names.join(", "));
    }
    let chosen: Vec<(&'static str, Box<dyn Suite>)> = selected.into_iter().filter(|(name, _)| has_key_for(&target, name)).collect();
    if chosen.is_empty() {
        anyhow::bail!("the selected suites need a key: --key for the V2 suites, --v1-key for the V1 suites");
    }
    let mut session = Session::new(target)?;
    for (name, suite) in &chosen {
        session.scenario = name;
        suite.run(&mut session).await;
    }
    for (family, given) in [("kit", session.target.kit_key.is_some()), ("license", session.target.license_key.is_some())] {
        if given {
            session.scenario = family;
            let detail = format!("this koogate version has no {family} suite yet: the {family} interfaces were not tested");
            session.record(format!("{family} suites"), "run", "not available", Duration::ZERO, Outcome::Warn, Some(detail));
        }
    }
    Ok(Report {
        target: session.target.url.clone(),
        suites: chosen.iter().map(|(name, _)| (*name).to_owned()).collect(),
        checks: session.checks,
    })
}

/// One answer as received.
pub struct Exchange {
    pub status: Option<u16>,
    pub content_type: Option<String>,
    /// The `Body-Sign` header, which V1 answers must carry.
    pub body_sign: Option<String>,
    pub body: Vec<u8>,
    pub latency: Duration,
    pub error: Option<String>,
}

impl Exchange {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice::<Value>(&self.body).ok().filter(Value::is_object)
    }

    fn code(&self) -> Option<String> {
        self.json().and_then(|v| v.get("resultCode").and_then(Value::as_str).map(str::to_owned))
    }
}

/// What a check expects of `resultCode`.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Exactly this code.
    Code(&'static str),
    /// Any of these codes.
    AnyOf(&'static [&'static str]),
    /// Any refusal; the spec's code passes, another non-success code warns, success fails.
    Refused(&'static str),
    /// An optional interface (`upgradeInstance`, `changeInstanceCheck`): this code passes, any other
    /// (a product without the interface, a policy refusing the change) warns.
    Optional(&'static str),
}

impl Expect {
    fn describe(&self) -> String {
        match self {
            Expect::Code(code) => code.to_string(),
            Expect::AnyOf(codes) => codes.join("|"),
            Expect::Refused(code) => format!("refused ({code})"),
            Expect::Optional(code) => format!("{code} (optional)"),
        }
    }
}

pub struct Session {
    pub target: Target,
    client: reqwest::Client,
    scenario: &'static str,
    checks: Vec<Check>,
}

impl Session {
    fn new(target: Target) -> anyhow::Result<Session> {
        let client = reqwest::Client::builder().timeout(target.timeout).build()?;
        Ok(Session { target, client, scenario: "", checks: Vec::new() })
    }

    /// The production address with a fresh nonce, the current time and the signature of `body` under `key`.
    pub fn signed_url(&self, body: &[u8], key: &str) -> String {
        signed_url(&self.target.url, key, body, &fresh_nonce(), &crate::now_ms().to_string())
    }

    /// Sends `body` (sorted, compact) signed with the target's key.
    pub async fn send(&self, body: &Value) -> Exchange {
        let bytes = canonical_c1(body.as_object().expect("request bodies are JSON objects"));
        let url = self.signed_url(&bytes, &self.target.key);
        self.post(&url, bytes).await
    }

    /// Registers a real order of this run with the platform (if any) before the marketplace would call.
    async fn register_order(&mut self, order_id: &str, order_type: &'static str, expire_days: i64) {
        let Some(platform) = self.target.platform.clone() else { return };
        let order = super::platform::periodic_order(order_id, order_type, &expire_in_days(expire_days));
        let url = format!("{}/sim/orders", platform.trim_end_matches('/'));
        let result = self.client.post(&url).json(&order).send().await;
        if let Err(problem) = result.map_err(|e| e.to_string()).and_then(|r| r.error_for_status().map(drop).map_err(|e| e.to_string())) {
            self.record(
                format!("register order {order_id} with the platform"),
                "registered",
                "not registered",
                Duration::ZERO,
                Outcome::Fail,
                Some(problem),
            );
        }
    }

    pub async fn post(&self, url: &str, body: Vec<u8>) -> Exchange {
        let request = self.client.post(url).header("Content-Type", "application/json;charset=utf8").body(body);
        self.exchange(request).await
    }

    /// GETs the production address with `query` (a V1 call).
    pub async fn get(&self, query: &str) -> Exchange {
        let separator = if self.target.url.contains('?') { '&' } else { '?' };
        self.exchange(self.client.get(format!("{}{separator}{query}", self.target.url))).await
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Exchange {
        let started = Instant::now();
        let sent = request.header("Accept", "application/json").send().await;
        let mut exchange =
            Exchange { status: None, content_type: None, body_sign: None, body: Vec::new(), latency: Duration::ZERO, error: None };
        match sent {
            Ok(response) => {
                exchange.status = Some(response.status().as_u16());
                let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                exchange.content_type = header("content-type");
                exchange.body_sign = header("body-sign");
                match response.bytes().await {
                    Ok(bytes) => exchange.body = bytes.to_vec(),
                    Err(error) => exchange.error = Some(format!("reading the answer failed: {error}")),
                }
            }
            Err(error) if error.is_timeout() => exchange.error = Some(format!("no answer within {} s", self.target.timeout.as_secs())),
            Err(error) => exchange.error = Some(format!("request failed: {error}")),
        }
        exchange.latency = started.elapsed();
        exchange
    }

    /// Judges an answer and records the check; returns the parsed body when the envelope was acceptable.
    pub fn judge(&mut self, step: impl Into<String>, exchange: &Exchange, expect: Expect) -> Option<Value> {
        let step = step.into();
        let (outcome, got, detail, body) = match envelope_problem(exchange) {
            Some(problem) => (Outcome::Fail, summarize(exchange), Some(problem), None),
            None => {
                let body = exchange.json().expect("checked by envelope_problem");
                let code = body["resultCode"].as_str().unwrap_or_default().to_owned();
                let message = body.get("resultMsg").and_then(Value::as_str).unwrap_or_default();
                let got = if message.is_empty() { code.clone() } else { format!("{code} {}", shorten(message, 60)) };
                let (outcome, detail) = match expect {
                    Expect::Code(expected) if code == expected => (Outcome::Pass, None),
                    Expect::AnyOf(codes) if codes.contains(&code.as_str()) => (Outcome::Pass, None),
                    Expect::Refused(expected) if code == expected => (Outcome::Pass, None),
                    Expect::Refused(expected) if code != "000000" => {
                        (Outcome::Warn, Some(format!("refused, but the spec answers {expected}")))
                    }
                    Expect::Refused(_) => (Outcome::Fail, Some("accepted a request that must be refused".into())),
                    Expect::Optional(expected) if code == expected => (Outcome::Pass, None),
                    Expect::Optional(_) => (Outcome::Warn, Some("optional interface: fine if the product does not offer it".into())),
                    _ => (Outcome::Fail, None),
                };
                (outcome, got, detail, Some(body))
            }
        };
        let detail = detail.or_else(|| {
            (!exchange.body.is_ascii()).then(|| "answer is not ASCII-only: non-ASCII text should be sent as \\uXXXX".to_owned())
        });
        let outcome = if outcome == Outcome::Pass && detail.is_some() { Outcome::Warn } else { outcome };
        self.record(step, expect.describe(), got, exchange.latency, outcome, detail);
        body
    }

    /// Records a check that is not about one answer's envelope (idempotency, field contents …).
    pub fn record(
        &mut self,
        step: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
        latency: Duration,
        outcome: Outcome,
        detail: Option<String>,
    ) {
        self.checks.push(Check {
            scenario: self.scenario.to_owned(),
            step: step.into(),
            expected: expected.into(),
            got: got.into(),
            latency_ms: latency.as_millis() as u64,
            outcome,
            detail,
        });
    }

    /// Sends, judges, and on success checks the activity's required answer members.
    async fn step(&mut self, step: &str, body: Value, expect: Expect) -> Option<Value> {
        let exchange = self.send(&body).await;
        let answer = self.judge(step, &exchange, expect)?;
        if let Some(problem) = member_problem(&body, &answer) {
            self.record(format!("{step}: answer members"), "within spec", problem.clone(), Duration::ZERO, Outcome::Fail, Some(problem));
        }
        Some(answer)
    }
}

/// The marketplace's checks of any answer; `None` when they all hold.
fn envelope_problem(exchange: &Exchange) -> Option<String> {
    if let Some(error) = &exchange.error {
        return Some(error.clone());
    }
    if exchange.status != Some(200) {
        return Some(format!("HTTP status {} (only 200 counts as success)", exchange.status.unwrap_or_default()));
    }
    let essence = exchange.content_type.as_deref().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence != "application/json" {
        return Some(format!("Content-Type is {:?}, must be application/json", exchange.content_type.as_deref().unwrap_or("missing")));
    }
    let Some(body) = exchange.json() else { return Some("body is not a JSON object".into()) };
    match body.get("resultCode") {
        Some(Value::String(code)) if code.len() == 6 => {}
        Some(other) => return Some(format!("resultCode must be a 6-character string, got {other}")),
        None => return Some("resultCode is missing".into()),
    }
    match body.get("resultMsg") {
        None | Some(Value::Null) => {}
        Some(Value::String(message)) if message.chars().count() <= 255 => {}
        Some(_) => return Some("resultMsg must be a string of at most 255 characters".into()),
    }
    None
}

/// Required members of successful answers and their documented lengths (saas-v2.md §3, §4).
fn member_problem(request: &Value, answer: &Value) -> Option<String> {
    let code = answer["resultCode"].as_str().unwrap_or_default();
    let too_long = |value: &Value, name: &str, max: usize| value.get(name).and_then(Value::as_str).is_some_and(|s| s.chars().count() > max);
    match request["activity"].as_str() {
        Some("newInstance") if code == "000000" || code == "000004" => match answer.get("instanceId").and_then(Value::as_str) {
            None | Some("") => Some("instanceId is missing".into()),
            Some(id) if id.chars().count() > 64 => Some("instanceId exceeds 64 characters".into()),
            _ => None,
        },
        Some("queryInstance") if code == "000000" => {
            let Some(info) = answer.get("info").and_then(Value::as_array) else { return Some("info is missing".into()) };
            for entry in info {
                if entry.get("instanceId").and_then(Value::as_str).is_none_or(|id| id.is_empty() || id.chars().count() > 64) {
                    return Some("an info entry lacks a valid instanceId".into());
                }
                if let Some(app) = entry.get("appInfo").filter(|a| !a.is_null()) {
                    if app.get("frontEndUrl").and_then(Value::as_str).is_none_or(str::is_empty) {
                        return Some("appInfo.frontEndUrl is missing".into());
                    }
                    for (name, max) in [("frontEndUrl", 512), ("adminUrl", 512), ("userName", 128), ("password", 128), ("memo", 1024)] {
                        if too_long(app, name, max) {
                            return Some(format!("appInfo.{name} exceeds {max} characters"));
                        }
                    }
                }
                for usage in entry.get("usageInfo").and_then(Value::as_array).into_iter().flatten() {
                    if usage.get("usageValue").is_none_or(Value::is_null) || usage.get("statisticalTime").is_none_or(Value::is_null) {
                        return Some("usageInfo entries need usageValue and statisticalTime".into());
                    }
                }
            }
            None
        }
        _ => None,
    }
}

fn summarize(exchange: &Exchange) -> String {
    if let Some(error) = &exchange.error {
        return shorten(error, 60);
    }
    let status = exchange.status.map(|s| format!("HTTP {s}")).unwrap_or_default();
    match exchange.code() {
        Some(code) => format!("{status} {code}"),
        None => format!("{status} {}", shorten(&String::from_utf8_lossy(&exchange.body), 40)),
    }
}

fn shorten(text: &str, max: usize) -> String {
    let single_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if single_line.chars().count() <= max { single_line } else { format!("{}…", single_line.chars().take(max).collect::<String>()) }
}

pub fn signed_url(base: &str, key: &str, body: &[u8], nonce: &str, timestamp: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}signature={}&timestamp={timestamp}&nonce={nonce}", v2_sign(key, nonce, timestamp, body))
}

/// A V1 query: `params` and `timeStamp` form-encoded as the marketplace sends them, then `authToken`
/// over the decoded parameters (signing.md (c)).
pub fn signed_v1_query<N: AsRef<str>>(params: &[(N, String)], key: &str, time_stamp: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(name, value)| (name.as_ref(), value.as_str())).collect();
    pairs.push((crate::protocol::v1::TIME_STAMP, time_stamp));
    let token = crate::protocol::v1::compute_auth_token(key, time_stamp, &crate::protocol::v1::string_to_sign(pairs.iter().copied()));
    let form = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let mut query: Vec<String> = pairs.iter().map(|(name, value)| format!("{name}={}", form(value))).collect();
    query.push(format!("authToken={}", form(&token)));
    query.join("&")
}

/// The current time as V1 `timeStamp` (UTC `yyyyMMddHHmmssSSS`).
pub fn v1_time_stamp() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S%3f").to_string()
}

pub fn fresh_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A UTC `yyyyMMddHHmmss` `days` from now.
fn expire_in_days(days: i64) -> String {
    crate::domain::utc_compact(crate::now_ms() + days * 86_400_000)
}
