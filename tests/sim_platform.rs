//! `koogate sim platform` over HTTP, as a client of the marketplace's open APIs sees it: AK/SK and
//! usage-push signatures checked like the gateway, documented answers, injected failures, and the
//! record of what was received.

use chrono::{TimeDelta, Utc};
use koogate::protocol::apig::{DATE_FORMAT, SignedRequest};
use koogate::protocol::usage_sign::usage_push_signature;
use koogate::sim::platform::{Platform, PlatformConfig, ReceivedCall, mock_orders};
use serde_json::{Value, json};

const AK: &str = "sim-ak";
const SK: &str = "sim-sk";
const USAGE_KEY: &str = "sim-usage-key";
const ORDER_QUERY: &str = "/api/mkp-openapi-public/global/v1/order/query";
const USAGE_PUSH: &str = "/api/mkp-openapi-public/global/v1/isv/usage-data";
const USAGE_PUSH_OLD: &str = "/rest/marketplace/v1/isv/usage-data";
const ACTIVATE_V1: &str = "/api/mkp-openapi-public/global/v1/license/activate";
const ACTIVATE_V2: &str = "/api/mkp-openapi-public/global/v2/license/activate";
const HEARTBEAT_V1: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";

async fn platform() -> Platform {
    let config = PlatformConfig { ak: AK.into(), sk: SK.into(), usage_key: Some(USAGE_KEY.into()) };
    Platform::start(config, "127.0.0.1:0").await.unwrap()
}

fn sdk_date(offset: TimeDelta) -> String {
    (Utc::now() + offset).format(DATE_FORMAT).to_string()
}

/// An AK/SK-signed call the way koogate's client makes it: `Content-Type`, `Host` and `X-Sdk-Date` signed.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    body: Vec<u8>,
    ak: &'a str,
    sk: &'a str,
    date: String,
}

impl<'a> Call<'a> {
    fn get(path: &'a str, query: &'a [(&'a str, &'a str)]) -> Call<'a> {
        Call { method: "GET", path, query, body: Vec::new(), ak: AK, sk: SK, date: sdk_date(TimeDelta::zero()) }
    }

    fn post(path: &'a str, body: &Value) -> Call<'a> {
        Call { method: "POST", path, query: &[], body: body.to_string().into_bytes(), ak: AK, sk: SK, date: sdk_date(TimeDelta::zero()) }
    }

    async fn send(self, platform: &Platform) -> (u16, Value) {
        let url = platform.url();
        let host = url.trim_start_matches("http://").to_owned();
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Host".to_owned(), host),
            ("X-Sdk-Date".to_owned(), self.date.clone()),
        ];
        let query: Vec<(String, String)> = self.query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let request = SignedRequest { method: self.method, path: self.path, query: &query, headers: &headers, body: &self.body };
        let authorization = request.authorization(self.ak, self.sk);
        let mut target = format!("{url}{}", self.path);
        if !query.is_empty() {
            target.push('?');
            target.push_str(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish());
        }
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let response = reqwest::Client::new()
            .request(method, target)
            .header("Content-Type", "application/json")
            .header("X-Sdk-Date", &self.date)
            .header("Authorization", authorization)
            .body(self.body)
            .send()
            .await
            .unwrap();
        answer(response).await
    }
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    (status, response.json().await.unwrap())
}

