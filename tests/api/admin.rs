//! The admin API and the operator commands, black-box: the admin listener of a real koogate
//! (`admin.listen`), and the `koogate` binary on the same database.

use crate::helpers::*;
use crate::store_tests;
use koogate::store::NewJob;
use serde_json::{Value, json};

const TOKEN: &str = "admin-token-0123456789";

/// A koogate with its admin API.
struct Admin {
    app: TestApp,
    /// `http://127.0.0.1:<port>/admin`
    base: String,
}

impl Admin {
    async fn spawn(kind: StoreKind) -> Admin {
        let app = TestApp::spawn_with(kind, |s| s.admin.token = Some(TOKEN.into())).await;
        let base = format!("{}/admin", app.admin_address.as_deref().expect("admin.token set: the admin listener runs"));
        Admin { app, base }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value, String) {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        assert_eq!(response.headers()["content-type"], "application/json", "every admin answer is JSON");
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, value, text)
    }

    /// GETs `path` (below `/admin`) with the token.
    async fn get(&self, path: &str) -> (u16, Value, String) {
        self.send(self.app.client.get(format!("{}{path}", self.base)).bearer_auth(TOKEN)).await
    }

    async fn post(&self, path: &str) -> (u16, Value, String) {
        self.send(self.app.client.post(format!("{}{path}", self.base)).bearer_auth(TOKEN)).await
    }
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|item| item["instanceId"].as_str().unwrap()).collect()
}

async fn every_route_but_the_document_needs_the_token(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let client = &admin.app.client;
    let url = format!("{}/instances", admin.base);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, body, _) = admin.send(client.get(&url)).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("missing"), "{body}");
    for wrong in ["admin-token-012345678X", "admin-token-0123456789-and-more", "a", TOKEN.trim_end_matches('9')] {
        let response = client.get(&url).bearer_auth(wrong).send().await.unwrap();
        assert_eq!(response.status(), 401, "{wrong}");
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
    let (status, _, _) = admin.send(client.get(&url).basic_auth("admin", Some(TOKEN))).await;
    assert_eq!(status, 401, "only the Bearer scheme is accepted");
    for path in ["/instances/x", "/audit?order_id=x", "/jobs", "/jobs/1"] {
        let (status, _, _) = admin.send(client.get(format!("{}{path}", admin.base))).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _, _) = admin.send(client.post(format!("{}/jobs/1/retry", admin.base))).await;
    assert_eq!(status, 401);

    let (status, _, _) = admin.get("/instances").await;
    assert_eq!(status, 200);
    let (status, body, _) = admin.get("/nowhere").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown path")));
}

