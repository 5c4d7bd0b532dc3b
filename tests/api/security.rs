use crate::helpers::*;
use crate::store_tests;
use koogate::protocol::v2::signature::v2_sign;
use serde_json::json;

fn url_with(app: &TestApp, key: &str, body: &[u8], nonce: &str, timestamp: &str) -> String {
    format!("{}?signature={}&timestamp={timestamp}&nonce={nonce}", app.url, v2_sign(key, nonce, timestamp, body))
}

async fn refusal(app: &TestApp, url: &str, body: impl Into<reqwest::Body>) -> (String, String) {
    let answer = answer(app.post_raw(url, body).await).await;
    (code(&answer).to_owned(), answer["resultMsg"].as_str().unwrap().to_owned())
}

async fn bad_signatures_and_timestamps_are_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let body = canonical(&new_instance(&order));
    let now = koogate::now_ms();
    let url = |key: &str, timestamp: i64| url_with(&app, key, &body, &fresh_nonce(), &timestamp.to_string());

    assert_eq!(refusal(&app, &url("wrong-key", now), body.clone()).await.0, "000001");
    assert_eq!(refusal(&app, &url(BASIC_KEY, now - 61_000), body.clone()).await.0, "000002", "stale");
    assert_eq!(refusal(&app, &url(BASIC_KEY, now + 61_000), body.clone()).await.0, "000002", "future");
    let in_seconds = url(BASIC_KEY, now / 1000);
    assert_eq!(refusal(&app, &in_seconds, body.clone()).await.0, "000000", "a 10-digit timestamp is read as seconds");
    // A raw '+' in the nonce is kept as a '+' (not form-decoded to a space).
    let plus_body = canonical(&new_instance(&order_id()));
    let url = format!(
        "{}?signature={}&timestamp={now}&nonce=ab+cd{}",
        app.url,
        v2_sign(BASIC_KEY, &format!("ab+cd{now}"), &now.to_string(), &plus_body),
        now
    );
    assert_eq!(refusal(&app, &url, plus_body).await.0, "000000");

    let nonce = fresh_nonce();
    let ts = now.to_string();
    let signature = v2_sign(BASIC_KEY, &nonce, &ts, &body);
    let cases = [
        (format!("{}?timestamp={ts}&nonce={nonce}", app.url), "000001", "signature"),
        (format!("{}?signature={signature}&nonce={nonce}", app.url), "000002", "timestamp"),
        (format!("{}?signature={signature}&timestamp=abc&nonce={nonce}", app.url), "000002", "timestamp"),
        (format!("{}?signature={signature}&timestamp={ts}", app.url), "000002", "nonce"),
        (format!("{}?signature=zz{}&timestamp={ts}&nonce={nonce}", app.url, &signature[2..]), "000001", "signature"),
    ];
    for (url, expected, named) in cases {
        let (code, message) = refusal(&app, &url, body.clone()).await;
        assert_eq!(code, expected, "{url}");
        assert!(message.contains(named), "{message}");
    }
    // The one accepted call above is the only instance; nothing else was written.
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 1);
}

async fn a_replayed_request_is_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    let body = canonical(&json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}));
    let url = app.signed_url(&body, BASIC_KEY);
    assert_eq!(refusal(&app, &url, body.clone()).await.0, "000000");
    let (code, message) = refusal(&app, &url, body.clone()).await;
    assert_eq!(code, "000001");
    assert!(message.contains("nonce"), "{message}");
    // Replays racing each other: exactly one wins.
    let body = canonical(&json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"}));
    let url = app.signed_url(&body, BASIC_KEY);
    let answers = futures::future::join_all((0..10).map(|_| refusal(&app, &url, body.clone()))).await;
    assert_eq!(answers.iter().filter(|(code, _)| code == "000000").count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|(code, _)| code == "000001").count(), 9, "{answers:?}");
}

async fn a_replay_to_another_node_is_refused(kind: StoreKind) {
    let node_a = TestApp::spawn(kind).await;
    let node_b = TestApp::spawn_on(node_a.db.clone(), |_| {}).await;
    let body = canonical(&new_instance(&order_id()));
    let url = node_a.signed_url(&body, BASIC_KEY);
    assert_eq!(refusal(&node_a, &url, body.clone()).await.0, "000000");
    let replay_url = url.replace(&node_a.url, &node_b.url);
    assert_eq!(refusal(&node_b, &replay_url, body).await.0, "000001");
}