/// A new usage push (signing.md (g)): body sent byte for byte as signed.
async fn usage_push(platform: &Platform, body: &Value, key: &str) -> (u16, Value) {
    let body = body.to_string();
    let ts = Utc::now().timestamp_millis().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let signature = usage_push_signature(key, &ts, &nonce, body.as_bytes());
    let response = reqwest::Client::new()
        .post(format!("{}{USAGE_PUSH}", platform.url()))
        .header("Content-Type", "application/json")
        .header("ts", ts)
        .header("nonce", nonce)
        .header("signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    answer(response).await
}

fn new_record(instance: &str, begin: &str, end: &str) -> Value {
    json!({
        "begin_time": begin,
        "end_time": end,
        "instance_id": instance,
        "metering_sn": uuid::Uuid::new_v4().to_string(),
        "record_time": "20250101T010203Z",
        "usage_value": "12.5",
    })
}

#[tokio::test]
async fn order_query_serves_a_mock_order_in_the_documented_shape() {
    let platform = platform().await;
    let (status, body) =
        Call::get(ORDER_QUERY, &[("orderId", "MOCKPERIODYEARNEW"), ("orderLineId", "MOCKPERIODYEARNEW-000001")]).send(&platform).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resultCode"], "MKT.0000");
    assert_eq!(body["resultMsg"], "success");
    let order = &body["orderInfo"];
    assert_eq!(order["orderId"], "MOCKPERIODYEARNEW");
    assert_eq!(order["orderType"], "NEW");
    assert_eq!(order["createTime"], "20241121090846");
    let line = &order["orderLine"][0];
    assert_eq!(line["orderLineId"], "MOCKPERIODYEARNEW-000001");
    assert_eq!(line["chargingMode"], "PERIOD");
    assert_eq!(line["periodType"], "year");
    assert_eq!(line["periodNumber"], 1);
    assert_eq!(line["expireTime"], "20251121235959");
    for member in ["productId", "skuCode", "linearValue", "productName"] {
        assert!(line["productInfo"][0].get(member).is_some(), "productInfo lacks {member}");
    }
    for member in ["customerId", "customerName", "customerRealName", "customerType", "mobilePhone", "email", "userId", "userName"] {
        assert!(order["buyerInfo"].get(member).is_some(), "buyerInfo lacks {member}");
    }
    assert!(order["extendParams"].is_array());

    let calls = platform.received();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].api, "order_query");
    assert!(calls[0].authenticated);
    assert_eq!(calls[0].query, "orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001");
    platform.stop().await;
}

#[tokio::test]
async fn all_nine_debug_orders_exist_with_their_line() {
    let orders = mock_orders();
    assert_eq!(orders.len(), 9);
    for order in &orders {
        let id = order["orderId"].as_str().unwrap();
        assert_eq!(order["orderLine"][0]["orderLineId"], format!("{id}-000001"));
    }
}

#[tokio::test]
async fn unknown_orders_lines_and_missing_order_ids_are_refused() {
    let platform = platform().await;
    let (status, body) = Call::get(ORDER_QUERY, &[("orderId", "NOSUCHORDER")]).send(&platform).await;
    assert_eq!((status, body["resultCode"].as_str()), (200, Some("MKT.0100")));
    let (status, body) = Call::get(ORDER_QUERY, &[("orderId", "MOCKONDEMAND"), ("orderLineId", "OTHER-000001")]).send(&platform).await;
    assert_eq!((status, body["resultCode"].as_str()), (200, Some("MKT.0100")));
    let (status, body) = Call::get(ORDER_QUERY, &[]).send(&platform).await;
    assert_eq!(status, 400);
    assert_ne!(body["resultCode"], "MKT.0000");
    platform.stop().await;
}

#[tokio::test]
async fn a_wrong_sk_is_refused_like_the_gateway_and_recorded_unauthenticated() {
    let platform = platform().await;
    let call = Call { sk: "not-the-sk", ..Call::get(ORDER_QUERY, &[("orderId", "MOCKONETIMENEW")]) };
    let (status, body) = call.send(&platform).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_code"], "APIGW.0301");
    assert_eq!(body["error_msg"], "Incorrect IAM authentication information: verify aksk signature fail");
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(!body.to_string().contains(SK));

    let calls = platform.received();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].authenticated);
    assert_eq!(calls[0].status, 401);
    assert_eq!(calls[0].answer, body);
    platform.stop().await;
}