async fn the_openapi_document_is_served_without_a_token(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let (status, document, _) = admin.send(admin.app.client.get(format!("{}/openapi.json", admin.base))).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.0.3");
    let paths = document["paths"].as_object().unwrap();
    for path in ["/admin/instances", "/admin/instances/{id}", "/admin/audit", "/admin/jobs", "/admin/jobs/{id}", "/admin/jobs/{id}/retry"] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert_eq!(document["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

async fn instances_are_listed_filtered_and_paged(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(create_instance(&admin.app).await);
    }
    let mut all_ids: Vec<&str> = created.iter().map(|(id, _)| id.as_str()).collect();
    all_ids.sort();

    let (status, page, _) = admin.get("/instances").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&page), all_ids);
    assert_eq!(page["next"], Value::Null);
    let first = &page["items"][0];
    for member in ["orderId", "orderLineId", "status", "productId", "expireTime", "trial", "lastOrderId", "createdAtMs", "updatedAtMs"] {
        assert!(first.get(member).is_some(), "{member} in {first}");
    }
    assert_eq!(first["status"], "active");
    assert_eq!(first["appInfo"]["passwordSet"], true);

    let (_, page, _) = admin.get("/instances?limit=2").await;
    assert_eq!((ids(&page), page["next"].as_str()), (all_ids[..2].to_vec(), Some(all_ids[1])));
    let (_, page, _) = admin.get(&format!("/instances?limit=2&after={}", all_ids[1])).await;
    assert_eq!((ids(&page), &page["next"]), (vec![all_ids[2]], &Value::Null));

    let (id, order) = &created[1];
    let (_, page, _) = admin.get(&format!("/instances?order_id={order}")).await;
    assert_eq!(ids(&page), [id.as_str()]);
    let (_, page, _) = admin.get("/instances?status=frozen&order_id=").await;
    assert!(ids(&page).is_empty());
    admin.app.call(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    let (_, page, _) = admin.get("/instances?status=frozen").await;
    assert_eq!(ids(&page), [id.as_str()]);
    let (_, page, _) = admin.get("/instances?status=active").await;
    assert_eq!(ids(&page).len(), 2);

    for (query, parameter) in
        [("status=FROZEN", "status"), ("status=gone", "status"), ("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit")]
    {
        let (status, body, _) = admin.get(&format!("/instances?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["error"].as_str().unwrap().starts_with(parameter), "{query}: {body}");
    }
    let (status, _, _) = admin.get("/instances?limit=500").await;
    assert_eq!(status, 200);
}

async fn an_instance_is_shown_with_its_history_and_never_its_password(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let (id, order) = create_instance(&admin.app).await;
    let answer = admin.app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
    let password = answer["info"][0]["appInfo"]["password"].as_str().unwrap().to_owned();
    let sealed = admin.app.store.instance(&id).await.unwrap().unwrap().app_info.unwrap().password_sealed.unwrap();
    let renewal = order_id();
    let answer = admin
        .app
        .call(json!({
            "activity": "refreshInstance", "instanceId": id, "orderId": renewal, "orderLineId": format!("{renewal}-000001"),
            "scene": "RENEWAL", "expireTime": "20300101000000",
        }))
        .await;
    assert_eq!(code(&answer), "000000", "{answer}");

    let mut bodies = Vec::new();
    let (status, detail, text) = admin.get(&format!("/instances/{id}")).await;
    bodies.push(text);
    assert_eq!(status, 200);
    let instance = &detail["instance"];
    assert_eq!((instance["instanceId"].as_str(), instance["orderId"].as_str()), (Some(id.as_str()), Some(order.as_str())));
    assert_eq!(instance["expireTime"], "20300101000000");
    assert_eq!(instance["lastOrderId"], renewal.as_str());
    assert_eq!(instance["appInfo"]["userName"], "admin");
    assert_eq!(instance["appInfo"]["passwordSet"], true);
    assert!(detail["events"].is_array(), "{detail}");
    let applied = detail["appliedOrders"].as_array().unwrap();
    assert_eq!(
        (applied.len(), applied[0]["operation"].as_str(), applied[0]["orderId"].as_str()),
        (1, Some("refresh:RENEWAL"), Some(renewal.as_str()))
    );
    let audit = detail["audit"].as_array().unwrap();
    let activities: Vec<&str> = audit.iter().map(|entry| entry["activity"].as_str().unwrap()).collect();
    assert_eq!(activities, ["newInstance", "queryInstance", "refreshInstance"]);
    assert_eq!(audit[0]["resultCode"], "000000");
    assert_eq!(audit[0]["verification"], "basic/C1");
    assert!(audit[0]["receivedAtMs"].as_i64().unwrap() > 0);

    let (status, page, text) = admin.get(&format!("/audit?order_id={order}")).await;
    bodies.push(text);
    assert_eq!((status, page["items"].as_array().unwrap().len()), (200, 3), "{page}");
    let (_, page, text) = admin.get(&format!("/audit?instance_id={id}")).await;
    bodies.push(text);
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let (_, page, text) = admin.get(&format!("/instances?order_id={order}")).await;
    bodies.push(text);
    assert_eq!(ids(&page), [id.as_str()]);
    for body in &bodies {
        assert!(!body.contains(&password), "the password leaked: {body}");
        assert!(!body.contains(&sealed), "the sealed password leaked: {body}");
    }

    let (status, body, _) = admin.get("/instances/no-such-instance").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("instance no-such-instance not found")));
}

async fn audit_needs_exactly_one_subject_and_pages_by_position(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let (id, order) = create_instance(&admin.app).await;
    for _ in 0..2 {
        admin.app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
    }
    for query in ["", "?order_id=", &format!("?order_id={order}&instance_id={id}")] {
        let (status, body, _) = admin.get(&format!("/audit{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["error"].as_str().unwrap().contains("order_id"), "{body}");
    }
    let (status, body, _) = admin.get(&format!("/audit?order_id={order}&after=-1")).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("after"), "{body}");

    let (_, first, _) = admin.get(&format!("/audit?instance_id={id}&limit=2")).await;
    assert_eq!((first["items"].as_array().unwrap().len(), first["next"].as_str()), (2, Some("1")));
    assert_eq!(first["items"][0]["activity"], "newInstance");
    let (_, second, _) = admin.get(&format!("/audit?instance_id={id}&limit=2&after=1")).await;
    assert_eq!((second["items"].as_array().unwrap().len(), &second["next"]), (1, &Value::Null));
    assert_eq!(second["items"][0]["activity"], "queryInstance");
    let (_, none, _) = admin.get("/audit?order_id=NO-SUCH-ORDER").await;
    assert_eq!(none, json!({"items": [], "next": null}));
}

async fn jobs_are_listed_and_unknown_jobs_are_not_found(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let (status, page, _) = admin.get("/jobs").await;
    assert_eq!((status, page), (200, json!({"items": [], "next": null})));
    let (status, page, _) = admin.get("/jobs?state=dead&after=0&limit=10").await;
    assert_eq!((status, page), (200, json!({"items": [], "next": null})));
    for (query, parameter) in [("state=failed", "state"), ("after=x", "after"), ("limit=501", "limit")] {
        let (status, body, _) = admin.get(&format!("/jobs?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["error"].as_str().unwrap().starts_with(parameter), "{query}: {body}");
    }
    let (status, body, _) = admin.get("/jobs/999999").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("job 999999 not found")));
    let (status, _, _) = admin.post("/jobs/999999/retry").await;
    assert_eq!(status, 404);
    let (status, body, _) = admin.get("/jobs/abc").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("id"), "{body}");
    let (status, _, _) = admin.send(admin.app.client.get(format!("{}/jobs/1/retry", admin.base)).bearer_auth(TOKEN)).await;
    assert_eq!(status, 405);
}

/// Enqueues a job of a kind no worker claims and makes it dead; returns its ID.
async fn dead_job(app: &TestApp) -> i64 {
    let now = koogate::now_ms();
    let mut tx = app.store.begin().await.unwrap();
    let job = NewJob {
        kind: koogate::store::JobKind::parse("test-dead"),
        ordering_key: None,
        payload: "{}".into(),
        run_after_ms: now,
        deadline_ms: now,
        created_at_ms: now,
    };
    tx.enqueue(&job).await.unwrap();
    tx.commit().await.unwrap();
    let claimed = app.store.claim_jobs(&[koogate::store::JobKind::parse("test-dead")], now, now + 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert!(app.store.fail_job(&claimed[0], now, "test failure", None).await.unwrap());
    claimed[0].id
}

async fn a_dead_job_is_retried_once(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let id = dead_job(&admin.app).await;
    let (_, page, _) = admin.get("/jobs?state=dead").await;
    let dead: Vec<i64> = page["items"].as_array().unwrap().iter().map(|job| job["id"].as_i64().unwrap()).collect();
    assert!(dead.contains(&id), "{page}");
    let (status, job, _) = admin.get(&format!("/jobs/{id}")).await;
    assert_eq!(status, 200);
    for member in [
        "kind",
        "orderingKey",
        "payload",
        "state",
        "attempts",
        "runAfterMs",
        "deadlineMs",
        "lockedUntilMs",
        "lastError",
        "createdAtMs",
        "updatedAtMs",
    ] {
        assert!(job.get(member).is_some(), "{member} in {job}");
    }

    let before = koogate::now_ms();
    let (status, body, _) = admin.post(&format!("/jobs/{id}/retry")).await;
    assert_eq!(status, 200, "{body}");
    let job = &body["job"];
    assert_eq!((job["id"].as_i64(), job["kind"].as_str(), job["state"].as_str()), (Some(id), Some("test-dead"), Some("pending")));
    // An unknown kind gets the webhook horizon (webhook.retry_horizon_secs, 3 days by default).
    let deadline = job["deadlineMs"].as_i64().unwrap();
    assert!(deadline >= before + 259_200_000 && deadline <= koogate::now_ms() + 259_200_000, "{job}");

    let (status, body, _) = admin.post(&format!("/jobs/{id}/retry")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], format!("job {id} is pending; only dead jobs can be retried"));
}

/// Runs the `koogate` binary against the test's database; returns (exit status, stdout, stderr).
async fn koogate(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let url = app.db.url.clone();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_koogate"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("KOOGATE__DATABASE__URL", url)
            .env("KOOGATE__KEYS__BASIC", BASIC_KEY)
            .env("KOOGATE__SECURITY__ENCRYPTION_KEY", "test-encryption-secret")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        (output.status.code().unwrap_or(-1), text(output.stdout), text(output.stderr))
    })
    .await
    .unwrap()
}

