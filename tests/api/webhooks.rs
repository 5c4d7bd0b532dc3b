//! The signed event feed and asynchronous provisioning, end to end, on both stores.

use crate::helpers::*;
use crate::store_tests;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// 32 bytes of key, Base64: what `openssl rand -base64 32` gives.
pub const SECRET: &str = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5YWI=";

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub signature_valid: bool,
    pub body: Value,
    /// When the receiver finished answering it.
    pub answered_at: std::time::Instant,
}

/// Verifies a delivery the way a receiver using a Standard Webhooks library would (independently of
/// koogate's own signing code).
fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let Ok(seconds) = timestamp.parse::<i64>() else { return false };
    if (koogate::now_ms() / 1000 - seconds).abs() > 300 {
        return false;
    }
    let key = base64::engine::general_purpose::STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    header("webhook-signature").split(' ').any(|candidate| candidate == expected)
}

/// A test receiver of the event feed (or the provisioning endpoint), on a fixed port so it can be
/// stopped and started again.
pub struct Receiver {
    pub port: u16,
    pub deliveries: Arc<Mutex<Vec<Delivery>>>,
    /// Non-zero: answer this status instead of 200 (the application failing).
    pub fail_with: Arc<AtomicU16>,
    /// Milliseconds to wait before answering (a slow application).
    pub delay_ms: Arc<AtomicU64>,
    /// What a provisioning request is answered with.
    pub answer: Value,
    server: Option<tokio::task::JoinHandle<()>>,
}

type ReceiverState = (Arc<Mutex<Vec<Delivery>>>, Arc<AtomicU16>, Arc<AtomicU64>, Value);

impl Receiver {
    pub async fn start(answer: Value) -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut receiver =
            Receiver { port, deliveries: Arc::default(), fail_with: Arc::default(), delay_ms: Arc::default(), answer, server: None };
        receiver.resume().await;
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Starts listening again on the same port.
    pub async fn resume(&mut self) {
        let state: ReceiverState = (self.deliveries.clone(), self.fail_with.clone(), self.delay_ms.clone(), self.answer.clone());
        let handler = |State((deliveries, fail_with, delay_ms, answer)): State<ReceiverState>,
                       headers: HeaderMap,
                       body: axum::body::Bytes| async move {
            tokio::time::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst))).await;
            let failing = fail_with.load(Ordering::SeqCst);
            if failing != 0 {
                return (StatusCode::from_u16(failing).unwrap(), axum::Json(json!({})));
            }
            let delivery = Delivery {
                id: headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
                signature_valid: verify(&headers, &body),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                answered_at: std::time::Instant::now(),
            };
            deliveries.lock().unwrap().push(delivery);
            (StatusCode::OK, axum::Json(answer))
        };
        let router = axum::Router::new().route("/hook", axum::routing::post(handler)).with_state(state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        }));
    }

    /// Stops listening: deliveries fail with connection refused until `resume`.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    pub fn events(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// Waits until `count` deliveries arrived (or 20 s passed) and returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        for _ in 0..400 {
            if self.events().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.events()
    }
}

/// Settings for an app that delivers its events to `receiver` and retries quickly.
pub fn deliver_to(receiver: &Receiver) -> impl FnOnce(&mut koogate::config::Settings) + use<> {
    let url = receiver.url();
    move |s| {
        s.webhook.url = url;
        s.webhook.secret = Some(SECRET.into());
        s.jobs.retry_base_ms = 100;
        s.jobs.retry_max_secs = 1;
        s.jobs.poll_interval_ms = 50;
    }
}