#[tokio::test]
async fn an_unknown_ak_a_stale_date_and_a_missing_authorization_are_refused() {
    let platform = platform().await;
    let call = Call { ak: "other-ak", ..Call::get(ORDER_QUERY, &[("orderId", "MOCKONETIMENEW")]) };
    let (status, body) = call.send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (401, Some("APIGW.0301")));
    assert_eq!(body["error_msg"], "Incorrect IAM authentication information: Get secretKey failed,ak:other-ak,err:ak not exist");

    let call = Call { date: sdk_date(TimeDelta::minutes(-20)), ..Call::get(ORDER_QUERY, &[("orderId", "MOCKONETIMENEW")]) };
    let (status, body) = call.send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (401, Some("APIGW.0301")));
    assert!(body["error_msg"].as_str().unwrap().contains("x-sdk-date"), "{body}");

    // A date 10 minutes ahead is still inside the gateway's 15-minute window.
    let call = Call { date: sdk_date(TimeDelta::minutes(10)), ..Call::get(ORDER_QUERY, &[("orderId", "MOCKONETIMENEW")]) };
    assert_eq!(call.send(&platform).await.0, 200);

    let response = reqwest::get(format!("{}{ORDER_QUERY}?orderId=MOCKONETIMENEW", platform.url())).await.unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_msg"], "Incorrect IAM authentication information: no Authorization");

    let authenticated: Vec<bool> = platform.received().iter().map(|call| call.authenticated).collect();
    assert_eq!(authenticated, [false, false, true, false]);
    platform.stop().await;
}

#[tokio::test]
async fn added_orders_are_served_whole_or_by_line() {
    let platform = platform().await;
    let mut order = mock_orders().remove(0);
    order["orderId"] = json!("ORDER-42");
    order["orderLine"] = json!([
        { "orderLineId": "ORDER-42-000001", "chargingMode": "PERIOD" },
        { "orderLineId": "ORDER-42-000002", "chargingMode": "ON_DEMAND" },
    ]);
    platform.add_order(order);
    let (status, body) = Call::get(ORDER_QUERY, &[("orderId", "ORDER-42")]).send(&platform).await;
    assert_eq!((status, body["resultCode"].as_str()), (200, Some("MKT.0000")));
    assert_eq!(body["orderInfo"]["orderLine"].as_array().unwrap().len(), 2);
    let (_, body) = Call::get(ORDER_QUERY, &[("orderId", "ORDER-42"), ("orderLineId", "ORDER-42-000002")]).send(&platform).await;
    assert_eq!(body["orderInfo"]["orderLine"], json!([{ "orderLineId": "ORDER-42-000002", "chargingMode": "ON_DEMAND" }]));

    // The control route does the same for tools outside the process.
    let client = reqwest::Client::new();
    let added = client
        .post(format!("{}/sim/orders", platform.url()))
        .json(&json!({ "orderId": "ORDER-43", "orderLine": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let (_, body) = Call::get(ORDER_QUERY, &[("orderId", "ORDER-43")]).send(&platform).await;
    assert_eq!(body["orderInfo"]["orderId"], "ORDER-43");
    let refused = client.post(format!("{}/sim/orders", platform.url())).json(&json!({ "orderLine": [] })).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    platform.stop().await;
}

#[tokio::test]
async fn injected_failures_answer_before_anything_else_then_stop() {
    let platform = platform().await;
    platform.fail_next(2, 503);
    for _ in 0..2 {
        let (status, body) = Call::get(ORDER_QUERY, &[("orderId", "MOCKONDEMAND")]).send(&platform).await;
        assert_eq!(status, 503);
        assert!(body["error_code"].as_str().unwrap().starts_with("APIGW."), "{body}");
    }
    let (status, _) = Call::get(ORDER_QUERY, &[("orderId", "MOCKONDEMAND")]).send(&platform).await;
    assert_eq!(status, 200);

    // Through the control route; control routes themselves never fail on purpose.
    let client = reqwest::Client::new();
    let set = client.post(format!("{}/sim/fail", platform.url())).json(&json!({ "count": 1, "status": 429 })).send().await.unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(client.get(format!("{}/sim/received", platform.url())).send().await.unwrap().status(), 200);
    let (status, body) = Call::get(ORDER_QUERY, &[("orderId", "MOCKONDEMAND")]).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (429, Some("APIGW.0308")));

    let statuses: Vec<u16> = platform.received().iter().map(|call| call.status).collect();
    assert_eq!(statuses, [503, 503, 200, 429]);
    platform.stop().await;
}

#[tokio::test]
async fn the_new_usage_push_checks_its_signature_and_records() {
    let platform = platform().await;
    let good = json!({ "usage_records": [new_record("inst-1", "20250101T000000Z", "20250101T010000Z")] });
    let (status, body) = usage_push(&platform, &good, USAGE_KEY).await;
    assert_eq!((status, body), (200, json!({ "error_code": "MKT.0000", "error_msg": "success" })));

    let (status, body) = usage_push(&platform, &good, "wrong-key").await;
    assert_eq!((status, body), (400, json!({ "error_code": "MKT.0102", "error_msg": "invalid body signature" })));

    let mut malformed = new_record("inst-1", "2025-01-01 00:00:00", "20250101T010000Z");
    malformed["usage_value"] = json!(12.5);
    let (status, body) = usage_push(&platform, &json!({ "usage_records": [malformed] }), USAGE_KEY).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("MKT.0101")));
    let (status, body) = usage_push(&platform, &json!({ "usage_records": [] }), USAGE_KEY).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("MKT.0101")));

    // The same window for the same instance again: accepted, kept as a duplicate.
    let again = json!({ "usage_records": [
        new_record("inst-1", "20250101T000000Z", "20250101T010000Z"),
        new_record("inst-1", "20250101T010000Z", "20250101T020000Z"),
    ] });
    assert_eq!(usage_push(&platform, &again, USAGE_KEY).await.0, 200);
    let duplicates: Vec<bool> = platform.usage_records().iter().map(|kept| kept.duplicate).collect();
    assert_eq!(duplicates, [false, true, false]);

    let calls = platform.received();
    let authenticated: Vec<bool> = calls.iter().map(|call| call.authenticated).collect();
    assert_eq!(authenticated, [true, false, true, true, true]);
    assert!(calls.iter().all(|call| call.api == "usage_push"));
    assert_eq!(calls[0].body, good);
    platform.stop().await;
}

