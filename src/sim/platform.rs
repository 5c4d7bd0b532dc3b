//! `koogate sim platform`: a local stand-in for the marketplace's open APIs — order query
//! (open-api.md §2), usage push new and old (§3–§5) and the License 2.0 APIs (license.md §2).
//!
//! Why it exists: koogate's clients for these APIs can otherwise only be exercised against the real
//! marketplace, with real credentials and real orders. This stand-in answers the same paths on a local
//! port, checks AK/SK signatures (signing.md (f)) and the usage-push signature (signing.md (g)) as
//! strictly as the API gateway does, and keeps every call it received so tests can assert on exactly
//! what a client sent. [`PlatformState::fail_next`] injects gateway errors to exercise retries and host
//! failover.
//!
//! Order of work for one API call: read the body (at most 12 MB, the gateway's limit) → injected failure,
//! if one is pending → route (unknown path or method: 404 `APIGW.0101`) → authenticate (AK/SK, or the
//! body signature for the new usage push) → validate and answer → record the call. Control routes under
//! `/sim/` are unauthenticated, never fail on purpose and are not recorded.
//!
//! Where the documentation is silent the choice is marked "our choice" below. Every answer is JSON.

use crate::domain::{parse_expire_time, utc_compact};
use crate::protocol::apig::{Authorization, DATE_FORMAT, SignedRequest};
use crate::protocol::usage_sign::usage_push_matches;
use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::marketplace::{
    LICENSE_ACTIVATE_V1_PATH as ACTIVATE_V1, LICENSE_ACTIVATE_V2_PATH as ACTIVATE_V2, LICENSE_HEARTBEAT_V1_PATH as HEARTBEAT_V1,
    LICENSE_HEARTBEAT_V2_PATH as HEARTBEAT_V2, LICENSE_SOFTWARE_USAGE_PATH as SOFTWARE_USAGE, ORDER_QUERY_PATH as ORDER_QUERY,
    USAGE_PUSH_OLD_PATH as USAGE_PUSH_OLD, USAGE_PUSH_PATH as USAGE_PUSH,
};

/// The gateway's request-entity limit (APIG error table: "Request entity too large", 12 MB).
const MAX_BODY: usize = 12 * 1024 * 1024;
/// How far `X-Sdk-Date` and the usage push's `ts` may be from our clock (APIG: 15 minutes).
const CLOCK_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Records per usage push (open-api.md §3).
const MAX_USAGE_RECORDS: usize = 1000;
/// Codes per License batch call and entries per usage list (license.md §2).
const MAX_LICENSE_BATCH: usize = 100;
/// Validity of an activated License code, from its effective time. Our choice: one year.
const LICENSE_VALIDITY_MS: i64 = 365 * 24 * 60 * 60 * 1000;
/// `product_id` / `order_id` reported for activated codes. Our choice: the sim knows no real orders.
const LICENSE_PRODUCT_ID: &str = "sim-license-product";
const LICENSE_ORDER_ID: &str = "SIMLICENSEORDER";

/// Credentials the platform checks callers against.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// The merchant's access key (`Access=` of the `Authorization` header).
    pub ak: String,
    /// The secret key that AK/SK signatures are verified with.
    pub sk: SecretString,
    /// Key verifying the new usage push (signing.md (g)); `None` = such pushes are refused with `MKT.0102`.
    pub usage_key: Option<SecretString>,
}

/// One call received on an API path (not on a `/sim/` control route), as answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceivedCall {
    /// Arrival time, Unix milliseconds.
    pub at_ms: i64,
    /// `order_query`, `usage_push`, `usage_push_old`, `license_activate`, `license_heartbeat`,
    /// `license_usage`, or `unknown` for a path no API is published on.
    pub api: String,
    pub method: String,
    pub path: String,
    /// The raw query string, empty when there was none.
    pub query: String,
    /// The request body parsed as JSON; `Null` when it was not JSON (or empty).
    pub body: Value,
    /// Whether the caller's signature (AK/SK, or the usage-push body signature) was verified.
    pub authenticated: bool,
    pub status: u16,
    pub answer: Value,
}

/// A usage record accepted by either usage push, as kept by the platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeptUsageRecord {
    pub at_ms: i64,
    /// `usage_push` or `usage_push_old`.
    pub api: String,
    pub record: Value,
    /// Another record with the same (`instance_id`, `begin_time`, `end_time`) came first: the
    /// marketplace processes only the first one (open-api.md §5).
    pub duplicate: bool,
}

/// The platform's memory, shared by its handlers; cheap to clone.
#[derive(Clone)]
pub struct PlatformState(Arc<Shared>);

struct Shared {
    config: PlatformConfig,
    data: Mutex<Data>,
}

#[derive(Default)]
struct Data {
    /// Orders served by order query, by `orderId`.
    orders: HashMap<String, Value>,
    received: Vec<ReceivedCall>,
    /// Injected failures still to answer: (remaining calls, HTTP status).
    failures: Option<(usize, u16)>,
    /// Activated License codes.
    licenses: HashMap<String, License>,
    usage: Vec<KeptUsageRecord>,
    /// (`instance_id`, `begin_time`, `end_time`) of every usage record kept.
    usage_keys: HashSet<(String, String, String)>,
}

/// An activated License code.
struct License {
    activated_ms: i64,
    /// `real_effect_time` when given, else the activation time.
    effect_ms: i64,
}