/// `queryInstance` for `id` until it is no longer `000004` (or 10 s passed); the last answer.
async fn query_until_settled(app: &TestApp, id: &str) -> Value {
    let mut answer = json!({});
    for _ in 0..200 {
        answer = app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
        if code(&answer) != "000004" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    answer
}

/// The stored instance once `done` holds for it (or as it is after 10 s): background jobs change it.
async fn instance_when(app: &TestApp, id: &str, done: impl Fn(&koogate::domain::Instance) -> bool) -> koogate::domain::Instance {
    let mut instance = app.store.instance(id).await.unwrap().unwrap();
    for _ in 0..200 {
        if done(&instance) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        instance = app.store.instance(id).await.unwrap().unwrap();
    }
    instance
}

fn types(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.body["type"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn lifecycle_calls(app: &TestApp, id: &str) {
    let calls = [
        json!({"activity": "refreshInstance", "instanceId": id, "scene": "RENEWAL", "orderId": "R-1", "orderLineId": "R-1-1", "expireTime": "20300101000000"}),
        json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}),
        json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"}),
        json!({"activity": "upgradeInstance", "instanceId": id, "orderId": "U-1", "orderLineId": "U-1-1"}),
        json!({"activity": "releaseInstance", "instanceId": id}),
    ];
    for call in calls {
        assert_eq!(code(&app.call(call).await), "000000");
    }
}

const LIFECYCLE: [&str; 6] =
    ["instance.created", "instance.renewed", "instance.frozen", "instance.unfrozen", "instance.upgraded", "instance.released"];

async fn a_whole_lifecycle_arrives_signed_and_in_order(kind: StoreKind) {
    let receiver = Receiver::start(json!({})).await;
    let app = TestApp::spawn_with(kind, deliver_to(&receiver)).await;
    let (id, order) = create_instance(&app).await;
    lifecycle_calls(&app, &id).await;
    let deliveries = receiver.wait_for(6).await;
    assert_eq!(types(&deliveries), LIFECYCLE);
    assert!(deliveries.iter().all(|d| d.signature_valid), "{deliveries:?}");
    let ids: std::collections::HashSet<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 6, "every event has its own id");
    let created = &deliveries[0].body;
    assert_eq!(created["id"], deliveries[0].id.as_str(), "webhook-id is the event id");
    assert_eq!(created["instanceId"], id.as_str());
    assert_eq!((created["data"]["orderId"].as_str(), created["data"]["status"].as_str()), (Some(order.as_str()), Some("active")));
    assert_eq!(created["data"]["appInfo"]["password"].as_str().map(str::len), Some(20), "the initial credentials reach the application");
    assert!(created["occurredAt"].as_str().unwrap().ends_with('Z'));
    let sequences: Vec<i64> = deliveries.iter().map(|d| d.body["sequence"].as_i64().unwrap()).collect();
    assert!(sequences.windows(2).all(|pair| pair[0] < pair[1]), "sequence increases: {sequences:?}");
    assert_eq!(deliveries[1].body["data"]["expireTime"], "20300101000000");
    assert_eq!(deliveries[5].body["data"]["status"], "released");
    // The events are the instance's history too; the stored copy holds no password.
    let history = app.store.events_for_instance(&id).await.unwrap();
    assert_eq!(history.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), LIFECYCLE);
    assert!(!history[0].data.to_string().contains("password"));
    // Debug calls produce no events unless asked to.
    app.call(json!({"activity": "updateInstanceStatus", "instanceId": "made-up", "status": "FREEZE", "testFlag": "1"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.events().len(), 6);
}

async fn nothing_is_lost_while_the_receiver_is_down(kind: StoreKind) {
    let mut receiver = Receiver::start(json!({})).await;
    let app = TestApp::spawn_with(kind, deliver_to(&receiver)).await;
    receiver.stop().await;
    let (id, _) = create_instance(&app).await;
    lifecycle_calls(&app, &id).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.events().is_empty());
    receiver.resume().await;
    let deliveries = receiver.wait_for(6).await;
    assert_eq!(types(&deliveries), LIFECYCLE, "all delivered, in order");
    // A receiver answering errors is retried the same way.
    receiver.fail_with.store(503, Ordering::SeqCst);
    let (second, _) = create_instance(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    receiver.fail_with.store(0, Ordering::SeqCst);
    let deliveries = receiver.wait_for(7).await;
    assert_eq!(deliveries[6].body["instanceId"], second.as_str());
}

async fn two_nodes_deliver_each_event_once(kind: StoreKind) {
    let receiver = Receiver::start(json!({})).await;
    let node_a = TestApp::spawn_with(kind, deliver_to(&receiver)).await;
    let node_b = TestApp::spawn_wrapped(node_a.db.clone(), deliver_to(&receiver), |store| store).await;
    for i in 0..12 {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        create_instance(node).await;
    }
    let deliveries = receiver.wait_for(12).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deliveries_after = receiver.events();
    assert_eq!(deliveries.len(), 12);
    assert_eq!(deliveries_after.len(), 12, "no event delivered twice");
    let ids: std::collections::HashSet<String> = deliveries_after.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 12);
}