#[tokio::test]
async fn without_a_usage_key_new_usage_pushes_are_refused() {
    let config = PlatformConfig { ak: AK.into(), sk: SK.into(), usage_key: None };
    let platform = Platform::start(config, "127.0.0.1:0").await.unwrap();
    let body = json!({ "usage_records": [new_record("inst-1", "20250101T000000Z", "20250101T010000Z")] });
    let (status, answer) = usage_push(&platform, &body, USAGE_KEY).await;
    assert_eq!((status, answer["error_code"].as_str()), (400, Some("MKT.0102")));
    platform.stop().await;
}

#[tokio::test]
async fn the_old_usage_push_is_ak_sk_signed_and_needs_product_id() {
    let platform = platform().await;
    let record = json!({
        "instance_id": "inst-1",
        "product_id": "prod-1",
        "record_time": "20250101T010203Z",
        "begin_time": "20250101T000000Z",
        "end_time": "20250101T010000Z",
        "usage_value": "3",
    });
    let (status, body) = Call::post(USAGE_PUSH_OLD, &json!({ "usage_records": [record.clone()] })).send(&platform).await;
    assert_eq!((status, body), (200, json!({ "error_code": "MKT.0000", "error_msg": "success" })));

    let mut without_product = record.clone();
    without_product.as_object_mut().unwrap().remove("product_id");
    let (status, body) = Call::post(USAGE_PUSH_OLD, &json!({ "usage_records": [without_product] })).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("MKT.0101")));

    let call = Call { sk: "not-the-sk", ..Call::post(USAGE_PUSH_OLD, &json!({ "usage_records": [record] })) };
    let (status, body) = call.send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (401, Some("APIGW.0301")));

    let calls = platform.received();
    assert!(calls.iter().all(|call| call.api == "usage_push_old"));
    assert_eq!(platform.usage_records().len(), 1);
    platform.stop().await;
}