async fn the_operator_commands_read_the_same_database(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, order) = create_instance(&app).await;
    let answer = app.call(json!({"activity": "queryInstance", "instanceId": id})).await;
    let password = answer["info"][0]["appInfo"]["password"].as_str().unwrap().to_owned();

    let (status, stdout, stderr) = koogate(&app, &["instances", "list", "--json"]).await;
    assert_eq!(status, 0, "{stderr}");
    let page: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is the JSON alone ({e}): {stdout}"));
    assert_eq!(ids(&page), [id.as_str()]);
    assert_eq!(page["items"][0]["appInfo"]["passwordSet"], true);

    let (status, stdout, _) = koogate(&app, &["instances", "list", "--order", &order]).await;
    assert_eq!(status, 0);
    assert!(stdout.starts_with("INSTANCE") && stdout.contains(&id), "{stdout}");
    let (status, stdout, _) = koogate(&app, &["instances", "show", &id]).await;
    assert_eq!(status, 0);
    assert!(stdout.contains("instance:") && stdout.contains("audit (2):"), "{stdout}");
    assert!(!stdout.contains(&password), "{stdout}");
    let (status, stdout, _) = koogate(&app, &["instances", "show", &id, "--json"]).await;
    assert_eq!(status, 0);
    let detail: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(detail["instance"]["instanceId"], id.as_str());
    assert!(!stdout.contains(&password));
    let (status, stdout, _) = koogate(&app, &["audit", "--order", &order, "--json"]).await;
    assert_eq!(status, 0);
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap()["items"].as_array().unwrap().len(), 2);

    let (status, stdout, _) = koogate(&app, &["jobs", "list", "--json"]).await;
    assert_eq!((status, serde_json::from_str::<Value>(&stdout).unwrap()["next"].clone()), (0, Value::Null));
    let (status, stdout, stderr) = koogate(&app, &["jobs", "retry", "999999"]).await;
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert!(stderr.contains("job 999999 not found"), "{stderr}");
    let (status, _, _) = koogate(&app, &["instances", "show", "no-such-instance"]).await;
    assert_eq!(status, 1);
    let (status, _, stderr) = koogate(&app, &["instances", "list", "--status", "gone"]).await;
    assert_eq!(status, 2);
    assert!(stderr.contains("--status"), "{stderr}");
}

async fn the_admin_api_is_only_on_its_own_listener(kind: StoreKind) {
    let admin = Admin::spawn(kind).await;
    let public = admin.app.client.get(format!("{}/admin/instances", admin.app.address)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(public.status(), 404, "not served on the public listener");
    let (status, _, _) = admin.get("/instances").await;
    assert_eq!(status, 200);
    // Without admin.token there is no admin listener at all.
    let plain = TestApp::spawn(kind).await;
    assert!(plain.admin_address.is_none());
}

store_tests!(
    the_admin_api_is_only_on_its_own_listener,
    every_route_but_the_document_needs_the_token,
    the_openapi_document_is_served_without_a_token,
    instances_are_listed_filtered_and_paged,
    an_instance_is_shown_with_its_history_and_never_its_password,
    audit_needs_exactly_one_subject_and_pages_by_position,
    jobs_are_listed_and_unknown_jobs_are_not_found,
    a_dead_job_is_retried_once,
    the_operator_commands_read_the_same_database,
);