async fn webhook_provisioning_end_to_end(kind: StoreKind) {
    use koogate::sim::platform::{Platform, PlatformConfig, periodic_order};
    let platform = Platform::start(PlatformConfig { ak: "PROVAK".into(), sk: "provisioning-sk".into(), usage_key: None }, "127.0.0.1:0")
        .await
        .unwrap();
    let application =
        Receiver::start(json!({"frontEndUrl": "https://tenant.example.com/", "userName": "owner", "password": "app-chosen-pw"})).await;
    let feed = Receiver::start(json!({})).await;
    let (platform_url, application_url) = (platform.url(), application.url());
    let deliver = deliver_to(&feed);
    let app = TestApp::spawn_with(kind, move |s| {
        deliver(s);
        s.provisioning.mode = koogate::provisioning::ProvisioningMode::Webhook;
        s.provisioning.endpoint = application_url;
        s.provisioning.sync_wait_ms = 0; // the asynchronous path; the synchronous one is tested below
        s.marketplace.api_base = platform_url;
        s.marketplace.fallback_base = String::new();
        s.marketplace.ak = "PROVAK".into();
        s.marketplace.sk = Some("provisioning-sk".into());
    })
    .await;
    let order = order_id();
    platform.add_order(periodic_order(&order, "NEW", "20301231235959"));
    let answer = app.call(new_instance(&order)).await;
    assert_eq!(code(&answer), "000004", "{answer}");
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    let query = query_until_settled(&app, &id).await;
    assert_eq!(code(&query), "000000", "{query}");
    assert_eq!(query["info"][0]["appInfo"]["frontEndUrl"], "https://tenant.example.com/");
    assert_eq!(query["info"][0]["appInfo"]["password"], "app-chosen-pw");
    // The application got a signed request carrying the marketplace's order.
    let requests = application.events();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].signature_valid);
    assert_eq!(requests[0].body["type"], "instance.provision");
    assert_eq!(requests[0].body["data"]["order"]["orderId"], order.as_str());
    assert!(platform.received().iter().any(|call| call.api == "order_query" && call.authenticated));
    // A redelivered newInstance now answers success with the same instance.
    assert_eq!(app.call(new_instance(&order)).await["resultCode"], "000000");
    let deliveries = feed.wait_for(2).await;
    assert_eq!(types(&deliveries), ["instance.created", "instance.provisioned"]);
    let plan: Value = serde_json::from_str(app.store.instance(&id).await.unwrap().unwrap().plan.as_deref().unwrap()).unwrap();
    assert_eq!(plan["productId"], format!("sim-product-{}", order.to_lowercase()), "the plan from the order query");
    assert_eq!(deliveries[1].body["data"]["plan"]["chargingMode"], "PERIOD");
    assert_eq!(deliveries[1].body["data"]["productId"], plan["productId"], "the instance takes the plan's product");
    assert_eq!(deliveries[1].body["data"]["expireTime"], "20301231235959", "and the order's expiry");

    // An upgrade's order is fetched too, and its plan kept.
    let upgrade = order_id();
    platform.add_order(periodic_order(&upgrade, "CHANGE", "20311231235959"));
    let call = json!({"activity": "upgradeInstance", "instanceId": id, "orderId": upgrade, "orderLineId": format!("{upgrade}-000001")});
    assert_eq!(code(&app.call(call).await), "000000");
    let expected = format!("sim-product-{}", upgrade.to_lowercase());
    let product = instance_when(&app, &id, |i| i.product_id.as_deref() == Some(expected.as_str())).await.product_id;
    assert_eq!(product.as_deref(), Some(expected.as_str()));
}

