//! `koogate sim run` against koogate itself (must pass, on both stores) and against deliberately broken
//! merchant endpoints (each failure must be reported and the run must not pass).

use crate::helpers::*;
use crate::store_tests;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use koogate::sim::report::{Outcome, Report};
use koogate::sim::run::{Target, run};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn target(url: &str) -> Target {
    Target {
        url: url.to_owned(),
        key: BASIC_KEY.to_owned(),
        v1_key: None,
        timeout: Duration::from_secs(20),
        provisioning_wait: Duration::from_secs(5),
        platform: None,
        kit_key: None,
        license_key: None,
    }
}

fn failed_steps(report: &Report) -> Vec<String> {
    report.checks.iter().filter(|c| c.outcome == Outcome::Fail).map(|c| format!("{}: {}", c.scenario, c.step)).collect()
}

const V1_KEY: &str = "sim-v1-key-0123456789";

async fn spawn_with_v1(kind: StoreKind) -> TestApp {
    TestApp::spawn_with(kind, |s| s.keys.v1 = serde_json::from_value(json!([V1_KEY])).unwrap()).await
}

async fn sim_run_passes_against_koogate(kind: StoreKind) {
    let app = spawn_with_v1(kind).await;
    let report = run(Target { v1_key: Some(V1_KEY.into()), ..target(&app.url) }, None).await.unwrap();
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(report.count(Outcome::Warn), 0, "{}", report.to_text());
    assert_eq!(report.suites, ["v2-lifecycle", "v2-debug", "v2-negative", "v1-lifecycle", "v1-debug", "v1-negative"]);
    assert!(report.checks.len() > 90);
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["summary"]["failed"], 0);
}

async fn the_v1_suites_alone_need_only_the_v1_key(kind: StoreKind) {
    let app = spawn_with_v1(kind).await;
    let report = run(Target { key: String::new(), v1_key: Some(V1_KEY.into()), ..target(&app.url) }, None).await.unwrap();
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(report.suites, ["v1-lifecycle", "v1-debug", "v1-negative"]);
    let wrong_key =
        run(Target { key: String::new(), v1_key: Some("another-v1-key-0000".into()), ..target(&app.url) }, Some("v1-debug")).await.unwrap();
    assert!(!wrong_key.passed(), "answers signed with another key fail their Body-Sign check");
}

store_tests!(sim_run_passes_against_koogate, the_v1_suites_alone_need_only_the_v1_key);

/// How a V1 endpoint in front of koogate spoils its answers.
#[derive(Clone, Copy)]
enum V1Fault {
    NoBodySign,
    /// `Body-Sign` over the body with another key.
    WrongBodySign,
    /// `appInfo.password` sent in clear (correctly signed).
    ClearPassword,
    /// Every `newInstance` answered with its own `businessId` (correctly signed).
    InstancePerDelivery,
}

