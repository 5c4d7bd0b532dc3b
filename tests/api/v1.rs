//! The V1 production address (GET, `authToken`, `Body-Sign`, encrypted credentials), black-box on both
//! stores: the whole lifecycle, repeats, concurrency across two nodes, debug calls and refusals.

use crate::helpers::*;
use crate::store_tests;
use koogate::domain::{InstanceStatus, parse_expire_time};
use koogate::protocol::body_sign::body_sign_header;
use koogate::protocol::v1::{KeySize, V1Cipher, compute_auth_token, string_to_sign};
use serde_json::{Value, json};

const V1_KEY: &str = "test-v1-key-0123456789";
const OLD_V1_KEY: &str = "old-v1-key-0123456789";
const PHONE: &str = "13800138000";
const EMAIL: &str = "buyer@example.com";

async fn spawn_v1(kind: StoreKind) -> TestApp {
    TestApp::spawn_with(kind, |s| s.keys.v1 = serde_json::from_value(json!([V1_KEY, OLD_V1_KEY])).unwrap()).await
}

/// `value` as Java's `URLEncoder` writes it (space as `+`), as the marketplace encodes V1 parameters.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn time_stamp() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S%3f").to_string()
}

/// The query of a V1 call: `params` plus `timeStamp`, signed with `key`.
fn signed_query(params: &[(&str, String)], key: &str) -> String {
    let time_stamp = time_stamp();
    let mut pairs: Vec<(&str, String)> = params.to_vec();
    pairs.push(("timeStamp", time_stamp.clone()));
    let token = compute_auth_token(key, &time_stamp, &string_to_sign(pairs.iter().map(|(name, value)| (*name, value.as_str()))));
    let mut query: Vec<String> = pairs.iter().map(|(name, value)| format!("{name}={}", form_encode(value))).collect();
    query.push(format!("authToken={}", form_encode(&token)));
    query.join("&")
}