async fn an_application_that_keeps_failing_leaves_a_failed_instance_and_a_retryable_job(kind: StoreKind) {
    let application = Receiver::start(json!({"frontEndUrl": "https://late.example.com/"})).await;
    application.fail_with.store(500, Ordering::SeqCst);
    let endpoint = application.url();
    let token = "admin-token-for-provisioning";
    let app = TestApp::spawn_with(kind, move |s| {
        s.webhook.secret = Some(SECRET.into());
        s.provisioning.mode = koogate::provisioning::ProvisioningMode::Webhook;
        s.provisioning.endpoint = endpoint;
        s.provisioning.horizon_secs = 1;
        s.jobs.retry_base_ms = 100;
        s.jobs.poll_interval_ms = 50;
        s.admin.token = Some(token.into());
    })
    .await;
    let admin = app.admin_address.clone().unwrap();
    let answer = app.call(new_instance(&order_id())).await;
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    let status = instance_when(&app, &id, |i| i.status.as_str() == "failed").await.status;
    assert_eq!(status.as_str(), "failed");
    let query = app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
    assert_eq!(code(&query), "000005");
    // Visible to operators in the admin API ...
    let dead: Value =
        app.client.get(format!("{admin}/admin/jobs?state=dead")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["kind"], "provision");
    assert!(items[0]["lastError"].as_str().unwrap().contains("HTTP 500"), "{dead}");
    let shown: Value =
        app.client.get(format!("{admin}/admin/instances/{id}")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["instance"]["status"], "failed");
    // ... and retryable there once the application is fixed.
    application.fail_with.store(0, Ordering::SeqCst);
    let retried = app.client.post(format!("{admin}/admin/jobs/{}/retry", items[0]["id"])).bearer_auth(token).send().await.unwrap();
    assert_eq!(retried.status(), 200);
    instance_when(&app, &id, |i| i.status.as_str() == "active").await;
    assert_eq!(code(&app.call(json!({"activity": "queryInstance", "instanceId": id})).await), "000000");
    let history: Vec<String> =
        app.store.events_for_instance(&id).await.unwrap().into_iter().map(|e| e.event_type.as_str().to_owned()).collect();
    assert_eq!(history, ["instance.created", "instance.failed", "instance.provisioned"]);
}

