use crate::helpers::*;
use crate::store_tests;
use serde_json::{Value, json};

async fn creates_an_instance_named_after_the_first_business_id(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let body = new_instance(&order);
    let answer = app.call(body.clone()).await;
    assert_eq!(code(&answer), "000000", "{answer}");
    assert_eq!(answer["instanceId"], body["businessId"]);
    let instance = app.store.instance(answer["instanceId"].as_str().unwrap()).await.unwrap().expect("stored");
    assert_eq!(instance.status.as_str(), "active");
    assert_eq!(instance.order_id, order);
    assert_eq!(instance.order_line_id, format!("{order}-000001"));
}

async fn redelivery_returns_the_same_instance_and_creates_nothing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let first = app.call(new_instance(&order)).await;
    // The marketplace's retries carry a new businessId, nonce and timestamp.
    for _ in 0..3 {
        let again = app.call(new_instance(&order)).await;
        assert_eq!(again, first);
    }
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 1);
    // Another line of the same order is another instance.
    let other_line = with(new_instance(&order), json!({"orderLineId": format!("{order}-000002")}));
    let other = app.call(other_line).await;
    assert_eq!(code(&other), "000000");
    assert_ne!(other["instanceId"], first["instanceId"]);
}

async fn parallel_deliveries_of_one_order_line_create_one_instance(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let answers = futures::future::join_all((0..40).map(|_| app.call(new_instance(&order)))).await;
    let first = &answers[0];
    assert_eq!(code(first), "000000", "{first}");
    assert!(answers.iter().all(|a| a == first), "every delivery answers the same: {answers:?}");
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 1);
}

async fn two_nodes_on_one_database_create_one_instance(kind: StoreKind) {
    let node_a = TestApp::spawn(kind).await;
    let node_b = TestApp::spawn_on(node_a.db.clone(), |_| {}).await;
    let order = order_id();
    let calls = (0..40).map(|i| if i % 2 == 0 { node_a.call(new_instance(&order)) } else { node_b.call(new_instance(&order)) });
    let answers = futures::future::join_all(calls).await;
    assert_eq!(code(&answers[0]), "000000", "{}", answers[0]);
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(node_a.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 1);
}

async fn invalid_members_are_named(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"activity": "newInstance", "orderLineId": "l", "businessId": "b"}), "orderId is required"),
        (with(new_instance(&order), json!({"orderId": ""})), "orderId is required"),
        (with(new_instance(&order), json!({"orderLineId": 7})), "orderLineId must be a string"),
        (with(new_instance(&order), json!({"businessId": "b".repeat(65)})), "businessId exceeds 64 characters"),
        (with(new_instance(&order), json!({"testFlag": "123"})), "testFlag exceeds 2 characters"),
    ];
    for (body, message) in cases {
        let answer = app.call(body).await;
        assert_eq!(code(&answer), "000002", "{answer}");
        assert_eq!(answer["resultMsg"], message);
    }
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 0, "nothing half-written");
}

async fn a_business_id_of_another_order_line_is_refused(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (instance_id, _) = create_instance(&app).await;
    let order = order_id();
    let answer = app.call(with(new_instance(&order), json!({"businessId": instance_id}))).await;
    assert_eq!(code(&answer), "000002");
    assert!(answer["resultMsg"].as_str().unwrap().contains("businessId"), "{answer}");
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 0);
}

async fn debug_calls_answer_the_first_business_id_and_create_no_instance(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let order = order_id();
    for test_flag in [json!("1"), json!(1)] {
        let first_body = with(new_instance(&order), json!({"testFlag": test_flag}));
        let first = app.call(first_body.clone()).await;
        assert_eq!(code(&first), "000000");
        let again = app.call(with(new_instance(&order), json!({"testFlag": test_flag}))).await;
        assert_eq!(again, first, "debug calls answer identically when repeated");
    }
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 0);
    // testFlag "0" is a real call.
    let real = app.call(with(new_instance(&order), json!({"testFlag": "0"}))).await;
    assert_eq!(code(&real), "000000");
    assert_eq!(app.store.count_instances_for_order_line(&order, &format!("{order}-000001")).await.unwrap(), 1);
}

store_tests!(
    creates_an_instance_named_after_the_first_business_id,
    redelivery_returns_the_same_instance_and_creates_nothing,
    parallel_deliveries_of_one_order_line_create_one_instance,
    two_nodes_on_one_database_create_one_instance,
    invalid_members_are_named,
    a_business_id_of_another_order_line_is_refused,
    debug_calls_answer_the_first_business_id_and_create_no_instance,
);
