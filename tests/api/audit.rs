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

    let entries = app.store.audit_for_order(&order).await.unwrap();
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
}

async fn refused_and_replayed_calls_are_recorded(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let body = canonical(&new_instance(&order));
    let url = app.signed_url(&body, BASIC_KEY);
    app.post_raw(&url, body.clone()).await;
    app.post_raw(&url, body).await;
    let entries = app.store.audit_for_order(&order).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].result_code, "000001");
    assert!(entries[1].verification.ends_with("nonce_replayed"), "{}", entries[1].verification);
}

store_tests!(every_call_about_an_order_is_in_the_audit_log, refused_and_replayed_calls_are_recorded);