async fn debug_events_are_sent_when_asked_for(kind: StoreKind) {
    let receiver = Receiver::start(json!({})).await;
    let deliver = deliver_to(&receiver);
    let app = TestApp::spawn_with(kind, move |s| {
        deliver(s);
        s.webhook.include_debug = true;
    })
    .await;
    let order = order_id();
    let debug_new = with(new_instance(&order), json!({"testFlag": "1"}));
    let id = app.call(debug_new.clone()).await["instanceId"].as_str().unwrap().to_owned();
    app.call(with(new_instance(&order), json!({"testFlag": "1"}))).await; // a repeat records nothing new
    app.call(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE", "testFlag": "1"})).await;
    let deliveries = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(types(&receiver.events()), ["instance.created", "instance.frozen"]);
    assert!(deliveries.iter().all(|d| d.body["data"]["testFlag"] == true && d.body["instanceId"] == id.as_str()));
}

async fn a_release_during_provisioning_is_repeated_after_the_provisioning_outcome(kind: StoreKind) {
    let (app, application, feed) = provisioning_app(kind, json!({"frontEndUrl": "https://slow.example.com/"}), 800, 0).await;
    let answer = app.call(new_instance(&order_id())).await;
    assert_eq!(code(&answer), "000004");
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await; // the provisioning call is in flight
    assert_eq!(code(&app.call(json!({"activity": "releaseInstance", "instanceId": id})).await), "000000");
    let deliveries = feed.wait_for(3).await;
    assert_eq!(
        types(&deliveries),
        ["instance.created", "instance.released", "instance.released"],
        "no provisioned event for a released instance"
    );
    let provisioning_answered = application.wait_for(1).await[0].answered_at;
    assert!(deliveries[2].answered_at > provisioning_answered, "the release is repeated after the provisioning call");
    assert_eq!(app.store.instance(&id).await.unwrap().unwrap().status.as_str(), "released");
}

async fn a_failing_feed_does_not_hold_up_provisioning(kind: StoreKind) {
    let application = Receiver::start(json!({"frontEndUrl": "https://tenant.example.com/"})).await;
    let feed = Receiver::start(json!({})).await;
    feed.fail_with.store(500, Ordering::SeqCst);
    let (deliver, endpoint) = (deliver_to(&feed), application.url());
    let app = TestApp::spawn_with(kind, move |s| {
        deliver(s);
        s.provisioning.mode = koogate::provisioning::ProvisioningMode::Webhook;
        s.provisioning.endpoint = endpoint;
    })
    .await;
    let id = app.call(new_instance(&order_id())).await["instanceId"].as_str().unwrap().to_owned();
    let answer = query_until_settled(&app, &id).await;
    assert_eq!(code(&answer), "000000", "provisioned although the feed's receiver fails: {answer}");
    feed.fail_with.store(0, Ordering::SeqCst);
    assert_eq!(types(&feed.wait_for(2).await), ["instance.created", "instance.provisioned"]);
}

/// An app whose open APIs are a `sim platform` (template mode, jobs polled quickly).
async fn with_open_apis(kind: StoreKind) -> (TestApp, koogate::sim::platform::Platform) {
    use koogate::sim::platform::{Platform, PlatformConfig};
    let platform =
        Platform::start(PlatformConfig { ak: "SYNCAK".into(), sk: "sync-sk-0123".into(), usage_key: None }, "127.0.0.1:0").await.unwrap();
    let platform_url = platform.url();
    let app = TestApp::spawn_with(kind, move |s| {
        s.marketplace.api_base = platform_url;
        s.marketplace.fallback_base = String::new();
        s.marketplace.ak = "SYNCAK".into();
        s.marketplace.sk = Some("sync-sk-0123".into());
        s.jobs.poll_interval_ms = 50;
    })
    .await;
    (app, platform)
}

async fn template_mode_keeps_the_purchase_orders_plan(kind: StoreKind) {
    use koogate::sim::platform::periodic_order;
    let (app, platform) = with_open_apis(kind).await;
    let order = order_id();
    platform.add_order(periodic_order(&order, "NEW", "20301231235959"));
    let answer = app.call(new_instance(&order)).await;
    assert_eq!(code(&answer), "000000", "template mode answers with the order queried within the call");
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    let instance = instance_when(&app, &id, |i| i.plan.is_some()).await;
    assert_eq!(instance.product_id, Some(format!("sim-product-{}", order.to_lowercase())));
    assert_eq!(instance.expire_time_ms, koogate::domain::parse_expire_time("20301231235959"));
}

async fn an_order_the_marketplace_does_not_have_is_not_asked_for_again(kind: StoreKind) {
    use koogate::store::{JobKind, JobState};
    let (app, _platform) = with_open_apis(kind).await;
    // Never registered with the platform: the order query answers a business error (MKT.0100).
    let answer = app.call(new_instance(&order_id())).await;
    assert_eq!(code(&answer), "000000");
    let mut sync = None;
    for _ in 0..100 {
        let jobs = app.store.list_jobs(None, None, 50).await.unwrap();
        sync = jobs.into_iter().find(|job| job.kind == JobKind::OrderSync && job.state == JobState::Dead);
        if sync.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sync = sync.expect("the order sync gave up at once instead of retrying for provisioning.horizon_secs");
    assert_eq!(sync.attempts, 1);
    assert!(sync.last_error.as_deref().unwrap().contains("MKT.0100"), "{:?}", sync.last_error);
}

/// An app in webhook mode whose application answers `answer` (after `delay_ms`), waiting `sync_wait_ms`.
async fn provisioning_app(kind: StoreKind, answer: Value, delay_ms: u64, sync_wait_ms: u64) -> (TestApp, Receiver, Receiver) {
    let application = Receiver::start(answer).await;
    application.delay_ms.store(delay_ms, Ordering::SeqCst);
    let feed = Receiver::start(json!({})).await;
    let (deliver, endpoint) = (deliver_to(&feed), application.url());
    let app = TestApp::spawn_with(kind, move |s| {
        deliver(s);
        s.provisioning.mode = koogate::provisioning::ProvisioningMode::Webhook;
        s.provisioning.endpoint = endpoint;
        s.provisioning.sync_wait_ms = sync_wait_ms;
    })
    .await;
    (app, application, feed)
}

async fn a_quick_application_is_answered_within_new_instance(kind: StoreKind) {
    let (app, application, feed) =
        provisioning_app(kind, json!({"frontEndUrl": "https://quick.example.com/", "password": "pw-quick"}), 0, 3000).await;
    let answer = app.call(new_instance(&order_id())).await;
    assert_eq!(code(&answer), "000000", "provisioned within the call: {answer}");
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    let query = app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
    assert_eq!(query["info"][0]["appInfo"]["password"], "pw-quick");
    assert_eq!(types(&feed.wait_for(2).await), ["instance.created", "instance.provisioned"]);
    // The queued job finds the instance provisioned and does not ask again.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let requests = application.events();
    assert_eq!(requests.len(), 1, "the application is asked once");
    assert_eq!(requests[0].id, format!("provision-{id}"));
    let rows = app.store.audit_for_instance(&id).await.unwrap();
    assert_eq!(
        (rows[0].activity.as_deref(), rows[0].result_code.as_str()),
        (Some("newInstance"), "000000"),
        "the audit row has the answer sent"
    );
}

async fn a_slow_application_is_answered_000004_and_provisioned_by_the_job(kind: StoreKind) {
    let (app, application, _feed) = provisioning_app(kind, json!({"frontEndUrl": "https://slow.example.com/"}), 1200, 300).await;
    let started = std::time::Instant::now();
    let answer = app.call(new_instance(&order_id())).await;
    assert_eq!(code(&answer), "000004", "{answer}");
    assert!(started.elapsed() < Duration::from_millis(1200), "answered after the synchronous wait, not after the application");
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    assert_eq!(code(&query_until_settled(&app, &id).await), "000000");
    let requests = application.events();
    assert!(requests.iter().all(|request| request.id == format!("provision-{id}")), "one message ID for every attempt: {requests:?}");
}

async fn an_application_refusal_is_answered_with_its_code(kind: StoreKind) {
    let refusal = json!({"resultCode": "000105", "resultMsg": "the account already holds this product"});
    let (app, _application, feed) = provisioning_app(kind, refusal, 0, 3000).await;
    let order = order_id();
    let answer = app.call(new_instance(&order)).await;
    assert_eq!((code(&answer), answer["resultMsg"].as_str()), ("000105", Some("the account already holds this product")), "{answer}");
    let id = answer["instanceId"].as_str().unwrap().to_owned();
    assert_eq!(code(&app.call(new_instance(&order)).await), "000105", "a redelivery answers the refusal");
    assert_eq!(code(&app.call(json!({"activity": "queryInstance", "instanceId": id})).await), "000105");
    let deliveries = feed.wait_for(2).await;
    assert_eq!(types(&deliveries), ["instance.created", "instance.refused"]);
    assert_eq!(deliveries[1].body["data"]["refusal"]["code"], "000105");
    let instance = app.store.instance(&id).await.unwrap().unwrap();
    assert_eq!((instance.status.as_str(), instance.refusal.unwrap().code.as_str()), ("failed", "000105"));

    // Refused after the call was answered 000004: later calls answer the refusal.
    let (app, _application, _feed) = provisioning_app(kind, json!({"resultCode": "000106", "resultMsg": "sold out"}), 0, 0).await;
    let answer = app.call(new_instance(&order_id())).await;
    assert_eq!(code(&answer), "000004");
    let query = query_until_settled(&app, answer["instanceId"].as_str().unwrap()).await;
    assert_eq!((code(&query), query["resultMsg"].as_str()), ("000106", Some("sold out")));
    // An answer that is neither app info nor a refusal is an error of the application: retried, not taken.
    let (app, _application, _feed) = provisioning_app(kind, json!({"resultCode": "000002", "resultMsg": "?"}), 0, 3000).await;
    assert_eq!(code(&app.call(new_instance(&order_id())).await), "000004");
}

async fn the_application_change_policy_decides_change_instance_check(kind: StoreKind) {
    let policy = Receiver::start(json!({"allow": false, "reason": "30 GB used, more than the smaller plan holds"})).await;
    let endpoint = policy.url();
    let app = TestApp::spawn_with(kind, move |s| {
        s.webhook.secret = Some(SECRET.into());
        s.provisioning.change_check_endpoint = endpoint;
        s.v2.change_check_refuse_code = "000105".into();
    })
    .await;
    let (id, _) = create_instance(&app).await;
    let check = |instance_id: &str| {
        json!({"activity": "changeInstanceCheck", "instanceId": instance_id,
               "productInfo": {"productId": "OFFI-SMALL", "skuCode": "sku-small", "linearValue": 10, "productName": "Small"}})
    };
    let answer = app.call(check(&id)).await;
    assert_eq!((code(&answer), answer["resultMsg"].as_str()), ("000105", Some("30 GB used, more than the smaller plan holds")));
    let asked = policy.events();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].signature_valid);
    assert_eq!((asked[0].body["type"].as_str(), asked[0].body["instanceId"].as_str()), (Some("instance.change_check"), Some(id.as_str())));
    assert_eq!(asked[0].body["data"]["productInfo"]["skuCode"], "sku-small");

    // Debug calls and unknown instances are answered without asking.
    assert_eq!(code(&app.call(with(check("made-up"), json!({"testFlag": "1"}))).await), "000000");
    assert_eq!(code(&app.call(check("never-created")).await), "000003");
    assert_eq!(policy.events().len(), 1);

    policy.fail_with.store(500, Ordering::SeqCst);
    let answer = app.call(check(&id)).await;
    assert_eq!(code(&answer), "000005", "a policy that cannot be asked is not a yes: {answer}");
}