impl License {
    fn expire_ms(&self) -> i64 {
        self.effect_ms.saturating_add(LICENSE_VALIDITY_MS)
    }

    fn status(&self, now_ms: i64) -> &'static str {
        if now_ms > self.expire_ms() { "EXPIRED" } else { "ALIVE" }
    }

    /// The v1 activate answer's `license_code_info`: a JSON *string* (license.md §2.1).
    fn code_info(&self, now_ms: i64) -> String {
        json!({
            "status": self.status(now_ms),
            "expire_time": utc_compact(self.expire_ms()),
            "product_id": LICENSE_PRODUCT_ID,
            "amount": 1,
            "order_id": LICENSE_ORDER_ID,
        })
        .to_string()
    }

    /// The heartbeat answer's `data` (license.md §2.2); `expire_time` is our addition.
    fn heartbeat(&self, code: &str, now_ms: i64) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("license_code".into(), code.into());
        data.insert("status".into(), self.status(now_ms).into());
        data.insert("activate_time".into(), utc_compact(self.activated_ms).into());
        data.insert("expire_time".into(), utc_compact(self.expire_ms()).into());
        data
    }
}

impl PlatformState {
    /// A platform serving the nine [`mock_orders`], with no License code activated yet.
    pub fn new(config: PlatformConfig) -> PlatformState {
        let mut data = Data::default();
        for order in mock_orders() {
            if let Some(id) = order.get("orderId").and_then(Value::as_str) {
                data.orders.insert(id.to_owned(), order.clone());
            }
        }
        PlatformState(Arc::new(Shared { config, data: Mutex::new(data) }))
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.0.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `order` (an `orderInfo` object) from order query, replacing an order with the same `orderId`.
    pub fn add_order(&self, order: Value) -> Result<(), String> {
        let id = order.get("orderId").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_owned);
        let Some(id) = id else {
            return Err("an order must be a JSON object with a non-empty string orderId".into());
        };
        self.data().orders.insert(id, order);
        Ok(())
    }

    /// Every API call received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedCall> {
        self.data().received.clone()
    }

    /// The IDs of every order served (mock orders and added ones), sorted.
    pub fn order_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.data().orders.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every usage record accepted so far, in arrival order, duplicates marked.
    pub fn usage_records(&self) -> Vec<KeptUsageRecord> {
        self.data().usage.clone()
    }

    /// The next `count` API calls answer HTTP `status` with a gateway-style error, before any other
    /// processing. Replaces a pending injection; `count` 0 cancels it.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.data().failures = (count > 0).then_some((count, status));
    }

    fn take_failure(&self) -> Option<u16> {
        let mut data = self.data();
        let (remaining, status) = data.failures?;
        data.failures = (remaining > 1).then_some((remaining - 1, status));
        Some(status)
    }
}

/// The platform's routes, for `koogate sim platform --listen ADDR`.
pub fn router(state: PlatformState) -> Router {
    // One dispatcher instead of axum routes, so that unknown paths and methods get the gateway's JSON
    // answer and injected failures come before routing.
    Router::new().fallback(dispatch).with_state(state)
}

/// A running platform, serving on a local port until [`Platform::stop`] (or until it is dropped).
pub struct Platform {
    state: PlatformState,
    address: SocketAddr,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl Platform {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and serves in a tokio task.
    pub async fn start(config: PlatformConfig, listen: &str) -> anyhow::Result<Platform> {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr().context("cannot read the bound address")?;
        let state = PlatformState::new(config);
        let app = router(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // Dropping the sender (dropping the Platform) stops the server as well.
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "the simulated platform stopped serving");
            }
        });
        Ok(Platform { state, address, shutdown, server })
    }

    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves `order` (an `orderInfo` object) from order query.
    ///
    /// # Panics
    /// If `order` has no non-empty string `orderId`: a broken test fixture.
    pub fn add_order(&self, order: Value) {
        if let Err(problem) = self.state.add_order(order) {
            panic!("Platform::add_order: {problem}");
        }
    }

    /// Every API call received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedCall> {
        self.state.received()
    }

    /// The IDs of every order served, sorted.
    pub fn order_ids(&self) -> Vec<String> {
        self.state.order_ids()
    }

    /// Every usage record accepted so far, duplicates marked.
    pub fn usage_records(&self) -> Vec<KeptUsageRecord> {
        self.state.usage_records()
    }

    /// See [`PlatformState::fail_next`].
    pub fn fail_next(&self, count: usize, status: u16) {
        self.state.fail_next(count, status);
    }

    /// Stops accepting connections and waits (at most 5 s) for calls in progress.
    pub async fn stop(self) {
        let Platform { shutdown, mut server, .. } = self;
        let _ = shutdown.send(());
        if tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err() {
            server.abort();
        }
    }
}

