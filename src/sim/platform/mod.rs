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
//! Where the documentation is silent the choice is marked "our choice" in the code. Every answer is JSON.
//!
//! Layout: this file holds the configuration, the shared state, the router and [`Platform`], and the
//! dispatcher that runs the order of work above. Each API family has its own file: `auth` (AK/SK as
//! the gateway verifies it), `orders` (order query and the mock orders), `usage` (both usage
//! pushes), `license` (the License APIs) and `control` (the `/sim/` routes and failure injection).

mod auth;
mod control;
mod license;
mod orders;
mod usage;

pub use orders::{mock_orders, periodic_order};

use crate::marketplace::{
    LICENSE_ACTIVATE_V1_PATH as ACTIVATE_V1, LICENSE_ACTIVATE_V2_PATH as ACTIVATE_V2, LICENSE_HEARTBEAT_V1_PATH as HEARTBEAT_V1,
    LICENSE_HEARTBEAT_V2_PATH as HEARTBEAT_V2, LICENSE_SOFTWARE_USAGE_PATH as SOFTWARE_USAGE, ORDER_QUERY_PATH as ORDER_QUERY,
    USAGE_PUSH_OLD_PATH as USAGE_PUSH_OLD, USAGE_PUSH_PATH as USAGE_PUSH,
};
use anyhow::Context;
use auth::AuthFailure;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use license::{License, license_body};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use usage::{NEW_USAGE_FIELDS, OLD_USAGE_FIELDS};

/// The gateway's request-entity limit (APIG error table: "Request entity too large", 12 MB).
const MAX_BODY: usize = 12 * 1024 * 1024;
/// How far `X-Sdk-Date` and the usage push's `ts` may be from our clock (APIG: 15 minutes).
const CLOCK_WINDOW_MS: i64 = 15 * 60 * 1000;

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

    fn into_response(self) -> Response {
        (self.status, [(header::CONTENT_TYPE, "application/json")], self.body.to_string()).into_response()
    }
}

async fn dispatch(State(state): State<PlatformState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path() == "/sim" || parts.uri.path().starts_with("/sim/") {
        return control::control(&state, &parts, body).await.into_response();
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}
