use crate::helpers::*;
use crate::store_tests;
use koogate::domain::{InstanceStatus, parse_expire_time};
use serde_json::{Value, json};

fn refresh(instance_id: &str, order_id: &str, scene: &str, expire_time: &str) -> Value {
    json!({
        "activity": "refreshInstance", "instanceId": instance_id, "orderId": order_id,
        "orderLineId": format!("{order_id}-000001"), "scene": scene, "expireTime": expire_time,
    })
}

fn status(instance_id: &str, value: &str) -> Value {
    json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": value})
}

fn release(instance_id: &str) -> Value {
    json!({"activity": "releaseInstance", "instanceId": instance_id})
}

fn upgrade(instance_id: &str, order_id: &str) -> Value {
    json!({"activity": "upgradeInstance", "instanceId": instance_id, "orderId": order_id, "orderLineId": format!("{order_id}-000001")})
}

fn change_check(instance_id: &str) -> Value {
    json!({"activity": "changeInstanceCheck", "instanceId": instance_id,
           "productInfo": {"skuCode": "sku-2", "productName": "Pro", "productId": "OFFI0002", "linearValue": 20}})
}

async fn a_whole_lifecycle_is_recorded(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    let current = || async { app.store.instance(&id).await.unwrap().unwrap() };

    assert_eq!(code(&app.call(refresh(&id, "CONV-1", "TRIAL_TO_FORMAL", "20300101000000")).await), "000000");
    let instance = current().await;
    assert_eq!((instance.trial, instance.expire_time_ms), (Some(false), parse_expire_time("20300101000000")));

    let renewal = with(refresh(&id, "RENEW-1", "RENEWAL", "20310101000000123"), json!({"productId": "OFFI-YEARLY"}));
    assert_eq!(code(&app.call(renewal).await), "000000");
    let instance = current().await;
    assert_eq!(instance.expire_time_ms, parse_expire_time("20310101000000123"));
    assert_eq!(instance.product_id.as_deref(), Some("OFFI-YEARLY"));

    assert_eq!(code(&app.call(status(&id, "FREEZE")).await), "000000");
    assert_eq!(current().await.status, InstanceStatus::Frozen);
    assert_eq!(code(&app.call(status(&id, "UNFREEZE")).await), "000000");
    assert_eq!(current().await.status, InstanceStatus::Active);
    assert_eq!(code(&app.call(change_check(&id)).await), "000000");
    assert_eq!(code(&app.call(upgrade(&id, "UPG-1")).await), "000000");
    assert_eq!(current().await.last_order_id.as_deref(), Some("UPG-1"));
    assert_eq!(code(&app.call(refresh(&id, "UNSUB-1", "UNSUBSCRIBE_RENEWAL_PERIOD", "20300601000000")).await), "000000");
    assert_eq!(current().await.expire_time_ms, parse_expire_time("20300601000000"), "an unsubscribed period moves the expiry earlier");
    assert_eq!(code(&app.call(release(&id)).await), "000000");
    assert_eq!(current().await.status, InstanceStatus::Released);

    let operations: Vec<String> =
        app.store.applied_orders(&id).await.unwrap().into_iter().map(|o| format!("{}:{}", o.operation, o.order_id)).collect();
    assert_eq!(operations.len(), 4, "{operations:?}");
    assert!(operations.contains(&"refresh:RENEWAL:RENEW-1".to_owned()));
    assert!(operations.contains(&"upgrade:UPG-1".to_owned()));
}

async fn a_renewal_order_applies_once(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    assert_eq!(code(&app.call(refresh(&id, "RENEW-1", "RENEWAL", "20300101000000")).await), "000000");
    assert_eq!(code(&app.call(refresh(&id, "RENEW-2", "RENEWAL", "20310101000000")).await), "000000");
    // A late retry of the first renewal must not move the expiry back.
    assert_eq!(code(&app.call(refresh(&id, "RENEW-1", "RENEWAL", "20300101000000")).await), "000000");
    assert_eq!(app.store.instance(&id).await.unwrap().unwrap().expire_time_ms, parse_expire_time("20310101000000"));
    // Same for upgrades.
    assert_eq!(code(&app.call(upgrade(&id, "UPG-1")).await), "000000");
    assert_eq!(code(&app.call(upgrade(&id, "UPG-2")).await), "000000");
    assert_eq!(code(&app.call(upgrade(&id, "UPG-1")).await), "000000");
    assert_eq!(app.store.instance(&id).await.unwrap().unwrap().last_order_id.as_deref(), Some("UPG-2"));
    assert_eq!(app.store.applied_orders(&id).await.unwrap().len(), 4);
}

