use crate::helpers::*;
use crate::store_tests;
use serde_json::json;

fn query(ids: &str) -> serde_json::Value {
    json!({"activity": "queryInstance", "instanceId": ids})
}

async fn returns_app_info_from_the_templates_with_a_sealed_password(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |s| {
        s.provisioning.front_end_url = "https://app.example.com/t/{instanceId}".into();
        s.provisioning.admin_url = "https://admin.example.com/{orderId}".into();
        s.provisioning.memo = "欢迎 welcome".into();
    })
    .await;
    let (instance_id, order) = create_instance(&app).await;
    let answer = app.call(query(&instance_id)).await;
    assert_eq!(code(&answer), "000000", "{answer}");
    let info = answer["info"].as_array().unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["instanceId"], instance_id.as_str());
    let app_info = &info[0]["appInfo"];
    assert_eq!(app_info["frontEndUrl"], format!("https://app.example.com/t/{instance_id}"));
    assert_eq!(app_info["adminUrl"], format!("https://admin.example.com/{order}"));
    assert_eq!(app_info["userName"], "admin");
    assert_eq!(app_info["memo"], "欢迎 welcome");
    let password = app_info["password"].as_str().unwrap();
    assert_eq!(password.len(), 20);
    // Same credentials on every query; stored only sealed.
    assert_eq!(app.call(query(&instance_id)).await, answer);
    let stored = app.store.instance(&instance_id).await.unwrap().unwrap().app_info.unwrap();
    assert!(!stored.password_sealed.unwrap().contains(password));
}

async fn batches_report_known_instances_in_the_order_asked(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (a, _) = create_instance(&app).await;
    let (b, _) = create_instance(&app).await;
    let answer = app.call(query(&format!(" {b} ,unknown-id,{a},,{b}"))).await;
    assert_eq!(code(&answer), "000000");
    let ids: Vec<&str> = answer["info"].as_array().unwrap().iter().map(|i| i["instanceId"].as_str().unwrap()).collect();
    assert_eq!(ids, [b.as_str(), a.as_str()]);

    let none = app.call(query("unknown-1,unknown-2")).await;
    assert_eq!(code(&none), "000003");
    let too_many: Vec<String> = (0..101).map(|i| format!("id-{i}")).collect();
    let answer = app.call(query(&too_many.join(","))).await;
    assert_eq!(code(&answer), "000002");
    assert!(answer["resultMsg"].as_str().unwrap().contains("instanceId"));
    let hundred: Vec<String> = (0..99).map(|i| format!("id-{i}")).chain([a.clone()]).collect();
    assert_eq!(code(&app.call(query(&hundred.join(","))).await), "000000");
}

async fn released_instances_are_no_longer_reported(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (instance_id, _) = create_instance(&app).await;
    assert_eq!(code(&app.call(json!({"activity": "releaseInstance", "instanceId": instance_id})).await), "000000");
    assert_eq!(code(&app.call(query(&instance_id)).await), "000003");
}

async fn frozen_instances_are_still_reported(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (instance_id, _) = create_instance(&app).await;
    let freeze = app.call(json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": "FREEZE"})).await;
    assert_eq!(code(&freeze), "000000");
    assert_eq!(code(&app.call(query(&instance_id)).await), "000000");
}

async fn debug_queries_answer_made_up_ids_deterministically(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let body = json!({"activity": "queryInstance", "instanceId": "debug-a,debug-b", "testFlag": "1"});
    let answer = app.call(body.clone()).await;
    assert_eq!(code(&answer), "000000");
    assert_eq!(answer["info"].as_array().unwrap().len(), 2);
    assert_eq!(answer["info"][0]["appInfo"]["frontEndUrl"], "https://app.example.com/t/debug-a");
    assert_eq!(app.call(body).await, answer);
}

store_tests!(
    returns_app_info_from_the_templates_with_a_sealed_password,
    batches_report_known_instances_in_the_order_asked,
    released_instances_are_no_longer_reported,
    frozen_instances_are_still_reported,
    debug_queries_answer_made_up_ids_deterministically,
);