/// The published APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    OrderQuery,
    UsagePush,
    UsagePushOld,
    Activate(Version),
    Heartbeat(Version),
    SoftwareUsage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Api {
    /// The API published on `path`, and its method.
    fn route(path: &str) -> Option<(Api, Method)> {
        let api = match path {
            ORDER_QUERY => return Some((Api::OrderQuery, Method::GET)),
            USAGE_PUSH => Api::UsagePush,
            USAGE_PUSH_OLD => Api::UsagePushOld,
            ACTIVATE_V1 => Api::Activate(Version::V1),
            ACTIVATE_V2 => Api::Activate(Version::V2),
            HEARTBEAT_V1 => Api::Heartbeat(Version::V1),
            HEARTBEAT_V2 => Api::Heartbeat(Version::V2),
            SOFTWARE_USAGE => Api::SoftwareUsage,
            _ => return None,
        };
        Some((api, Method::POST))
    }

    fn name(self) -> &'static str {
        match self {
            Api::OrderQuery => "order_query",
            Api::UsagePush => "usage_push",
            Api::UsagePushOld => "usage_push_old",
            Api::Activate(_) => "license_activate",
            Api::Heartbeat(_) => "license_heartbeat",
            Api::SoftwareUsage => "license_usage",
        }
    }
}

/// An answer, kept as JSON so the call record holds exactly what was sent.
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn new(status: StatusCode, body: Value) -> Answer {
        Answer { status, body }
    }

    /// The API gateway's own error shape.
    fn gateway(status: StatusCode, code: &str, message: &str) -> Answer {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        Answer::new(status, json!({ "error_code": code, "error_msg": message, "request_id": request_id }))
    }

    /// The usage and License APIs' envelope.
    fn market(status: StatusCode, code: &str, message: &str) -> Answer {
        Answer::new(status, json!({ "error_code": code, "error_msg": message }))
    }

    fn not_found() -> Answer {
        Answer::gateway(StatusCode::NOT_FOUND, "APIGW.0101", "The API does not exist or has not been published in the environment")
    }

    /// The answer to an injected failure. Codes and messages follow the APIG error table where it has
    /// the status; our choice for the others: `APIGW.0201` (4xx) and `APIGW.0202` (5xx).
    fn injected(status: u16) -> Answer {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (code, message) = match status.as_u16() {
            401 => ("APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"),
            404 => ("APIGW.0101", "The API does not exist or has not been published in the environment"),
            413 => ("APIGW.0201", "Request entity too large"),
            429 => ("APIGW.0308", "The throttling threshold has been reached"),
            504 => ("APIGW.0203", "Backend timeout"),
            400..=499 => ("APIGW.0201", "API request error"),
            _ => ("APIGW.0202", "Backend unavailable"),
        };
        Answer::gateway(status, code, message)
    }

    fn into_response(self) -> Response {
        (self.status, [(header::CONTENT_TYPE, "application/json")], self.body.to_string()).into_response()
    }
}

