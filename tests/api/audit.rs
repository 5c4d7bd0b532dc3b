use crate::helpers::*;
use crate::store_tests;
use serde_json::json;

async fn every_call_about_an_order_is_in_the_audit_log(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, order) = create_instance(&app).await;
    app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
    app.call(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    // A refused call (wrong key) naming the order is recorded too.
    let body = canonical(&new_instance(&order));
    app.post_raw(&app.signed_url(&body, "not-the-key"), body).await;

    let entries = audit_rows(&app, &order, 4).await;
    let summary: Vec<(Option<&str>, &str)> = entries.iter().map(|e| (e.activity.as_deref(), e.result_code.as_str())).collect();
    assert_eq!(
        summary,
        [
            (Some("newInstance"), "000000"),
            (Some("queryInstance"), "000000"),
            (Some("updateInstanceStatus"), "000000"),
            (Some("newInstance"), "000001")
        ]
    );
    let created = &entries[0];
    assert_eq!(created.instance_id.as_deref(), Some(id.as_str()));
    assert_eq!(created.verification, "basic/C1");
    assert!(created.request_body.as_deref().unwrap().contains(&order));
    assert!(created.response_body.as_deref().unwrap().contains(&id));
    assert!(!created.query.contains("signature"), "{}", created.query);
    assert!(created.query.contains("nonce="));
    let query = &entries[1];
    let response = query.response_body.as_deref().unwrap();
    assert!(response.contains("\"password\":\"***\""), "passwords are redacted: {response}");
    assert_eq!(entries[3].verification, "signature_mismatch");
    assert!(entries.iter().all(|e| e.duration_ms >= 0 && e.received_at_ms > 0));
    let headers: serde_json::Value = serde_json::from_str(created.request_headers.as_deref().unwrap()).unwrap();
    assert_eq!(headers["content-type"], "application/json;charset=utf8");
}

async fn refused_and_replayed_calls_are_recorded(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let body = canonical(&new_instance(&order));
    let url = app.signed_url(&body, BASIC_KEY);
    app.post_raw(&url, body.clone()).await;
    app.post_raw(&url, body).await;
    let entries = audit_rows(&app, &order, 2).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].result_code, "000001");
    assert!(entries[1].verification.ends_with("nonce_replayed"), "{}", entries[1].verification);
}

async fn nul_characters_are_refused_and_still_audited(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    // Signed, with a NUL in a member: a specific 000002, on Postgres too.
    let answer = app.call(with(new_instance(&order), json!({"orderLineId": "line\u{0}1"}))).await;
    assert_eq!((code(&answer), answer["resultMsg"].as_str().unwrap()), ("000002", "orderLineId contains control characters"));
    let answer = app.call(json!({"activity": "updateInstanceStatus", "instanceId": format!("{order}\u{0}"), "status": "FREEZE"})).await;
    assert_eq!(code(&answer), "000002");
    // Unsigned, with a NUL anywhere: refused and still in the audit log.
    let body = canonical(&with(new_instance(&order), json!({"memo": "x\u{0}y"})));
    app.post_raw(&format!("{}?signature=00&timestamp={}&nonce=n%00", app.url, koogate::now_ms()), body).await;
    // The newInstance refusals name the order (the updateInstanceStatus one names a made-up instance).
    let rows = audit_rows(&app, &order, 2).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].verification, "nonce_invalid");
    assert!(rows.iter().all(|r| r.request_body.as_deref().is_some_and(|b| !b.contains('\0'))));
}

async fn unverified_bodies_are_kept_short(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let body = canonical(&with(new_instance(&order), json!({"padding": "p".repeat(30_000)})));
    app.post_raw(&app.signed_url(&body, "not-the-key"), body).await;
    let rows = audit_rows(&app, &order, 1).await;
    assert_eq!(rows[0].request_body.as_deref().unwrap().chars().count(), 2048);
}

store_tests!(
    every_call_about_an_order_is_in_the_audit_log,
    refused_and_replayed_calls_are_recorded,
    nul_characters_are_refused_and_still_audited,
    unverified_bodies_are_kept_short
);