async fn unknown_scenes_update_the_expiry_and_bad_times_are_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    assert_eq!(code(&app.call(refresh(&id, "R-1", "SOME_NEW_SCENE", "20300101000000")).await), "000000");
    assert_eq!(app.store.instance(&id).await.unwrap().unwrap().expire_time_ms, parse_expire_time("20300101000000"));
    for bad in ["2030-01-01", "20301301000000", "203001010000"] {
        let answer = app.call(refresh(&id, "R-2", "RENEWAL", bad)).await;
        assert_eq!(code(&answer), "000002", "{bad}");
        assert!(answer["resultMsg"].as_str().unwrap().starts_with("expireTime"), "{answer}");
    }
    let missing_scene =
        json!({"activity": "refreshInstance", "instanceId": id, "orderId": "o", "orderLineId": "l", "expireTime": "20300101000000"});
    assert_eq!(app.call(missing_scene).await["resultMsg"], "scene is required");
    assert_eq!(app.store.applied_orders(&id).await.unwrap().len(), 1, "refused calls apply nothing");
}

async fn status_changes_are_idempotent_and_checked(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    for value in ["FREEZE", "freeze", "FREEZE"] {
        assert_eq!(code(&app.call(status(&id, value)).await), "000000");
    }
    assert_eq!(app.store.instance(&id).await.unwrap().unwrap().status, InstanceStatus::Frozen);
    for value in ["NORMAL", "UNFREEZE"] {
        assert_eq!(code(&app.call(status(&id, value)).await), "000000");
    }
    assert_eq!(app.store.instance(&id).await.unwrap().unwrap().status, InstanceStatus::Active);
    let answer = app.call(status(&id, "DELETE")).await;
    assert_eq!(code(&answer), "000002");
    assert!(answer["resultMsg"].as_str().unwrap().starts_with("status"));
}

async fn calls_after_release_answer_instance_gone(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    assert_eq!(code(&app.call(release(&id)).await), "000000");
    assert_eq!(code(&app.call(release(&id)).await), "000000", "release is idempotent");
    for body in [
        refresh(&id, "R-1", "RENEWAL", "20300101000000"),
        status(&id, "UNFREEZE"),
        status(&id, "FREEZE"),
        upgrade(&id, "U-1"),
        change_check(&id),
    ] {
        let answer = app.call(body.clone()).await;
        assert_eq!(code(&answer), "000003", "{body}");
    }
    let instance = app.store.instance(&id).await.unwrap().unwrap();
    assert_eq!((instance.status, instance.expire_time_ms), (InstanceStatus::Released, None));
}

async fn unknown_instances_answer_000003(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for body in [
        refresh("nope", "R-1", "RENEWAL", "20300101000000"),
        status("nope", "FREEZE"),
        release("nope"),
        upgrade("nope", "U-1"),
        change_check("nope"),
    ] {
        let answer = app.call(body.clone()).await;
        assert_eq!(code(&answer), "000003", "{body}");
        assert!(answer["resultMsg"].as_str().unwrap().contains("nope"));
    }
}

async fn debug_calls_succeed_for_made_up_ids_and_change_nothing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    let debug = |body: Value| with(body, json!({"testFlag": "1"}));
    for target in ["made-up-id", id.as_str()] {
        for body in [
            refresh(target, "R-1", "RENEWAL", "20300101000000"),
            status(target, "FREEZE"),
            upgrade(target, "U-1"),
            change_check(target),
            release(target),
        ] {
            let body = debug(body);
            let first = app.call(body.clone()).await;
            assert_eq!(code(&first), "000000", "{body}");
            assert_eq!(app.call(body).await, first);
        }
    }
    let instance = app.store.instance(&id).await.unwrap().unwrap();
    assert_eq!((instance.status, instance.expire_time_ms), (InstanceStatus::Active, None));
    // Validation still applies to debug calls.
    assert_eq!(code(&app.call(debug(status("x", "SLEEP"))).await), "000002");
}

async fn change_check_validates_the_target_spec(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    let mut body = change_check(&id);
    body["productInfo"].as_object_mut().unwrap().remove("skuCode");
    let answer = app.call(body).await;
    assert_eq!((code(&answer), answer["resultMsg"].as_str().unwrap()), ("000002", "productInfo.skuCode is required"));
    let missing = json!({"activity": "changeInstanceCheck", "instanceId": id});
    assert_eq!(app.call(missing).await["resultMsg"], "productInfo is required");
}

store_tests!(
    a_whole_lifecycle_is_recorded,
    a_renewal_order_applies_once,
    unknown_scenes_update_the_expiry_and_bad_times_are_refused,
    status_changes_are_idempotent_and_checked,
    calls_after_release_answer_instance_gone,
    unknown_instances_answer_000003,
    debug_calls_succeed_for_made_up_ids_and_change_nothing,
    change_check_validates_the_target_spec,
);