async fn rotated_and_fallback_keys_verify(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |s| {
        s.keys.basic = serde_json::from_value(json!(["old-basic-key", BASIC_KEY])).unwrap();
        s.keys.license = serde_json::from_value(json!("license-key")).unwrap();
        s.security.key_fallback = true;
    })
    .await;
    for key in ["old-basic-key", BASIC_KEY, "license-key"] {
        let body = canonical(&new_instance(&order_id()));
        let response = app.post_raw(&app.signed_url(&body, key), body.clone()).await;
        let body_sign = response.headers()["Body-Sign"].to_str().unwrap().to_owned();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(body_sign, koogate::protocol::body_sign::body_sign_header(key, &bytes), "answered with the key that verified");
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["resultCode"], "000000", "{key}");
    }
    // By default a key of another interface type authorises nothing (here: the general key).
    let strict = TestApp::spawn_with(kind, |s| {
        s.keys.license = serde_json::from_value(json!("license-key")).unwrap();
        s.keys.general = serde_json::from_value(json!("general-key")).unwrap();
    })
    .await;
    for key in ["license-key", "general-key"] {
        let body = canonical(&new_instance(&order_id()));
        assert_eq!(refusal(&strict, &strict.signed_url(&body, key), body.clone()).await.0, "000001", "{key}");
    }
}

async fn payload_candidates_and_upper_case_hex_verify(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    // Unsorted, with whitespace and a null: the marketplace signs the sorted form (C1) ...
    let raw = format!(
        r#"{{ "orderLineId": "{order}-000001", "businessId": "b-{order}", "orderId": "{order}", "activity": "newInstance", "x": null }}"#
    );
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&raw).unwrap();
    let c1 = koogate::protocol::canonical::canonical_c1(&object);
    let (nonce, ts) = (fresh_nonce(), koogate::now_ms().to_string());
    let signature = v2_sign(BASIC_KEY, &nonce, &ts, &c1).to_uppercase();
    let url = format!("{}?signature={signature}&timestamp={ts}&nonce={nonce}", app.url);
    assert_eq!(refusal(&app, &url, raw.clone()).await.0, "000000");
    // ... or the raw bytes (C2).
    let raw2 = raw.replace(&order, &format!("{order}2"));
    let url = app.signed_url(raw2.as_bytes(), BASIC_KEY);
    assert_eq!(refusal(&app, &url, raw2).await.0, "000000");
}

async fn malformed_requests_get_json_answers(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let sign = |body: &[u8]| app.signed_url(body, BASIC_KEY);

    let (code, message) = refusal(&app, &sign(b"{not json"), "{not json").await;
    assert_eq!((code.as_str(), message.as_str()), ("000002", "request body is not valid JSON"));
    let (code, message) = refusal(&app, &sign(b"[1]"), "[1]").await;
    assert_eq!((code.as_str(), message.as_str()), ("000002", "request body must be a JSON object"));
    let body = canonical(&json!({"activity": "deleteEverything"}));
    let (code, message) = refusal(&app, &sign(&body), body.clone()).await;
    assert_eq!(code, "000002");
    assert!(message.contains("deleteEverything"), "{message}");
    let body = canonical(&json!({"orderId": "x"}));
    assert_eq!(refusal(&app, &sign(&body), body.clone()).await.1, "activity is required");

    let body = canonical(&new_instance(&order_id()));
    let response = app.client.post(sign(&body)).header("Content-Type", "text/plain").body(body.clone()).send().await.unwrap();
    let refused = answer(response).await;
    assert_eq!(code_of(&refused), "000002");
    assert!(refused["resultMsg"].as_str().unwrap().contains("Content-Type"));

    let huge = vec![b' '; 70 * 1024];
    let (code, message) = refusal(&app, &sign(&huge), huge.clone()).await;
    assert_eq!(code, "000002");
    assert!(message.contains("limits.max_body_bytes"), "{message}");
    // Without a Content-Length (chunked), the limit still holds.
    let stream = futures::stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    // The server may answer (and close) before the client has sent it all: either way nothing is accepted.
    let sent = app.client.post(sign(b"")).header("Content-Type", "application/json").body(reqwest::Body::wrap_stream(stream)).send().await;
    if let Ok(response) = sent {
        assert_eq!(code_of(&answer(response).await), "000002");
    }
}