/// A proxy before a koogate that answers V1 calls and spoils each answer with `fault`.
async fn spawn_spoiling_v1_endpoint(upstream: String, fault: V1Fault) -> String {
    let handler = move |RawQuery(query): RawQuery| {
        let upstream = upstream.clone();
        async move {
            let query = query.unwrap_or_default();
            let response = reqwest::get(format!("{upstream}?{query}")).await.unwrap();
            let mut answer: Value = response.json().await.unwrap();
            let signed_with =
                |key: &str, answer: &Value| Some(koogate::protocol::body_sign::body_sign_header(key, answer.to_string().as_bytes()));
            let sign = match fault {
                V1Fault::NoBodySign => None,
                V1Fault::WrongBodySign => signed_with("not-the-v1-key", &answer),
                V1Fault::ClearPassword => {
                    if answer.get("appInfo").is_some() {
                        answer["appInfo"]["password"] = json!("clear-password");
                    }
                    signed_with(V1_KEY, &answer)
                }
                V1Fault::InstancePerDelivery => {
                    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                    if let (Some("newInstance"), Some(business)) = (params.get("activity").map(String::as_str), params.get("businessId")) {
                        answer["instanceId"] = json!(business);
                    }
                    signed_with(V1_KEY, &answer)
                }
            };
            let mut response = ([(header::CONTENT_TYPE, "application/json")], answer.to_string()).into_response();
            if let Some(sign) = sign {
                response.headers_mut().insert("body-sign", sign.parse().unwrap());
            }
            response
        }
    };
    let router = axum::Router::new().route("/", axum::routing::get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

#[tokio::test]
async fn wrong_v1_endpoints_fail_the_v1_suites() {
    let app = spawn_with_v1(StoreKind::Sqlite).await;
    let v1_target = |url: &str| Target { key: String::new(), v1_key: Some(V1_KEY.into()), ..target(url) };
    for (fault, expected) in [
        (V1Fault::NoBodySign, "v1-negative: wrong key: Body-Sign"),
        (V1Fault::WrongBodySign, "v1-lifecycle: newInstance: Body-Sign"),
        (V1Fault::ClearPassword, "v1-lifecycle: newInstance: password decrypts"),
        (V1Fault::InstancePerDelivery, "v1-lifecycle: newInstance redelivered (new businessId): same instanceId"),
    ] {
        let endpoint = spawn_spoiling_v1_endpoint(app.url.clone(), fault).await;
        let report = run(v1_target(&endpoint), None).await.unwrap();
        assert!(!report.passed());
        let failed = failed_steps(&report);
        assert!(failed.contains(&expected.to_owned()), "{expected} in {failed:?}");
    }
}

#[tokio::test]
async fn the_orders_of_a_run_are_registered_with_the_platform() {
    use koogate::sim::platform::{Platform, PlatformConfig};
    let platform = Platform::start(PlatformConfig { ak: "AK".into(), sk: "SK".into(), usage_key: None }, "127.0.0.1:0").await.unwrap();
    let endpoint = spawn_naive_endpoint(Faults::default()).await;
    let report = run(Target { platform: Some(platform.url()), ..target(&endpoint) }, Some("v2-lifecycle")).await.unwrap();
    assert!(report.passed(), "{}", report.to_text());
    // The order of the lifecycle's newInstance can now be queried from the platform.
    let settings = {
        let mut m = koogate::config::Settings::load(None).unwrap().marketplace;
        (m.api_base, m.fallback_base, m.ak, m.sk) = (platform.url(), String::new(), "AK".into(), Some("SK".into()));
        m
    };
    let client = koogate::marketplace::MarketplaceClient::new(&settings).unwrap();
    let sim_orders: Vec<String> = platform.order_ids().into_iter().filter(|id| id.starts_with("SIM")).collect();
    // The purchase, conversion, renewal, change, unsubscribe and upgrade orders, and the parallel-delivery order.
    assert_eq!(sim_orders.len(), 7, "{sim_orders:?}");
    for id in sim_orders {
        let order = client.query_order(&id, Some(&format!("{id}-000001"))).await.unwrap();
        assert!(order.line(&format!("{id}-000001")).unwrap().expire_time.is_some());
    }
}

/// How a broken endpoint misbehaves.
#[derive(Clone, Copy, Default)]
struct Faults {
    skips_signature_check: bool,
    new_instance_every_delivery: bool,
    content_type: Option<&'static str>,
    no_replay_cache: bool,
    /// Answers success about instances it never created (or released).
    accepts_unknown_instances: bool,
    /// Names every order's instance the same.
    constant_instance_id: bool,
}

#[derive(Default)]
struct NaiveState {
    instances: HashMap<(String, String), String>,
    released: HashSet<String>,
    nonces: HashSet<String>,
}

/// A small merchant endpoint, correct unless `faults` say otherwise.
async fn spawn_naive_endpoint(faults: Faults) -> String {
    let state = Arc::new(Mutex::new(NaiveState::default()));
    let handler = move |State(state): State<Arc<Mutex<NaiveState>>>, RawQuery(query): RawQuery, body: axum::body::Bytes| async move {
        let answer = naive_answer(&state, faults, query.as_deref().unwrap_or_default(), &body);
        let content_type = faults.content_type.unwrap_or("application/json");
        ([(header::CONTENT_TYPE, content_type)], answer.to_string()).into_response()
    };
    let router = axum::Router::new().route("/", axum::routing::post(handler)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn naive_answer(state: &Mutex<NaiveState>, faults: Faults, query: &str, body: &[u8]) -> Value {
    let refuse = |code: &str, message: &str| json!({"resultCode": code, "resultMsg": message});
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else { return refuse("000002", "bad JSON") };
    let (Some(timestamp), Some(nonce)) = (params.get("timestamp"), params.get("nonce")) else {
        return refuse("000002", "missing parameter");
    };
    if timestamp.parse::<i64>().map_or(true, |t| (koogate::now_ms() - t).abs() > 60_000) {
        return refuse("000002", "stale");
    }
    if !faults.skips_signature_check {
        let canonical = koogate::protocol::canonical::canonical_c1(&object);
        let signature = params.get("signature").cloned().unwrap_or_default();
        if !koogate::protocol::v2::signature::v2_matches(BASIC_KEY, nonce, timestamp, &canonical, &signature) {
            return refuse("000001", "bad signature");
        }
    }
    let mut state = state.lock().unwrap();
    if !faults.no_replay_cache && !state.nonces.insert(nonce.clone()) {
        return refuse("000001", "replay");
    }
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
    match text("activity").as_deref() {
        Some("newInstance") => {
            let (Some(order), Some(line), Some(business)) = (text("orderId"), text("orderLineId"), text("businessId")) else {
                return refuse("000002", "missing member");
            };
            if order.len() > 64 {
                return refuse("000002", "orderId too long");
            }
            let id = if faults.constant_instance_id {
                "the-one-instance".to_owned()
            } else if faults.new_instance_every_delivery {
                business
            } else {
                state.instances.entry((order, line)).or_insert(business).clone()
            };
            json!({"resultCode": "000000", "resultMsg": "success.", "instanceId": id})
        }
        Some("queryInstance") => {
            let id = text("instanceId").unwrap_or_default();
            json!({"resultCode": "000000", "resultMsg": "success.", "info": [{"instanceId": id, "appInfo": {"frontEndUrl": "https://app.example.com/"}}]})
        }
        Some(activity @ ("refreshInstance" | "updateInstanceStatus" | "releaseInstance" | "upgradeInstance" | "changeInstanceCheck")) => {
            let id = text("instanceId").unwrap_or_default();
            let debug = text("testFlag").as_deref() == Some("1");
            let known = state.instances.values().any(|known| known == &id);
            let released = state.released.contains(&id);
            if activity == "releaseInstance" && known {
                state.released.insert(id);
                refuse("000000", "success.")
            } else if debug || faults.accepts_unknown_instances || (known && !released) {
                refuse("000000", "success.")
            } else {
                refuse("000003", "no such instance")
            }
        }
        _ => refuse("000002", "unknown activity"),
    }
}

#[tokio::test]
async fn the_naive_endpoint_itself_passes() {
    // The broken variants below differ from this one by a single fault each.
    let report = run(target(&spawn_naive_endpoint(Faults::default()).await), None).await.unwrap();
    assert!(report.passed(), "{}", report.to_text());
}

#[tokio::test]
async fn an_endpoint_that_skips_signature_checks_fails() {
    let report = run(target(&spawn_naive_endpoint(Faults { skips_signature_check: true, ..Faults::default() }).await), None).await.unwrap();
    assert!(!report.passed());
    assert_eq!(failed_steps(&report), ["v2-negative: wrong key", "v2-negative: missing signature"]);
}

#[tokio::test]
async fn an_endpoint_that_creates_an_instance_per_delivery_fails() {
    let report =
        run(target(&spawn_naive_endpoint(Faults { new_instance_every_delivery: true, ..Faults::default() }).await), None).await.unwrap();
    let failed = failed_steps(&report);
    assert!(failed.contains(&"v2-lifecycle: newInstance redelivered (new businessId): same instanceId".to_owned()), "{failed:?}");
    assert!(failed.contains(&"v2-lifecycle: newInstance x10 in parallel (a new order line)".to_owned()), "{failed:?}");
    let debug_repeat = report
        .checks
        .iter()
        .find(|c| c.scenario == "v2-debug" && c.step == "newInstance redelivered (new businessId): same instanceId")
        .unwrap();
    assert_eq!(debug_repeat.outcome, Outcome::Warn, "debug calls create nothing: a warning, not a failure");
    assert!(!report.to_text().contains("the marketplace would accept"));
}

#[tokio::test]
async fn an_endpoint_that_answers_html_fails_everywhere() {
    let report =
        run(target(&spawn_naive_endpoint(Faults { content_type: Some("text/html"), ..Faults::default() }).await), None).await.unwrap();
    assert!(report.count(Outcome::Pass) < 5, "{}", report.to_text());
    let first = report.checks.iter().find(|c| c.outcome == Outcome::Fail).unwrap();
    assert!(first.detail.as_deref().unwrap().contains("application/json"), "{first:?}");
}

#[tokio::test]
async fn an_endpoint_without_a_replay_cache_fails_the_replay_check() {
    let report =
        run(target(&spawn_naive_endpoint(Faults { no_replay_cache: true, ..Faults::default() }).await), Some("v2-negative")).await.unwrap();
    assert_eq!(failed_steps(&report), ["v2-negative: exact replay (same nonce)"]);
    assert_eq!(report.suites, ["v2-negative"]);
}

#[tokio::test]
async fn an_endpoint_that_accepts_calls_about_unknown_instances_fails() {
    let report =
        run(target(&spawn_naive_endpoint(Faults { accepts_unknown_instances: true, ..Faults::default() }).await), None).await.unwrap();
    assert_eq!(
        failed_steps(&report),
        ["v2-lifecycle: updateInstanceStatus after release", "v2-lifecycle: refreshInstance of an unknown instance"]
    );
}

#[tokio::test]
async fn an_endpoint_that_gives_every_order_one_instance_fails() {
    let report = run(target(&spawn_naive_endpoint(Faults { constant_instance_id: true, ..Faults::default() }).await), Some("v2-lifecycle"))
        .await
        .unwrap();
    assert!(
        failed_steps(&report).contains(&"v2-lifecycle: newInstance x10 in parallel (a new order line)".to_owned()),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_and_an_unknown_suite_is_an_error() {
    let report = run(target("http://127.0.0.1:9/"), Some("v2-negative")).await.unwrap();
    assert!(!report.passed());
    assert!(run(target("http://127.0.0.1:9/"), Some("kit")).await.is_err());
}