/// GETs `query` and checks what the marketplace checks: HTTP 200, `application/json`, ASCII, and a
/// `Body-Sign` over the exact bytes with a configured V1 key (the exact header name is on the wire: the
/// server writes Title-Case names).
async fn get(app: &TestApp, query: &str) -> Value {
    let response = app.client.get(format!("{}?{query}", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let header = response.headers().get("Body-Sign").expect("every V1 answer carries Body-Sign").to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.is_ascii());
    assert!([V1_KEY, OLD_V1_KEY].iter().any(|key| header == body_sign_header(key, &bytes)), "Body-Sign covers the exact bytes: {header}");
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(value["resultCode"].as_str().is_some_and(|c| c.len() == 6) && value["resultMsg"].is_string(), "{value}");
    value
}

async fn call(app: &TestApp, params: &[(&str, String)]) -> Value {
    get(app, &signed_query(params, V1_KEY)).await
}

fn p(name: &'static str, value: impl Into<String>) -> (&'static str, String) {
    (name, value.into())
}

fn cipher() -> V1Cipher {
    V1Cipher::new(V1_KEY, KeySize::Aes256)
}

fn extend_params() -> String {
    use base64::Engine;
    let json = json!([{"name": "identificationCode", "value": "ID-42"}, {"name": "emailDomainName", "value": "example.com"}]);
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

fn new_instance(order_id: &str) -> Vec<(&'static str, String)> {
    vec![
        p("activity", "newInstance"),
        p("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
        p("customerName", "buyer name"),
        p("businessId", uuid::Uuid::new_v4().to_string()),
        p("orderId", order_id),
        p("skuCode", "sku-basic"),
        p("productId", "OFFI-BASIC"),
        p("chargingMode", "1"),
        p("expireTime", "20300101000000"),
        p("periodType", "year"),
        p("periodNumber", "1"),
        p("orderAmount", "99.5"),
        p("mobilePhone", cipher().encrypt(PHONE)),
        p("email", V1Cipher::new(V1_KEY, KeySize::Aes128).encrypt(EMAIL)),
        p("saasExtendParams", extend_params()),
    ]
}

fn debug(mut params: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    params.push(p("testFlag", "1"));
    params
}

fn decrypt(value: &Value) -> String {
    cipher().decrypt(value.as_str().expect("an encrypted string")).expect("decrypts with the V1 key")
}

async fn create(app: &TestApp) -> (String, String, Value) {
    let order_id = order_id();
    let answer = call(app, &new_instance(&order_id)).await;
    assert_eq!(code(&answer), "000000", "{answer}");
    (answer["instanceId"].as_str().unwrap().to_owned(), order_id, answer)
}

async fn new_instance_answers_encrypted_credentials_and_keeps_the_buyer(kind: StoreKind) {
    let app = spawn_v1(kind).await;
    let order_id = order_id();
    let params = new_instance(&order_id);
    let business_id = params.iter().find(|(name, _)| *name == "businessId").unwrap().1.clone();
    let first = call(&app, &params).await;
    assert_eq!(
        (code(&first), first["encryptType"].as_str(), first["instanceId"].as_str()),
        ("000000", Some("1"), Some(business_id.as_str()))
    );
    let password = decrypt(&first["appInfo"]["password"]);
    assert_eq!(decrypt(&first["appInfo"]["userName"]), "admin");
    assert!(first["appInfo"]["password"].as_str().unwrap().len() <= 128);
    assert!(first["appInfo"]["frontEndUrl"].as_str().unwrap().contains(&business_id));

    // Delivered again (another businessId, as the marketplace does): the same instance and password,
    // freshly encrypted.
    let again = call(&app, &new_instance(&order_id)).await;
    assert_eq!(again["instanceId"], first["instanceId"]);
    assert_eq!(decrypt(&again["appInfo"]["password"]), password);
    assert_ne!(again["appInfo"]["password"], first["appInfo"]["password"], "a fresh IV every time");

    let instance = app.store.instance(&business_id).await.unwrap().unwrap();
    assert_eq!((instance.order_id.as_str(), instance.order_line_id.as_str()), (order_id.as_str(), order_id.as_str()));
    assert_eq!((instance.product_id.as_deref(), instance.expire_time_ms), (Some("OFFI-BASIC"), parse_expire_time("20300101000000")));
    let plan: Value = serde_json::from_str(instance.plan.as_deref().unwrap()).unwrap();
    assert_eq!(
        (plan["skuCode"].as_str(), plan["chargingMode"].as_i64(), plan["orderAmount"].as_str()),
        (Some("sku-basic"), Some(1), Some("99.5"))
    );
    let buyer = instance.buyer.expect("the buyer is kept");
    assert_eq!((buyer.customer_id.as_str(), buyer.customer_name.as_deref()), ("68cbc86abc2018ab880d92f36422fa0e", Some("buyer name")));
    assert_eq!(buyer.extend_params["identificationCode"], "ID-42");
    assert_eq!(buyer.extend_params_raw.as_deref(), Some(extend_params().as_str()));
    let stored = serde_json::to_string(&buyer).unwrap();
    assert!(!stored.contains(PHONE) && !stored.contains(EMAIL), "contacts are stored sealed only");
    let sealer = koogate::crypto::Sealer::new(&"test-encryption-secret".into());
    assert_eq!(
        buyer.contacts(&sealer, &business_id).unwrap(),
        (Some(PHONE.to_owned()), Some(EMAIL.to_owned())),
        "AES-128 email via the fallback"
    );

    // Nothing personal or secret in the audit log.
    let rows = audit_rows(&app, &order_id, 2).await;
    let text = format!("{rows:?}");
    assert!(!text.contains(PHONE) && !text.contains(EMAIL) && !text.contains(&password) && !text.contains("authToken="), "{text}");
    assert!(rows.iter().all(|row| row.verification == "v1/plus_as_space" && row.query.contains("mobilePhone=***")), "{rows:?}");
    assert!(rows.iter().all(|row| row.query.contains("saasExtendParams=***") && !row.query.contains(&extend_params())), "{rows:?}");
}

async fn the_whole_lifecycle_follows_the_instance_model(kind: StoreKind) {
    let app = spawn_v1(kind).await;
    let (id, purchase, _) = create(&app).await;
    let current = || async { app.store.instance(&id).await.unwrap().unwrap() };
    let id = id.as_str();

    let query = call(&app, &[p("activity", "queryInstance"), p("instanceId", format!("{id},unknown-id"))]).await;
    assert_eq!((code(&query), query["encryptType"].as_str(), query["info"][0]["instanceId"].as_str()), ("000000", Some("1"), Some(id)));
    decrypt(&query["info"][0]["appInfo"]["password"]);

    let renew = |order: &str, expire: &str, extra: Vec<(&'static str, String)>| {
        let mut params = vec![p("activity", "refreshInstance"), p("instanceId", id), p("orderId", order), p("expireTime", expire)];
        params.extend(extra);
        params
    };
    assert_eq!(code(&call(&app, &renew("CONV-1", "20310101000000", vec![p("trialToFormal", "1")])).await), "000000");
    assert_eq!(current().await.trial, Some(false));
    assert_eq!(code(&call(&app, &renew("RENEW-1", "20320101000000", vec![p("productId", "OFFI-MONTHLY")])).await), "000000");
    // A late repeat of the renewal never extends twice, nor moves a newer expiry back.
    assert_eq!(code(&call(&app, &renew("UNSUB-1", "20311201000000", vec![p("orderAmount", "-50.25")])).await), "000000");
    assert_eq!(code(&call(&app, &renew("RENEW-1", "20320101000000", vec![])).await), "000000");
    let instance = current().await;
    assert_eq!((instance.expire_time_ms, instance.product_id.as_deref()), (parse_expire_time("20311201000000"), Some("OFFI-MONTHLY")));
    let applied: Vec<String> = app.store.applied_orders(id).await.unwrap().into_iter().map(|o| o.operation).collect();
    assert_eq!(applied.len(), 3, "{applied:?}");
    assert!(applied.contains(&"refresh:UNSUBSCRIBE_RENEWAL_PERIOD".to_owned()), "{applied:?}");

    let status = |value: &str| vec![p("activity", "instanceStatus"), p("instanceId", id), p("instanceStatus", value)];
    assert_eq!(code(&call(&app, &status("FREEZE")).await), "000000");
    assert_eq!(current().await.status, InstanceStatus::Frozen);
    assert_eq!(code(&call(&app, &status("NORMAL")).await), "000000");
    assert_eq!(current().await.status, InstanceStatus::Active);

    let upgrade = vec![
        p("activity", "upgrade"),
        p("instanceId", id),
        p("orderId", "UPG-1"),
        p("skuCode", "sku-pro"),
        p("productId", "OFFI-PRO"),
        p("amount", "20"),
    ];
    assert_eq!(code(&call(&app, &upgrade).await), "000000");
    assert_eq!(code(&call(&app, &upgrade).await), "000000");
    let instance = current().await;
    let plan: Value = serde_json::from_str(instance.plan.as_deref().unwrap()).unwrap();
    assert_eq!((instance.product_id.as_deref(), instance.last_order_id.as_deref()), (Some("OFFI-PRO"), Some("UPG-1")));
    assert_eq!((plan["skuCode"].as_str(), plan["amount"].as_i64(), plan["chargingMode"].as_i64()), (Some("sku-pro"), Some(20), Some(1)));

    let expire = vec![p("activity", "expireInstance"), p("instanceId", id), p("orderId", purchase.clone())];
    assert_eq!(code(&call(&app, &expire).await), "000000");
    assert_eq!(code(&call(&app, &expire).await), "000000", "expiring again changes nothing");
    assert_eq!(current().await.status, InstanceStatus::Frozen);

    let release = vec![p("activity", "releaseInstance"), p("instanceId", id), p("orderId", purchase.clone())];
    assert_eq!(code(&call(&app, &release).await), "000000");
    assert_eq!(code(&call(&app, &release).await), "000000");
    assert_eq!(current().await.status, InstanceStatus::Released);
    assert_eq!(code(&call(&app, &status("NORMAL")).await), "000003");

    let unknown = vec![p("activity", "instanceStatus"), p("instanceId", "never-created"), p("instanceStatus", "FREEZE")];
    assert_eq!(code(&call(&app, &unknown).await), "000003");
    let events: Vec<String> = app.store.events_for_instance(id).await.unwrap().iter().map(|e| e.event_type.as_str().to_owned()).collect();
    assert_eq!(
        (events.first().map(String::as_str), events.last().map(String::as_str)),
        (Some("instance.created"), Some("instance.released"))
    );
}

async fn parallel_deliveries_on_two_nodes_create_one_instance(kind: StoreKind) {
    let node_a = spawn_v1(kind).await;
    let node_b = TestApp::spawn_on(node_a.db.clone(), |s| s.keys.v1 = serde_json::from_value(json!([V1_KEY])).unwrap()).await;
    let order_id = order_id();
    let deliveries = (0..20).map(|i| {
        let app = if i % 2 == 0 { &node_a } else { &node_b };
        let params = new_instance(&order_id);
        async move { call(app, &params).await }
    });
    let answers = futures::future::join_all(deliveries).await;
    let ids: std::collections::HashSet<&str> = answers.iter().map(|answer| answer["instanceId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert!(answers.iter().all(|answer| code(answer) == "000000"));
    assert_eq!(node_a.store.count_instances_for_order_line(&order_id, &order_id).await.unwrap(), 1);
}

async fn pay_per_use_orders_hold_one_instance_per_product(kind: StoreKind) {
    let app = spawn_v1(kind).await;
    let order_id = order_id();
    let product = |product: &str| {
        let mut params = new_instance(&order_id);
        params.retain(|(name, _)| !["productId", "chargingMode", "expireTime"].contains(name));
        params.extend([p("productId", product), p("chargingMode", "0")]);
        params
    };
    let a = call(&app, &product("OFFI-A")).await;
    let b = call(&app, &product("OFFI-B")).await;
    let a_again = call(&app, &product("OFFI-A")).await;
    assert_ne!(a["instanceId"], b["instanceId"]);
    assert_eq!(a["instanceId"], a_again["instanceId"]);
    let mut without_mode = product("OFFI-A");
    without_mode.retain(|(name, _)| *name != "chargingMode");
    assert_eq!(call(&app, &without_mode).await["instanceId"], a["instanceId"], "a redelivery without chargingMode finds the instance");
    let mut missing = product("OFFI-C");
    missing.retain(|(name, _)| *name != "productId");
    assert_eq!(call(&app, &missing).await["resultMsg"], "productId is required for pay-per-use orders (chargingMode 0)");
}

async fn debug_calls_succeed_from_the_debug_namespace(kind: StoreKind) {
    let app = spawn_v1(kind).await;
    let order_id = order_id();
    let mut created = new_instance(&order_id);
    // The debugger's sample contacts need not decrypt.
    created.retain(|(name, _)| *name != "mobilePhone");
    created.push(p("mobilePhone", "not-a-ciphertext"));
    let first = call(&app, &debug(created.clone())).await;
    assert_eq!(code(&first), "000000", "{first}");
    decrypt(&first["appInfo"]["password"]);
    let again = call(&app, &debug(new_instance(&order_id))).await;
    assert_eq!(again["instanceId"], first["instanceId"], "repeats answer the first debug instance");
    assert!(app.store.instance(first["instanceId"].as_str().unwrap()).await.unwrap().is_none(), "no real instance");
    let made_up = "huaweitest123456";
    for params in [
        vec![p("activity", "refreshInstance"), p("instanceId", made_up), p("orderId", "DBG"), p("expireTime", "20300101000000")],
        vec![p("activity", "instanceStatus"), p("instanceId", made_up), p("instanceStatus", "FREEZE")],
        vec![p("activity", "expireInstance"), p("instanceId", made_up), p("orderId", "DBG")],
        vec![p("activity", "releaseInstance"), p("instanceId", made_up), p("orderId", "DBG")],
        vec![p("activity", "upgrade"), p("instanceId", made_up), p("orderId", "DBG"), p("skuCode", "s"), p("productId", "x")],
        vec![p("activity", "queryInstance"), p("instanceId", made_up)],
    ] {
        let answer = call(&app, &debug(params.clone())).await;
        assert_eq!(code(&answer), "000000", "{params:?}: {answer}");
    }
}

async fn refusals_name_the_problem_and_are_signed(kind: StoreKind) {
    let app = spawn_v1(kind).await;
    let params = new_instance(&order_id());
    let refused = |answer: Value| (answer["resultCode"].as_str().unwrap().to_owned(), answer["resultMsg"].as_str().unwrap().to_owned());

    let (code, message) = refused(get(&app, &signed_query(&params, "a-wrong-v1-key-123456")).await);
    assert_eq!((code.as_str(), message.as_str()), ("000001", "authToken verification failed"));
    // The marketplace encrypts with the key it signs with: contacts are decrypted with the verifying key.
    let mut rotated = new_instance(&order_id());
    rotated.retain(|(name, _)| !["mobilePhone", "email"].contains(name));
    rotated.push(p("mobilePhone", V1Cipher::new(OLD_V1_KEY, KeySize::Aes256).encrypt(PHONE)));
    let (code, _) = refused(get(&app, &signed_query(&rotated, OLD_V1_KEY)).await);
    assert_eq!(code, "000000", "a rotated key still verifies");

    let query = signed_query(&params, V1_KEY);
    let without_token = query.split('&').filter(|pair| !pair.starts_with("authToken=")).collect::<Vec<_>>().join("&");
    assert_eq!(refused(get(&app, &without_token).await), ("000001".into(), "authToken query parameter is required".into()));
    assert_eq!(refused(get(&app, &format!("{without_token}&authToken=%%%not-base64")).await).0, "000001");
    let tampered = query.replace("orderAmount=99.5", "orderAmount=0.01");
    assert_eq!(refused(get(&app, &tampered).await).0, "000001", "a tampered value does not verify");
    let without_time = query.split('&').filter(|pair| !pair.starts_with("timeStamp=")).collect::<Vec<_>>().join("&");
    assert_eq!(refused(get(&app, &without_time).await), ("000002".into(), "timeStamp query parameter is required".into()));

    let checks: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (vec![p("activity", "getSomething"), p("instanceId", "i")], "activity \"getSomething\" is not a supported V1 interface"),
        (vec![p("instanceId", "i")], "activity is required"),
        (
            vec![p("activity", "instanceStatus"), p("instanceId", "x".repeat(65)), p("instanceStatus", "FREEZE")],
            "instanceId exceeds 64 characters",
        ),
        (
            vec![p("activity", "instanceStatus"), p("instanceId", "i"), p("instanceStatus", "PAUSE")],
            "instanceStatus must be FREEZE or NORMAL, got \"PAUSE\"",
        ),
        (
            vec![p("activity", "refreshInstance"), p("instanceId", "i"), p("orderId", "o"), p("expireTime", "2030")],
            "expireTime must be a UTC time as yyyyMMddHHmmss",
        ),
    ];
    for (params, message) in checks {
        assert_eq!(refused(call(&app, &params).await), ("000002".into(), message.to_owned()), "{params:?}");
    }
    let with = |name: &'static str, value: &str| {
        let mut changed = new_instance(&order_id());
        changed.retain(|(existing, _)| *existing != name);
        changed.push(p(name, value));
        changed
    };
    assert_eq!(refused(call(&app, &with("orderId", &"o".repeat(65))).await).1, "orderId exceeds 64 characters");
    assert_eq!(refused(call(&app, &with("saasExtendParams", "not base64!")).await).1, "saasExtendParams is not Base64");
    assert!(refused(call(&app, &with("mobilePhone", "abcdefghijklmnopAAAA")).await).1.starts_with("mobilePhone could not be decrypted"));
    assert_eq!(refused(call(&app, &with("customerId", "")).await).1, "customerId is required");
    let many: Vec<String> = (0..150).map(|i| format!("p{i}=x")).collect();
    assert_eq!(refused(get(&app, &format!("{}&{query}", many.join("&"))).await).1, "the query has more than 100 parameters");
    let instances = app.store.list_instances(&koogate::store::InstanceFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(instances.len(), 1, "only the call signed with the rotated key created an instance; refusals write nothing");
}

async fn a_raw_plus_in_a_value_verifies_under_either_decoding(kind: StoreKind) {
    let app = spawn_v1(kind).await;
    // The marketplace sometimes sends Base64 values with a raw `+` (D2): the token covers the `+`.
    let phone = loop {
        let encrypted = cipher().encrypt(PHONE);
        if encrypted.contains('+') {
            break encrypted;
        }
    };
    let mut params = new_instance(&order_id());
    params.retain(|(name, _)| *name != "mobilePhone");
    let time_stamp = time_stamp();
    let mut pairs: Vec<(&str, String)> = params.clone();
    pairs.push(("mobilePhone", phone.clone()));
    pairs.push(("timeStamp", time_stamp.clone()));
    let token = compute_auth_token(V1_KEY, &time_stamp, &string_to_sign(pairs.iter().map(|(name, value)| (*name, value.as_str()))));
    // Spaces percent-encoded (not `+`), so that only the ciphertext's `+` tells the decodings apart.
    let mut query: Vec<String> = params.iter().map(|(name, value)| format!("{name}={}", form_encode(value).replace('+', "%20"))).collect();
    query.push(format!("mobilePhone={phone}"));
    query.push(format!("timeStamp={time_stamp}&authToken={}", form_encode(&token)));
    let answer = get(&app, &query.join("&")).await;
    assert_eq!(code(&answer), "000000", "{answer}");
    let rows = app.store.audit_for_instance(answer["instanceId"].as_str().unwrap()).await.unwrap();
    assert_eq!(rows[0].verification, "v1/plus_literal");
}

async fn without_v1_keys_get_calls_are_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let response = app.client.get(format!("{}?{}", app.url, signed_query(&new_instance(&order_id()), V1_KEY))).send().await.unwrap();
    let answer = answer(response).await;
    assert_eq!(code(&answer), "000002");
    assert!(answer["resultMsg"].as_str().unwrap().contains("keys.v1"));
}

async fn max_age_refuses_stale_calls_and_replayed_tokens(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |s| {
        s.keys.v1 = serde_json::from_value(json!([V1_KEY])).unwrap();
        s.v1.max_age_secs = 300;
    })
    .await;
    let query = signed_query(&new_instance(&order_id()), V1_KEY);
    assert_eq!(code(&get(&app, &query).await), "000000");
    let replay = get(&app, &query).await;
    assert_eq!((code(&replay), replay["resultMsg"].as_str()), ("000001", Some("authToken has already been used (replayed request)")));
    let stale = "20200101000000000";
    let mut params = new_instance(&order_id());
    params.push(p("timeStamp", stale));
    let token = compute_auth_token(V1_KEY, stale, &string_to_sign(params.iter().map(|(name, value)| (*name, value.as_str()))));
    let mut query: Vec<String> = params.iter().map(|(name, value)| format!("{name}={}", form_encode(value))).collect();
    query.push(format!("authToken={}", form_encode(&token)));
    let answer = get(&app, &query.join("&")).await;
    assert_eq!(code(&answer), "000002");
    assert!(answer["resultMsg"].as_str().unwrap().contains("v1.max_age_secs"), "{answer}");
}

async fn the_feed_gives_the_application_the_buyer_and_its_contacts_once(kind: StoreKind) {
    let receiver = crate::webhooks::Receiver::start(json!({})).await;
    let deliver = crate::webhooks::deliver_to(&receiver);
    let app = TestApp::spawn_with(kind, |s| {
        deliver(s);
        s.keys.v1 = serde_json::from_value(json!([V1_KEY])).unwrap();
    })
    .await;
    let (id, _, created) = create(&app).await;
    let status = vec![p("activity", "instanceStatus"), p("instanceId", id.clone()), p("instanceStatus", "FREEZE")];
    assert_eq!(code(&call(&app, &status).await), "000000");
    let deliveries = receiver.wait_for(2).await;
    let (first, second) = (&deliveries[0].body, &deliveries[1].body);
    assert_eq!((first["type"].as_str(), second["type"].as_str()), (Some("instance.created"), Some("instance.frozen")));
    let buyer = &first["data"]["buyer"];
    assert_eq!((buyer["mobilePhone"].as_str(), buyer["email"].as_str()), (Some(PHONE), Some(EMAIL)), "{first}");
    assert_eq!(
        (buyer["customerId"].as_str(), buyer["extendParams"]["identificationCode"].as_str()),
        (Some("68cbc86abc2018ab880d92f36422fa0e"), Some("ID-42"))
    );
    assert_eq!(first["data"]["appInfo"]["password"].as_str().unwrap(), decrypt(&created["appInfo"]["password"]));
    let later = &second["data"]["buyer"];
    assert!(later["mobilePhone"].is_null() && later["mobilePhoneSealed"].is_null() && later["customerId"].is_string(), "{second}");
    assert!(later["extendParams"].is_null() && later["extendParamsRaw"].is_null(), "saasExtendParams only in instance.created: {second}");
    assert_eq!(second["data"]["plan"]["skuCode"], "sku-basic");
}

async fn an_application_password_too_long_to_encrypt_is_not_taken(kind: StoreKind) {
    let answer = json!({"frontEndUrl": "https://t.example.com/", "userName": "owner", "password": "p".repeat(100)});
    let application = crate::webhooks::Receiver::start(answer).await;
    let endpoint = application.url();
    let app = TestApp::spawn_with(kind, move |s| {
        s.keys.v1 = serde_json::from_value(json!([V1_KEY])).unwrap();
        s.webhook.secret = Some(crate::webhooks::SECRET.into());
        s.provisioning.mode = koogate::provisioning::ProvisioningMode::Webhook;
        s.provisioning.endpoint = endpoint;
    })
    .await;
    let params = new_instance(&order_id());
    let first = call(&app, &params).await;
    assert_eq!(code(&first), "000004", "the application's answer does not fit V1, so the instance is not provisioned: {first}");
    application.wait_for(1).await;
    let instance = app.store.instance(first["instanceId"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(instance.status, InstanceStatus::Provisioning, "retried (and visible to operators), never answered 000005 for ever");
}

store_tests!(
    an_application_password_too_long_to_encrypt_is_not_taken,
    new_instance_answers_encrypted_credentials_and_keeps_the_buyer,
    the_feed_gives_the_application_the_buyer_and_its_contacts_once,
    the_whole_lifecycle_follows_the_instance_model,
    parallel_deliveries_on_two_nodes_create_one_instance,
    pay_per_use_orders_hold_one_instance_per_product,
    debug_calls_succeed_from_the_debug_namespace,
    refusals_name_the_problem_and_are_signed,
    a_raw_plus_in_a_value_verifies_under_either_decoding,
    without_v1_keys_get_calls_are_refused,
    max_age_refuses_stale_calls_and_replayed_tokens,
);