fn code_of(value: &serde_json::Value) -> &str {
    value["resultCode"].as_str().unwrap()
}

async fn other_paths_and_methods(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |s| s.server.base_path = "/saasproduce".into()).await;
    for path in ["/saasproduce", "/saasproduce/"] {
        let url = format!("{}{path}", app.address);
        let body = canonical(&new_instance(&order_id()));
        let signed = format!("{}{}", url, &app.signed_url(&body, BASIC_KEY)[app.url.len()..]);
        assert_eq!(refusal(&app, &signed, body).await.0, "000000", "{path}");
    }
    let response = app.client.post(format!("{}/elsewhere", app.address)).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let response = app.client.get(format!("{}/saasproduce?activity=newInstance", app.address)).send().await.unwrap();
    assert_eq!(code_of(&answer(response).await), "000002");
    let response = app.client.delete(format!("{}/saasproduce", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["content-type"], "application/json");
}

async fn the_window_can_be_set_to_log_only(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |s| s.security.enforce_window = koogate::config::WindowMode::LogOnly).await;
    let body = canonical(&new_instance(&order_id()));
    let stale = (koogate::now_ms() - 3_600_000).to_string();
    assert_eq!(refusal(&app, &url_with(&app, BASIC_KEY, &body, &fresh_nonce(), &stale), body.clone()).await.0, "000000");
    assert_eq!(
        refusal(&app, &url_with(&app, "wrong", &body, &fresh_nonce(), &stale), body.clone()).await.0,
        "000001",
        "signatures still count"
    );
    // A replay of a call with an old timestamp is still refused: nonces are kept a day in this mode.
    let url = url_with(&app, BASIC_KEY, &body, &fresh_nonce(), &stale);
    assert_eq!(refusal(&app, &url, body.clone()).await.0, "000000");
    assert_eq!(refusal(&app, &url, body.clone()).await.0, "000001");
    let too_old = (koogate::now_ms() - 25 * 3_600_000).to_string();
    assert_eq!(refusal(&app, &url_with(&app, BASIC_KEY, &body, &fresh_nonce(), &too_old), body).await.0, "000002");
}

async fn header_names_go_out_title_cased(kind: StoreKind) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(kind).await;
    let body = canonical(&new_instance(&order_id()));
    let url = app.signed_url(&body, BASIC_KEY);
    let target = &url[app.address.len()..];
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: koogate\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The marketplace's checker reads Body-Sign case-sensitively ("Body-sign" fails).
    assert!(answer.contains("\r\nBody-Sign: sign_type=\"HMAC-SHA256\", signature=\""), "{answer}");
    assert!(answer.contains("\r\nContent-Type: application/json\r\n"), "{answer}");
}

/// A client trickling its header one byte at a time is disconnected after `limits.header_read_timeout_secs`.
async fn a_slow_client_is_disconnected(kind: StoreKind) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(kind, |s| s.limits.header_read_timeout_secs = 1).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: koogate\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaa".iter().cycle().take(40) {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 1024];
        // Anything read (a 408 answer, or 0 bytes: closed) means the server gave up on the header.
        if let Ok(Ok(_)) = tokio::time::timeout(std::time::Duration::from_millis(10), stream.read(&mut buffer)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "the connection was still open after {:?}", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "closed after {:?}", started.elapsed());
}

store_tests!(
    a_slow_client_is_disconnected,
    header_names_go_out_title_cased,
    the_window_can_be_set_to_log_only,
    bad_signatures_and_timestamps_are_refused,
    a_replayed_request_is_refused,
    a_replay_to_another_node_is_refused,
    rotated_and_fallback_keys_verify,
    payload_candidates_and_upper_case_hex_verify,
    malformed_requests_get_json_answers,
    other_paths_and_methods,
);