async fn an_allowing_change_policy_answers_success(kind: StoreKind) {
    let policy = Receiver::start(json!({"allow": true})).await;
    let endpoint = policy.url();
    let app = TestApp::spawn_with(kind, move |s| {
        s.webhook.secret = Some(SECRET.into());
        s.provisioning.change_check_endpoint = endpoint;
    })
    .await;
    let (id, _) = create_instance(&app).await;
    let check = json!({"activity": "changeInstanceCheck", "instanceId": id,
                       "productInfo": {"productId": "OFFI-BIG", "skuCode": "sku-big", "productName": "Big"}});
    assert_eq!(code(&app.call(check).await), "000000");
    assert_eq!(policy.events().len(), 1);
}

async fn a_pay_per_use_order_holds_one_instance_per_product(kind: StoreKind) {
    use koogate::sim::platform::periodic_order;
    let (app, platform) = with_open_apis(kind).await;
    // A pay-per-use order whose lines 1 and 2 are the same product, line 3 another one.
    let order = order_id();
    let mut info = periodic_order(&order, "NEW", "20301231235959");
    let line = |number: u32, product: &str| {
        let mut line = info["orderLine"][0].clone();
        line["orderLineId"] = json!(format!("{order}-00000{number}"));
        line["chargingMode"] = json!("ON_DEMAND");
        line["productInfo"][0]["productId"] = json!(product);
        line
    };
    let lines = json!([line(1, "OFFI-PPU-A"), line(2, "OFFI-PPU-A"), line(3, "OFFI-PPU-B")]);
    info["orderLine"] = lines;
    platform.add_order(info);
    let deliver = |number: u32| json!({"activity": "newInstance", "orderId": order, "orderLineId": format!("{order}-00000{number}"), "businessId": uuid::Uuid::new_v4().to_string()});
    let first = app.call(deliver(1)).await;
    let same_product = app.call(deliver(2)).await;
    let other_product = app.call(deliver(3)).await;
    assert_eq!(code(&first), "000000", "{first}");
    assert_eq!(same_product["instanceId"], first["instanceId"], "one instance per (order, product)");
    assert_ne!(other_product["instanceId"], first["instanceId"]);
    let instance = app.store.instance(first["instanceId"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!((instance.order_product.as_deref(), instance.product_id.as_deref()), (Some("OFFI-PPU-A"), Some("OFFI-PPU-A")));
    let plan: Value = serde_json::from_str(instance.plan.as_deref().unwrap()).unwrap();
    assert_eq!(plan["chargingMode"], "ON_DEMAND", "the plan from the order query made within the call");
}

async fn a_redirecting_receiver_gets_no_second_copy_of_a_signed_event(kind: StoreKind) {
    let elsewhere = Receiver::start(json!({})).await;
    let target = elsewhere.url();
    let redirect = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, target)]) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirecting_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirect).await.unwrap() });
    let app = TestApp::spawn_with(kind, move |s| {
        s.webhook.url = redirecting_url;
        s.webhook.secret = Some(SECRET.into());
        s.jobs.poll_interval_ms = 50;
        s.jobs.retry_base_ms = 100;
    })
    .await;
    create_instance(&app).await;
    let mut failed = None;
    for _ in 0..100 {
        let jobs = app.store.list_jobs(None, None, 10).await.unwrap();
        failed = jobs.into_iter().find(|job| job.last_error.is_some());
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = failed.expect("the delivery failed").last_error.unwrap();
    assert!(error.contains("307"), "{error}");
    assert!(elsewhere.events().is_empty(), "the event (with its initial password) never reached the redirect's target");
}

store_tests!(
    a_redirecting_receiver_gets_no_second_copy_of_a_signed_event,
    a_pay_per_use_order_holds_one_instance_per_product,
    the_application_change_policy_decides_change_instance_check,
    an_allowing_change_policy_answers_success,
    a_quick_application_is_answered_within_new_instance,
    a_slow_application_is_answered_000004_and_provisioned_by_the_job,
    an_application_refusal_is_answered_with_its_code,
    an_order_the_marketplace_does_not_have_is_not_asked_for_again,
    template_mode_keeps_the_purchase_orders_plan,
    debug_events_are_sent_when_asked_for,
    a_release_during_provisioning_is_repeated_after_the_provisioning_outcome,
    a_failing_feed_does_not_hold_up_provisioning,
    a_whole_lifecycle_arrives_signed_and_in_order,
    nothing_is_lost_while_the_receiver_is_down,
    two_nodes_deliver_each_event_once,
    webhook_provisioning_end_to_end,
    an_application_that_keeps_failing_leaves_a_failed_instance_and_a_retryable_job,
);