async fn dispatch(State(state): State<PlatformState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path() == "/sim" || parts.uri.path().starts_with("/sim/") {
        return control(&state, &parts, body).await.into_response();
    }
    let now_ms = crate::now_ms();
    let route = Api::route(parts.uri.path());
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let (authenticated, answer) = match state.take_failure() {
        Some(status) => (false, Answer::injected(status)),
        None => state.answer(route.as_ref(), &parts, body.as_ref().ok(), now_ms),
    };
    let call = ReceivedCall {
        at_ms: now_ms,
        api: route.map_or("unknown", |(api, _)| api.name()).to_owned(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        body: body.ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or(Value::Null),
        authenticated,
        status: answer.status.as_u16(),
        answer: answer.body.clone(),
    };
    tracing::info!(api = %call.api, status = call.status, authenticated, "simulated platform call");
    state.data().received.push(call);
    answer.into_response()
}

impl PlatformState {
    /// Routes, authenticates and answers one API call; the flag says whether the caller was authenticated.
    fn answer(&self, route: Option<&(Api, Method)>, parts: &Parts, body: Option<&Bytes>, now_ms: i64) -> (bool, Answer) {
        let Some(&(api, ref method)) = route else {
            return (false, Answer::not_found());
        };
        if parts.method != *method {
            return (false, Answer::gateway(StatusCode::NOT_FOUND, "APIGW.0101", "The API does not exist"));
        }
        let Some(body) = body else {
            return (false, Answer::gateway(StatusCode::PAYLOAD_TOO_LARGE, "APIGW.0201", "Request entity too large"));
        };
        let authenticated = match api {
            Api::UsagePush => self.verify_usage_signature(&parts.headers, body, now_ms),
            _ => self.verify_aksk(parts, body, now_ms).map_err(AuthFailure::answer),
        };
        if let Err(refusal) = authenticated {
            return (false, refusal);
        }
        let answer = match api {
            Api::OrderQuery => self.order_query(parts.uri.query()),
            Api::UsagePush => self.usage_push(api, body, NEW_USAGE_FIELDS, now_ms),
            Api::UsagePushOld => self.usage_push(api, body, OLD_USAGE_FIELDS, now_ms),
            Api::Activate(version) => license_body(&parts.headers, body).and_then(|body| self.activate(version, &body, now_ms)),
            Api::Heartbeat(version) => license_body(&parts.headers, body).and_then(|body| self.heartbeat(version, &body, now_ms)),
            Api::SoftwareUsage => license_body(&parts.headers, body).and_then(|body| self.software_usage(&body)),
        };
        (true, answer.unwrap_or_else(|refusal| refusal))
    }
}

// ---------------------------------------------------------------------------------------------------
// AK/SK verification (signing.md (f)), as the gateway does it.

/// Why an AK/SK check failed. Messages: "verify aksk signature fail" and "Get secretKey failed…" are the
/// gateway's documented ones; "no Authorization" and "x-sdk-date expired" follow them; the others are
/// our wording in the same style. Neither the SK nor the received signature is ever echoed.
enum AuthFailure {
    NoAuthorization,
    Malformed,
    UnknownAk(String),
    NotSigned,
    DateMissing,
    DateFormat,
    DateExpired,
    Signature,
}

impl AuthFailure {
    fn answer(self) -> Answer {
        let detail = match self {
            AuthFailure::NoAuthorization => "no Authorization".to_owned(),
            AuthFailure::Malformed => "Authorization format incorrect".to_owned(),
            AuthFailure::UnknownAk(ak) => {
                let ak: String = ak.chars().take(128).collect();
                format!("Get secretKey failed,ak:{ak},err:ak not exist")
            }
            AuthFailure::NotSigned => "host and x-sdk-date must be signed".to_owned(),
            AuthFailure::DateMissing => "x-sdk-date not found".to_owned(),
            AuthFailure::DateFormat => "x-sdk-date format incorrect".to_owned(),
            AuthFailure::DateExpired => "x-sdk-date expired".to_owned(),
            AuthFailure::Signature => "verify aksk signature fail".to_owned(),
        };
        Answer::gateway(StatusCode::UNAUTHORIZED, "APIGW.0301", &format!("Incorrect IAM authentication information: {detail}"))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

impl PlatformState {
    fn verify_aksk(&self, parts: &Parts, body: &[u8], now_ms: i64) -> Result<(), AuthFailure> {
        let config = &self.0.config;
        let raw = parts.headers.get(header::AUTHORIZATION).ok_or(AuthFailure::NoAuthorization)?;
        let authorization = raw.to_str().ok().and_then(Authorization::parse).ok_or(AuthFailure::Malformed)?;
        if authorization.access != config.ak {
            return Err(AuthFailure::UnknownAk(authorization.access));
        }
        let signed = |name: &str| authorization.signed_headers.iter().any(|signed| signed == name);
        if !signed("host") || !signed("x-sdk-date") {
            return Err(AuthFailure::NotSigned);
        }
        let date = header(&parts.headers, "x-sdk-date").ok_or(AuthFailure::DateMissing)?;
        let date_ms = NaiveDateTime::parse_from_str(date, DATE_FORMAT).map_err(|_| AuthFailure::DateFormat)?.and_utc().timestamp_millis();
        if (now_ms - date_ms).abs() > CLOCK_WINDOW_MS {
            return Err(AuthFailure::DateExpired);
        }
        let mut headers = Vec::with_capacity(authorization.signed_headers.len());
        for name in &authorization.signed_headers {
            let value = match header(&parts.headers, name) {
                Some(value) => value.to_owned(),
                // HTTP/2 carries the host as the URI authority.
                None if name == "host" => parts.uri.authority().map(|authority| authority.to_string()).ok_or(AuthFailure::Signature)?,
                None => return Err(AuthFailure::Signature),
            };
            headers.push((name.clone(), value));
        }
        // Query values are decoded with `+` read as a space, as the gateway's nginx/Lua front end does.
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
        let request = SignedRequest { method: parts.method.as_str(), path: parts.uri.path(), query: &query, headers: &headers, body };
        if !request.verify(config.sk.expose_secret(), &authorization.signature) {
            // The gateway logs its canonical request for the same purpose; it holds no secret.
            tracing::info!(canonical_request = %request.canonical_request(), "simulated platform: AK/SK signature mismatch");
            return Err(AuthFailure::Signature);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------
// Order query (open-api.md §2).

impl PlatformState {
    fn order_query(&self, query: Option<&str>) -> Result<Answer, Answer> {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
        let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        // Our choice for parameter errors: HTTP 400 with the order envelope and the usage APIs' MKT.0101.
        let invalid = |message: &str| {
            Answer::new(StatusCode::BAD_REQUEST, json!({ "resultCode": "MKT.0101", "resultMsg": format!("invalid parameter: {message}") }))
        };
        let order_id = param("orderId").filter(|id| !id.is_empty()).ok_or_else(|| invalid("orderId is required"))?;
        let line_id = param("orderLineId").filter(|id| !id.is_empty());
        if order_id.chars().count() > 64 || line_id.is_some_and(|id| id.chars().count() > 64) {
            return Err(invalid("orderId and orderLineId have at most 64 characters"));
        }
        let found = self.data().orders.get(order_id).and_then(|order| match line_id {
            None => Some(order.clone()),
            Some(line_id) => only_line(order, line_id),
        });
        Ok(match found {
            Some(order) => Answer::new(StatusCode::OK, json!({ "resultCode": "MKT.0000", "resultMsg": "success", "orderInfo": order })),
            // The real code for an unknown order is not documented. Our choice: HTTP 200, MKT.0100.
            None => Answer::new(StatusCode::OK, json!({ "resultCode": "MKT.0100", "resultMsg": "order not found" })),
        })
    }
}

/// `order` with only the order line `line_id`, or `None` when it has no such line.
fn only_line(order: &Value, line_id: &str) -> Option<Value> {
    let mut order = order.clone();
    let lines = order.get_mut("orderLine")?.as_array_mut()?;
    lines.retain(|line| line.get("orderLineId").and_then(Value::as_str) == Some(line_id));
    (!lines.is_empty()).then_some(order)
}

/// One documented debug order (open-api.md §2). Only `NEW` / `PERIOD` / `year` are documented values;
/// every other `orderType`, `chargingMode` and `periodType` value below is our invention.
struct MockOrder {
    id: &'static str,
    order_type: &'static str,
    charging_mode: &'static str,
    /// (`periodType`, `periodNumber`); `None` for one-time and pay-per-use.
    period: Option<(&'static str, u32)>,
    /// UTC `yyyyMMddHHmmss`; `None` when nothing expires.
    expire_time: Option<&'static str>,
    /// The package quantity of a pay-per-use package.
    linear_value: Option<u32>,
    amount: &'static str,
}

const MOCK_ORDERS: &[MockOrder] = &[
    // The only one observed in a logged answer: NEW, PERIOD, year, 1, expiry 20251121235959.
    MockOrder {
        id: "MOCKPERIODYEARNEW",
        order_type: "NEW",
        charging_mode: "PERIOD",
        period: Some(("year", 1)),
        expire_time: Some("20251121235959"),
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKONETIMENEW",
        order_type: "NEW",
        charging_mode: "ONE_TIME",
        period: None,
        expire_time: None,
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKONDEMAND",
        order_type: "NEW",
        charging_mode: "ON_DEMAND",
        period: None,
        expire_time: None,
        linear_value: None,
        amount: "0",
    },
    // A pay-per-use package: pay-per-use charging with a package quantity valid for one month.
    MockOrder {
        id: "MOCKONDEMANDPKG",
        order_type: "NEW",
        charging_mode: "ON_DEMAND",
        period: Some(("month", 1)),
        expire_time: Some("20241221235959"),
        linear_value: Some(1000),
        amount: "100",
    },
    MockOrder {
        id: "MOCKPERIODDAYTRIAL",
        order_type: "TRIAL",
        charging_mode: "PERIOD",
        period: Some(("day", 7)),
        expire_time: Some("20241128235959"),
        linear_value: None,
        amount: "0",
    },
    MockOrder {
        id: "MOCKMONTYTRIALTOFORMAL",
        order_type: "TRIAL_TO_FORMAL",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20241221235959"),
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKMONTYUNSUBSCRIBE",
        order_type: "UNSUBSCRIBE",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20241121090846"),
        linear_value: None,
        amount: "0",
    },
    MockOrder {
        id: "MOCKMONTYRENEW",
        order_type: "RENEW",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20250121235959"),
        linear_value: None,
        amount: "100",
    },
    MockOrder {
        id: "MOCKMONTYCHANGE",
        order_type: "CHANGE",
        charging_mode: "PERIOD",
        period: Some(("month", 1)),
        expire_time: Some("20241221235959"),
        linear_value: None,
        amount: "100",
    },
];

/// The nine documented debug orders, as `orderInfo` objects, each with one line `<ID>-000001`.
pub fn mock_orders() -> Vec<Value> {
    MOCK_ORDERS.iter().map(|mock| order_info(mock.id, mock)).collect()
}

/// A one-month periodic order in the mock orders' shape, for orders `koogate sim run` creates
/// (`order_type`: `NEW`, `RENEW`, `CHANGE` …; `expire_time`: UTC `yyyyMMddHHmmss`).
pub fn periodic_order(order_id: &str, order_type: &'static str, expire_time: &str) -> Value {
    let mut order = order_info(
        order_id,
        &MockOrder {
            id: "",
            order_type,
            charging_mode: "PERIOD",
            period: Some(("month", 1)),
            expire_time: None,
            linear_value: None,
            amount: "100",
        },
    );
    order["orderLine"][0]["expireTime"] = json!(expire_time);
    order
}

fn order_info(order_id: &str, mock: &MockOrder) -> Value {
    let product_suffix = order_id.to_ascii_lowercase();
    json!({
        "orderId": order_id,
        "orderType": mock.order_type,
        // The logged sample's creation time, shared by all mocks.
        "createTime": "20241121090846",
        "orderLine": [{
            "orderLineId": format!("{order_id}-000001"),
            "chargingMode": mock.charging_mode,
            "periodType": mock.period.map(|(kind, _)| kind),
            "periodNumber": mock.period.map(|(_, number)| number),
            "expireTime": mock.expire_time,
            "productInfo": [{
                "productId": format!("sim-product-{product_suffix}"),
                "skuCode": format!("sim-sku-{product_suffix}"),
                "linearValue": mock.linear_value,
                "productName": format!("Simulated product ({order_id})"),
            }],
            "extendParams": [],
            "currency": mock.amount,
            "currencyAfterDiscount": mock.amount,
        }],
        // Buyer data is plain text and may contain nulls (open-api.md §2): mobilePhone is null here.
        "buyerInfo": {
            "customerId": "sim-customer-0001",
            "customerName": "sim_buyer",
            "customerRealName": "Simulated Buyer",
            "customerType": "1",
            "mobilePhone": null,
            "email": "buyer@example.com",
            "userId": "sim-user-0001",
            "userName": "sim_buyer",
        },
        "extendParams": [],
    })
}

// ---------------------------------------------------------------------------------------------------
// Usage push, new and old (open-api.md §3–§5).

#[derive(Clone, Copy)]
enum Kind {
    Text,
    /// UTC `yyyyMMdd'T'HHmmss'Z'`.
    Time,
    /// A decimal string > 0 with at most 4 decimals.
    Amount,
}

/// One member of a usage record: name, maximum length, kind, required.
type Field = (&'static str, usize, Kind, bool);

const NEW_USAGE_FIELDS: &[Field] = &[
    ("instance_id", 64, Kind::Text, true),
    ("record_time", 17, Kind::Time, true),
    ("begin_time", 17, Kind::Time, true),
    ("end_time", 17, Kind::Time, true),
    ("usage_value", 20, Kind::Amount, true),
    ("metering_sn", 64, Kind::Text, true),
    ("relate_pkg_instance", 64, Kind::Text, false),
];

const OLD_USAGE_FIELDS: &[Field] = &[
    ("instance_id", 64, Kind::Text, true),
    ("product_id", 64, Kind::Text, true),
    ("record_time", 17, Kind::Time, true),
    ("begin_time", 17, Kind::Time, true),
    ("end_time", 17, Kind::Time, true),
    ("usage_value", 20, Kind::Amount, true),
    ("relate_pkg_instance", 64, Kind::Text, false),
];

fn is_usage_time(text: &str) -> bool {
    NaiveDateTime::parse_from_str(text, DATE_FORMAT).is_ok_and(|time| time.format(DATE_FORMAT).to_string() == text)
}

fn is_usage_value(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let well_formed =
        !whole.is_empty() && digits(whole) && digits(fraction) && fraction.len() <= 4 && !(text.contains('.') && fraction.is_empty());
    well_formed && text.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Checks one record against `fields`; the error names the offending member.
fn check_record(index: usize, record: &Value, fields: &[Field]) -> Result<(), String> {
    let Some(record) = record.as_object() else {
        return Err(format!("usage_records[{index}] is not an object"));
    };
    if let Some(unknown) = record.keys().find(|name| !fields.iter().any(|(known, ..)| known == name)) {
        return Err(format!("usage_records[{index}].{unknown} is not a known member"));
    }
    for &(name, max, kind, required) in fields {
        let text = match record.get(name) {
            Some(Value::String(text)) => text,
            None | Some(Value::Null) if !required => continue,
            None | Some(Value::Null) => return Err(format!("usage_records[{index}].{name} is required")),
            Some(_) => return Err(format!("usage_records[{index}].{name} must be a string")),
        };
        if (required && text.is_empty()) || text.chars().count() > max {
            return Err(format!("usage_records[{index}].{name} must have 1 to {max} characters"));
        }
        match kind {
            Kind::Time if !is_usage_time(text) => return Err(format!("usage_records[{index}].{name} is not UTC yyyyMMdd'T'HHmmss'Z'")),
            Kind::Amount if !is_usage_value(text) => {
                return Err(format!("usage_records[{index}].{name} must be a decimal > 0 with at most 4 decimals"));
            }
            _ => {}
        }
    }
    // Our addition: a window ending before it begins is refused (same-format times compare as text).
    let time = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
    if time("end_time") < time("begin_time") {
        return Err(format!("usage_records[{index}].end_time is before begin_time"));
    }
    Ok(())
}

impl PlatformState {
    /// The new usage push's header signature (signing.md (g)); refusals are HTTP 400 `MKT.0102`.
    fn verify_usage_signature(&self, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Result<(), Answer> {
        let refuse = |detail: &str| Answer::market(StatusCode::BAD_REQUEST, "MKT.0102", detail);
        let Some(key) = &self.0.config.usage_key else {
            return Err(refuse("invalid body signature: no usage key is configured on this platform"));
        };
        let (Some(signature), Some(ts), Some(nonce)) = (header(headers, "signature"), header(headers, "ts"), header(headers, "nonce"))
        else {
            return Err(refuse("invalid body signature: the signature, ts and nonce headers are required"));
        };
        if signature.len() > 1000 || ts.len() > 20 || nonce.is_empty() || nonce.len() > 64 {
            return Err(Answer::market(
                StatusCode::BAD_REQUEST,
                "MKT.0101",
                "invalid parameter: signature (≤ 1000), ts (≤ 20) or nonce (1..64) has a bad length",
            ));
        }
        let ts_ms = ts.bytes().all(|b| b.is_ascii_digit()).then(|| ts.parse::<i64>().ok()).flatten();
        let Some(ts_ms) = ts_ms else {
            return Err(refuse("invalid body signature: ts is not Unix milliseconds"));
        };
        if (now_ms - ts_ms).abs() > CLOCK_WINDOW_MS {
            return Err(refuse("invalid body signature: ts is not within 15 minutes of now"));
        }
        if !usage_push_matches(key.expose_secret(), ts, nonce, body, signature) {
            return Err(refuse("invalid body signature"));
        }
        Ok(())
    }

    /// Validates a usage push body and keeps its records. Any invalid record refuses the whole call.
    fn usage_push(&self, api: Api, body: &[u8], fields: &[Field], now_ms: i64) -> Result<Answer, Answer> {
        let invalid = |message: String| Answer::market(StatusCode::BAD_REQUEST, "MKT.0101", &format!("invalid parameter: {message}"));
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return Err(invalid("the body must be a JSON object".into()));
        };
        if let Some(unknown) = body.keys().find(|name| *name != "usage_records") {
            return Err(invalid(format!("{unknown} is not a known member")));
        }
        let Some(Value::Array(records)) = body.get("usage_records") else {
            return Err(invalid("usage_records (a list) is required".into()));
        };
        if records.is_empty() {
            return Err(invalid("usage_records is empty".into()));
        }
        if records.len() > MAX_USAGE_RECORDS {
            // Documented code for too many records (open-api.md §5).
            return Err(Answer::market(StatusCode::INTERNAL_SERVER_ERROR, "MKT.9003", "too many records: at most 1000 per call"));
        }
        for (index, record) in records.iter().enumerate() {
            check_record(index, record, fields).map_err(invalid)?;
        }
        let mut data = self.data();
        for record in records {
            let member = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let first = data.usage_keys.insert((member("instance_id"), member("begin_time"), member("end_time")));
            data.usage.push(KeptUsageRecord { at_ms: now_ms, api: api.name().to_owned(), record: record.clone(), duplicate: !first });
        }
        Ok(Answer::market(StatusCode::OK, "MKT.0000", "success"))
    }
}

// ---------------------------------------------------------------------------------------------------
// License APIs (license.md §2). Business results come with HTTP 200; request errors with 4xx.
// The sim has no list of issued codes: every well-formed code is treated as an issued test code
// (our choice), so 92020004 / 92020005 are never answered.

const LICENSE_SUCCESS: &str = "92020000";
const LICENSE_ILLEGAL_STATE: &str = "92020003";
const LICENSE_NOT_ACTIVATED: &str = "92020011";
const LICENSE_BATCH_INVALID: &str = "92020020";

fn license_invalid(message: &str) -> Answer {
    Answer::market(StatusCode::BAD_REQUEST, "95000001", &format!("request parameter invalid: {message}"))
}

fn license_success(data: Value) -> Answer {
    Answer::new(StatusCode::OK, json!({ "error_code": LICENSE_SUCCESS, "error_msg": "success", "data": data }))
}

/// The JSON object body of a License call.
fn license_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Answer> {
    let content_type = header(headers, header::CONTENT_TYPE.as_str()).unwrap_or_default();
    if !content_type.trim_start().to_ascii_lowercase().starts_with("application/json") {
        return Err(Answer::market(StatusCode::UNSUPPORTED_MEDIA_TYPE, "95000003", "content type must be application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(license_invalid("the body must be a JSON object")),
        Err(_) => Err(Answer::market(StatusCode::BAD_REQUEST, "95000004", "the body is not JSON")),
    }
}

/// A string member of 1..=`max` characters.
fn license_text<'a>(body: &'a Map<String, Value>, name: &str, max: usize) -> Result<&'a str, Answer> {
    match body.get(name) {
        Some(Value::String(text)) if !text.is_empty() && text.chars().count() <= max => Ok(text),
        None | Some(Value::Null) => Err(license_invalid(&format!("{name} is required"))),
        Some(_) => Err(license_invalid(&format!("{name} must be a string of 1 to {max} characters"))),
    }
}

/// The codes of a call: `license` (v1) or `license_list` (v2, 1..=100 codes).
fn license_codes(version: Version, body: &Map<String, Value>) -> Result<Vec<String>, Answer> {
    if version == Version::V1 {
        return license_text(body, "license", 64).map(|code| vec![code.to_owned()]);
    }
    let Some(Value::Array(list)) = body.get("license_list") else {
        return Err(license_invalid("license_list (a list of codes) is required"));
    };
    if list.is_empty() || list.len() > MAX_LICENSE_BATCH {
        return Err(license_invalid("license_list must hold 1 to 100 codes"));
    }
    list.iter()
        .map(|code| match code.as_str() {
            Some(code) if !code.is_empty() && code.chars().count() <= 64 => Ok(code.to_owned()),
            _ => Err(license_invalid("each license_list entry must be a string of 1 to 64 characters")),
        })
        .collect()
}

/// Per-code results of a v2 batch: 92020000 when every code succeeded, else 92020020 (our choice, as
/// the v2 answers are not documented), with the items under `data.license_code_info_list`.
fn license_batch(items: Vec<Value>, all_succeeded: bool) -> Answer {
    let data = json!({ "license_code_info_list": items });
    if all_succeeded {
        return license_success(data);
    }
    Answer::new(StatusCode::OK, json!({ "error_code": LICENSE_BATCH_INVALID, "error_msg": "invalid code in the batch", "data": data }))
}

impl PlatformState {
    fn activate(&self, version: Version, body: &Map<String, Value>, now_ms: i64) -> Result<Answer, Answer> {
        let effect_ms = match body.get("real_effect_time") {
            None | Some(Value::Null) => now_ms,
            Some(Value::String(text)) if text.len() == 14 => {
                parse_expire_time(text).ok_or_else(|| license_invalid("real_effect_time is not UTC yyyyMMddHHmmss"))?
            }
            Some(_) => return Err(license_invalid("real_effect_time is not UTC yyyyMMddHHmmss")),
        };
        let codes = license_codes(version, body)?;
        let mut data = self.data();
        let mut items = Vec::with_capacity(codes.len());
        let mut all_succeeded = true;
        for code in codes {
            if data.licenses.contains_key(&code) {
                all_succeeded = false;
                if version == Version::V1 {
                    return Ok(Answer::market(StatusCode::OK, LICENSE_ILLEGAL_STATE, "license code in illegal state: already activated"));
                }
                items.push(json!({ "license": code, "error_code": LICENSE_ILLEGAL_STATE, "error_msg": "already activated" }));
                continue;
            }
            let license = License { activated_ms: now_ms, effect_ms };
            let info = license.code_info(now_ms);
            data.licenses.insert(code.clone(), license);
            if version == Version::V1 {
                return Ok(license_success(json!({ "license_code_info": info })));
            }
            items.push(json!({ "license": code, "error_code": LICENSE_SUCCESS, "error_msg": "success", "license_code_info": info }));
        }
        Ok(license_batch(items, all_succeeded))
    }

    fn heartbeat(&self, version: Version, body: &Map<String, Value>, now_ms: i64) -> Result<Answer, Answer> {
        match body.get("heartbeatInfo") {
            None | Some(Value::Null) => {}
            Some(Value::Object(info)) => {
                license_text(info, "thirdPartyAccount", 256)?;
                if info.get("ip").is_some_and(|ip| !ip.is_null()) {
                    license_text(info, "ip", 32)?;
                }
            }
            Some(_) => return Err(license_invalid("heartbeatInfo must be an object")),
        }
        let codes = license_codes(version, body)?;
        let data = self.data();
        let mut items = Vec::with_capacity(codes.len());
        let mut all_succeeded = true;
        for code in codes {
            let Some(license) = data.licenses.get(&code) else {
                all_succeeded = false;
                if version == Version::V1 {
                    return Ok(Answer::market(StatusCode::OK, LICENSE_NOT_ACTIVATED, "license code not activated"));
                }
                items.push(json!({ "license_code": code, "error_code": LICENSE_NOT_ACTIVATED, "error_msg": "license code not activated" }));
                continue;
            };
            let mut item = license.heartbeat(&code, now_ms);
            if version == Version::V1 {
                return Ok(license_success(Value::Object(item)));
            }
            item.insert("error_code".into(), LICENSE_SUCCESS.into());
            item.insert("error_msg".into(), "success".into());
            items.push(Value::Object(item));
        }
        Ok(license_batch(items, all_succeeded))
    }

    /// Software usage statistics (license.md §2.3). Codes never activated are listed in
    /// `data.check_fail_license_list` (our name: the documented member is cut off after `check_fail_`).
    fn software_usage(&self, body: &Map<String, Value>) -> Result<Answer, Answer> {
        let Some(Value::Array(usage)) = body.get("usage_info") else {
            return Err(license_invalid("usage_info (a list) is required"));
        };
        if usage.is_empty() || usage.len() > MAX_LICENSE_BATCH {
            return Err(license_invalid("usage_info must hold 1 to 100 entries"));
        }
        let mut codes = Vec::with_capacity(usage.len());
        for entry in usage {
            let Some(entry) = entry.as_object() else {
                return Err(license_invalid("each usage_info entry must be an object"));
            };
            codes.push(license_text(entry, "license", 64)?.to_owned());
            let Some(Value::Array(infos)) = entry.get("software_usage_Info") else {
                return Err(license_invalid("usage_info[].software_usage_Info (a list) is required"));
            };
            if infos.is_empty() || infos.len() > MAX_LICENSE_BATCH {
                return Err(license_invalid("software_usage_Info must hold 1 to 100 entries"));
            }
            for info in infos {
                let id = info.get("id").filter(|id| !id.is_null());
                let active = info.get("active_num").filter(|active| !active.is_null());
                let valid = match (id, active) {
                    (Some(Value::String(id)), None) => !id.is_empty() && id.chars().count() <= 256,
                    (None, Some(active)) => active.as_u64().is_some_and(|active| active <= 999_999_999),
                    _ => false,
                };
                if !valid {
                    return Err(license_invalid(
                        "each software_usage_Info entry needs exactly one of id (string ≤ 256) and active_num (integer ≤ 9 digits)",
                    ));
                }
            }
        }
        let data = self.data();
        let failed: Vec<String> = codes.into_iter().filter(|code| !data.licenses.contains_key(code)).collect();
        Ok(license_success(json!({ "check_fail_license_list": failed })))
    }
}

// ---------------------------------------------------------------------------------------------------
// Control routes (unauthenticated: a local test tool).

#[derive(Deserialize)]
struct FailRequest {
    count: usize,
    status: u16,
}

async fn control(state: &PlatformState, parts: &Parts, body: Body) -> Answer {
    let refuse = |message: &str| Answer::new(StatusCode::BAD_REQUEST, json!({ "error": message }));
    let body = match parts.method {
        Method::POST => match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(body) => body,
            Err(_) => return refuse("the body could not be read (at most 12 MB)"),
        },
        _ => Bytes::new(),
    };
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/sim/received") => Answer::new(StatusCode::OK, serde_json::to_value(state.received()).unwrap_or_default()),
        (&Method::GET, "/sim/usage") => Answer::new(StatusCode::OK, serde_json::to_value(state.usage_records()).unwrap_or_default()),
        (&Method::POST, "/sim/orders") => {
            let Ok(order) = serde_json::from_slice::<Value>(&body) else {
                return refuse("the body must be an orderInfo JSON object");
            };
            let id = order.get("orderId").cloned().unwrap_or_default();
            match state.add_order(order) {
                Ok(()) => Answer::new(StatusCode::OK, json!({ "added": id })),
                Err(problem) => refuse(&problem),
            }
        }
        (&Method::POST, "/sim/fail") => match serde_json::from_slice::<FailRequest>(&body) {
            Ok(FailRequest { count, status }) if (400..=599).contains(&status) => {
                state.fail_next(count, status);
                Answer::new(StatusCode::OK, json!({ "count": count, "status": status }))
            }
            _ => refuse(r#"the body must be {"count":N,"status":S} with S an HTTP error status (400..=599)"#),
        },
        _ => Answer::not_found(),
    }
}
