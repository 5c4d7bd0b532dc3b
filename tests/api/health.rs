use crate::helpers::*;
use crate::store_tests;

async fn health_and_readiness(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
}

async fn an_unreachable_database_answers_000005(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, _) = create_instance(&app).await;
    app.store.close().await;
    let answer = app.call(serde_json::json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    assert_eq!(code(&answer), "000005", "{answer}");
    let response = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/json");
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

store_tests!(health_and_readiness, an_unreachable_database_answers_000005);