#[tokio::test]
async fn a_license_code_activates_once_and_answers_heartbeats_only_after() {
    let platform = platform().await;
    let (status, body) = Call::post(HEARTBEAT_V1, &json!({ "license": "PL0001" })).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (200, Some("92020011")));

    let (status, body) = Call::post(ACTIVATE_V1, &json!({ "license": "PL0001" })).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (200, Some("92020000")), "{body}");
    let info: Value = serde_json::from_str(body["data"]["license_code_info"].as_str().expect("a JSON string")).unwrap();
    assert_eq!(info["status"], "ALIVE");
    for member in ["expire_time", "product_id", "amount", "order_id"] {
        assert!(info.get(member).is_some(), "license_code_info lacks {member}");
    }

    let (status, body) = Call::post(ACTIVATE_V1, &json!({ "license": "PL0001" })).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (200, Some("92020003")));
    let (_, body) = Call::post(ACTIVATE_V2, &json!({ "license_list": ["PL0001", "PL0002"] })).send(&platform).await;
    assert_eq!(body["error_code"], "92020020");
    let results: Vec<&str> =
        body["data"]["license_code_info_list"].as_array().unwrap().iter().map(|r| r["error_code"].as_str().unwrap()).collect();
    assert_eq!(results, ["92020003", "92020000"]);

    let (status, body) = Call::post(HEARTBEAT_V1, &json!({ "license": "PL0001" })).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (200, Some("92020000")));
    assert_eq!(body["data"]["license_code"], "PL0001");
    assert_eq!(body["data"]["status"], "ALIVE");
    assert!(body["data"]["activate_time"].is_string());

    let (status, body) = Call::post(ACTIVATE_V1, &json!({ "code": "PL0003" })).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("95000001")));
    let mut call = Call::post(ACTIVATE_V1, &json!({}));
    call.body = b"{not json".to_vec();
    let (status, body) = call.send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("95000004")));
    platform.stop().await;
}

#[tokio::test]
async fn software_usage_lists_codes_that_were_never_activated() {
    let platform = platform().await;
    Call::post(ACTIVATE_V1, &json!({ "license": "PL0001" })).send(&platform).await;
    let usage = json!({ "usage_info": [
        { "license": "PL0001", "software_usage_Info": [{ "id": "alice" }, { "id": "bob" }] },
        { "license": "PL0009", "software_usage_Info": [{ "active_num": 3 }] },
    ] });
    let (status, body) = Call::post("/api/mkp-openapi-public/global/v2/license/software-usage-info", &usage).send(&platform).await;
    assert_eq!((status, body["error_code"].as_str()), (200, Some("92020000")));
    assert_eq!(body["data"]["check_fail_license_list"], json!(["PL0009"]));
    assert_eq!(platform.received().last().unwrap().api, "license_usage");
    platform.stop().await;
}

#[tokio::test]
async fn sim_received_lists_every_api_call_and_unknown_paths_get_the_gateway_404() {
    let platform = platform().await;
    Call::get(ORDER_QUERY, &[("orderId", "MOCKMONTYRENEW")]).send(&platform).await;
    let response = reqwest::Client::new().post(format!("{}/api/nothing/here", platform.url())).body("x").send().await.unwrap();
    let (status, body) = answer(response).await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("APIGW.0101")));
    assert_eq!(body["error_msg"], "The API does not exist or has not been published in the environment");
    // A published path with the wrong method is not an API either.
    let response = reqwest::Client::new().post(format!("{}{ORDER_QUERY}", platform.url())).send().await.unwrap();
    assert_eq!(response.status(), 404);

    let response = reqwest::get(format!("{}/sim/received", platform.url())).await.unwrap();
    let (status, listed) = answer(response).await;
    assert_eq!(status, 200);
    let listed: Vec<ReceivedCall> = serde_json::from_value(listed).unwrap();
    let apis: Vec<&str> = listed.iter().map(|call| call.api.as_str()).collect();
    assert_eq!(apis, ["order_query", "unknown", "order_query"]);
    assert_eq!(listed[0].method, "GET");
    assert_eq!(listed[0].path, ORDER_QUERY);
    assert_eq!(listed[1].body, Value::Null);
    assert_eq!(listed.len(), platform.received().len());
    platform.stop().await;
}
