//! A real koogate on a random port with a fresh database per test, for each store; tests talk HTTP only
//! (plus read-only looks into the store to check what was written).
//!
//! Postgres tests create a database of their own under `KOOGATE_TEST_DATABASE_URL` and drop it when the
//! test ends (pass or fail).

use koogate::config::Settings;
use koogate::protocol::v2::signature::v2_sign;
use koogate::startup::Application;
use koogate::store::Store;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const BASIC_KEY: &str = "test-basic-key-0123456789";
/// Every key a test configures; an answer's Body-Sign must verify with one of them.
const TEST_KEYS: [&str; 3] = [BASIC_KEY, "old-basic-key", "license-key"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(kind: StoreKind)` of the calling module once per store.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::StoreKind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(koogate_pg), ignore = "SKIPPED: KOOGATE_TEST_DATABASE_URL is not set, so the Postgres store is not tested")]
                async fn $name() {
                    super::$name($crate::helpers::StoreKind::Postgres).await
                }
            )*
        }
    };
}

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(#[allow(dead_code)] tempfile::TempDir),
    PostgresDatabase { admin_url: String, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub async fn new(kind: StoreKind) -> Arc<TestDb> {
        match kind {
            StoreKind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}/koogate.db", dir.path().display());
                Arc::new(TestDb { url, cleanup: Cleanup::Folder(dir) })
            }
            StoreKind::Postgres => {
                let admin_url =
                    std::env::var("KOOGATE_TEST_DATABASE_URL").expect("KOOGATE_TEST_DATABASE_URL must be set for Postgres tests");
                let name = format!("koogate_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
                let admin = sqlx::PgPool::connect(&admin_url).await.expect("connecting to KOOGATE_TEST_DATABASE_URL");
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
                admin.close().await;
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                Arc::new(TestDb { url: url.to_string(), cleanup: Cleanup::PostgresDatabase { admin_url, name } })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::PostgresDatabase { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of our own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// The admin listener's base URL, when `admin.token` is set.
    pub admin_address: Option<String>,
    /// The production address (base path included, no query).
    pub url: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub db: Arc<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::load(None).unwrap();
    settings.server.listen = "127.0.0.1:0".into();
    settings.admin.listen = "127.0.0.1:0".into();
    settings.database.url = database_url.into();
    settings.database.max_connections = 5;
    settings.keys.basic = serde_json::from_value(json!([BASIC_KEY])).unwrap();
    settings.security.encryption_key = Some("test-encryption-secret".into());
    settings
}

impl TestApp {
    pub async fn spawn(kind: StoreKind) -> TestApp {
        TestApp::spawn_with(kind, |_| {}).await
    }

    pub async fn spawn_with(kind: StoreKind, customize: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::spawn_on(TestDb::new(kind).await, customize).await
    }

    /// Another node on an existing database (several nodes behind one load balancer).
    pub async fn spawn_on(db: Arc<TestDb>, customize: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::spawn_wrapped(db, customize, |store| store).await
    }

    /// A node whose store is wrapped by `wrap` (e.g. to inject failures).
    pub async fn spawn_wrapped(
        db: Arc<TestDb>,
        customize: impl FnOnce(&mut Settings),
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> TestApp {
        let mut settings = test_settings(&db.url);
        customize(&mut settings);
        let base_path = settings.server.base_path.clone();
        let store = koogate::startup::open_store(&settings).await.expect("the store opens");
        let app = Application::build_with_store(settings, wrap(store)).await.expect("the application starts");
        let address = format!("http://{}", app.local_addr());
        let admin_address = app.admin_addr().map(|a| format!("http://{a}"));
        let store = app.store();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().unwrap();
        TestApp { url: format!("{address}{base_path}"), address, admin_address, client, store, db, shutdown: Some(shutdown) }
    }

    /// The URL with a fresh nonce, the current timestamp and the signature of `body` under `key`.
    pub fn signed_url(&self, body: &[u8], key: &str) -> String {
        let nonce = fresh_nonce();
        let timestamp = koogate::now_ms().to_string();
        format!("{}?signature={}&timestamp={timestamp}&nonce={nonce}", self.url, v2_sign(key, &nonce, &timestamp, body))
    }

    /// POSTs raw bytes to `url` as the marketplace does.
    pub async fn post_raw(&self, url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client.post(url).header("Content-Type", "application/json;charset=utf8").body(body).send().await.expect("request sent")
    }

    /// Sends `body` signed with the basic key and returns the checked answer.
    pub async fn call(&self, body: Value) -> Value {
        let bytes = canonical(&body);
        let url = self.signed_url(&bytes, BASIC_KEY);
        answer(self.post_raw(&url, bytes).await).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Compact JSON with the top-level members sorted, like the marketplace's signed payload.
pub fn canonical(body: &Value) -> Vec<u8> {
    koogate::protocol::canonical::canonical_c1(body.as_object().expect("a JSON object"))
}

pub fn fresh_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Checks what the marketplace checks of every answer and returns the parsed body.
pub async fn answer(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "HTTP status");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body_sign = response.headers().get("Body-Sign").map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.is_ascii(), "answers are ASCII-only JSON");
    let header = body_sign.expect("every V2 answer carries Body-Sign (v2.emit_body_sign is on by default)");
    let signed_by = TEST_KEYS.iter().find(|key| header == koogate::protocol::body_sign::body_sign_header(key, &bytes));
    assert!(signed_by.is_some(), "Body-Sign covers the exact bytes: {header}");
    let value: Value = serde_json::from_slice(&bytes).expect("answer is JSON");
    assert!(value["resultCode"].as_str().is_some_and(|c| c.len() == 6), "resultCode present: {value}");
    assert!(value["resultMsg"].as_str().is_some_and(|m| m.chars().count() <= 255), "resultMsg present: {value}");
    value
}

pub fn code(answer: &Value) -> &str {
    answer["resultCode"].as_str().unwrap()
}

/// A unique order ID for one test.
pub fn order_id() -> String {
    format!("CS{}", &uuid::Uuid::new_v4().simple().to_string()[..14].to_uppercase())
}

pub fn new_instance(order_id: &str) -> Value {
    json!({
        "activity": "newInstance",
        "orderId": order_id,
        "orderLineId": format!("{order_id}-000001"),
        "businessId": uuid::Uuid::new_v4().to_string(),
    })
}

/// Creates a real instance and returns its ID.
pub async fn create_instance(app: &TestApp) -> (String, String) {
    let order = order_id();
    let answer = app.call(new_instance(&order)).await;
    assert_eq!(code(&answer), "000000", "{answer}");
    (answer["instanceId"].as_str().unwrap().to_owned(), order)
}

/// The audit rows about `order_id`, once there are `count` of them: rows of refused calls are written by
/// a background writer, a moment after the answer.
pub async fn audit_rows(app: &TestApp, order_id: &str, count: usize) -> Vec<koogate::store::AuditEntry> {
    for _ in 0..100 {
        let rows = app.store.audit_for_order(order_id).await.unwrap();
        if rows.len() >= count {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.store.audit_for_order(order_id).await.unwrap()
}

pub fn with(mut body: Value, members: Value) -> Value {
    let object: &mut Map<String, Value> = body.as_object_mut().unwrap();
    for (name, value) in members.as_object().unwrap() {
        object.insert(name.clone(), value.clone());
    }
    body
}
