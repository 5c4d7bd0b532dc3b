//! The `koogate` binary as a newcomer runs it: default command, environment overrides, dev secrets.

use std::process::{Command, Stdio};
use std::time::Duration;

fn koogate(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_koogate"));
    command.current_dir(dir).env_remove("RUST_LOG").stdin(Stdio::null());
    command
}

#[test]
fn migrate_creates_the_sqlite_database_named_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let status = koogate(dir.path()).arg("migrate").env("KOOGATE__DATABASE__URL", "sqlite:state/k.db").status().unwrap();
    assert!(status.success());
    assert!(dir.path().join("state/k.db").exists());
}

#[test]
fn operator_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = koogate(dir.path()).args(["instances", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database at data/koogate.db"));
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_bad_setting_is_named_and_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = koogate(dir.path()).arg("migrate").env("KOOGATE__SERVER__BASE_PATH", "no-slash").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.base_path"));
}

#[test]
fn serve_without_keys_on_postgres_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = koogate(dir.path()).env("KOOGATE__DATABASE__URL", "postgres://nobody@127.0.0.1:1/none").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("keys.basic"), "{stderr}");
}

#[tokio::test]
async fn the_default_command_serves_on_sqlite_with_a_kept_development_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = koogate(dir.path())
        .env("KOOGATE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secrets = std::fs::read_to_string(dir.path().join("data/dev-secrets.toml")).unwrap_or_default();
    // A call signed with the development key is accepted.
    let key = secrets.lines().find_map(|l| l.strip_prefix("basic_key = \"")).map(|k| k.trim_end_matches('"').to_owned());
    let mut accepted = None;
    if let Some(key) = &key {
        let body = br#"{"activity":"newInstance","businessId":"b-1","orderId":"o-1","orderLineId":"o-1-1"}"#;
        let (nonce, ts) = ("n-1", koogate::now_ms().to_string());
        let url = format!(
            "http://127.0.0.1:{port}/?signature={}&timestamp={ts}&nonce={nonce}",
            koogate::protocol::v2::signature::v2_sign(key, nonce, &ts, body)
        );
        let answer: serde_json::Value = client.post(url).body(body.to_vec()).send().await.unwrap().json().await.unwrap();
        accepted = Some(answer["resultCode"] == "000000");
    }
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(ready, "server did not become ready: {log}");
    assert!(dir.path().join("data/koogate.db").exists());
    assert_eq!(accepted, Some(true), "development key from data/dev-secrets.toml");
    assert!(log.contains("dev-secrets.toml"), "the log says where the key is: {log}");
    assert!(!log.contains(key.as_deref().unwrap()), "the key itself is never logged");
}

#[test]
fn generate_secret_prints_fresh_random_secrets_that_koogate_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let secret = |args: &[&str]| String::from_utf8(koogate(dir.path()).args(args).output().unwrap().stdout).unwrap().trim().to_owned();
    let (a, b) = (secret(&["generate-secret"]), secret(&["generate-secret"]));
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()) && a != b);
    let webhook = secret(&["generate-secret", "--webhook"]);
    assert!(webhook.starts_with("whsec_"), "{webhook}");
    let status = koogate(dir.path())
        .arg("migrate")
        .env("KOOGATE__SECURITY__ENCRYPTION_KEY", &a)
        .env("KOOGATE__ADMIN__TOKEN", &b)
        .env("KOOGATE__WEBHOOK__URL", "http://127.0.0.1:9/hook")
        .env("KOOGATE__WEBHOOK__SECRET", &webhook)
        .status()
        .unwrap();
    assert!(status.success(), "the generated secrets are valid settings");
}

#[test]
fn sim_sign_prints_a_signed_curl_command() {
    let dir = tempfile::tempdir().unwrap();
    let output = koogate(dir.path())
        .args(["sim", "sign", "--url", "http://127.0.0.1:8080/", "--activity", "updateInstanceStatus", "--set", "instanceId=i-1"])
        .env("KOOGATE_SIM_KEY", "k")
        .output()
        .unwrap();
    assert!(output.status.success());
    let command = String::from_utf8_lossy(&output.stdout);
    assert!(command.starts_with("curl -sS -X POST 'http://127.0.0.1:8080/?signature="), "{command}");
    assert!(command.contains(r#""instanceId":"i-1""#) && command.contains(r#""status":"FREEZE""#), "{command}");
    let bad = koogate(dir.path()).args(["sim", "sign", "--url", "u", "--key", "k", "--body", "[1]"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// A V1 listing end to end through the binary: `serve` with a V1 Key, `sim run --v1-key` against it
/// passes, `sim sign --v1` prints a call it accepts, and no key, password or phone number reaches the
/// log, even at debug level.
#[tokio::test]
async fn a_v1_listing_passes_sim_run_and_logs_no_secret() {
    use koogate::protocol::v1::{KeySize, V1Cipher};
    let (v1_key, phone) = ("cli-v1-key-0123456789", "13912345678");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = koogate(dir.path())
        .env("KOOGATE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("KOOGATE__KEYS__V1", v1_key)
        .env("RUST_LOG", "debug")
        // A file, not a pipe: nobody reads a pipe until the end, and a full one would stall the server.
        .stdout(std::fs::File::create(dir.path().join("out.log")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("http://127.0.0.1:{port}/");
    let run = koogate(dir.path()).args(["sim", "run", "--url", &url, "--v1-key", v1_key, "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let sign = koogate(dir.path())
        .args(["sim", "sign", "--v1", "--url", &url, "--key", v1_key, "--activity", "newInstance"])
        .args(["--set", &format!("mobilePhone={}", V1Cipher::new(v1_key, KeySize::Aes256).encrypt(phone)), "--set", "testFlag="])
        .output()
        .unwrap();
    let curl = String::from_utf8_lossy(&sign.stdout).into_owned();
    let signed_url = curl.trim().trim_start_matches("curl -sS -i '").trim_end_matches('\'');
    let answer: serde_json::Value = client.get(signed_url).send().await.unwrap().json().await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let log = format!("{}{}", read("out.log"), read("err.log"));
    assert_eq!(run.status.code(), Some(0), "{report}");
    assert_eq!(report["suites"], serde_json::json!(["v1-lifecycle", "v1-debug", "v1-negative"]));
    assert_eq!(answer["resultCode"], "000000", "{curl} -> {answer}");
    let password = V1Cipher::new(v1_key, KeySize::Aes256).decrypt(answer["appInfo"]["password"].as_str().unwrap()).unwrap();
    assert!(log.contains("marketplace call"), "{log}");
    for secret in [v1_key, phone, password.as_str()] {
        assert!(!log.contains(secret), "{secret} appears in the log");
    }
}

#[test]
fn sim_run_reports_json_and_fails_against_an_unreachable_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let output = koogate(dir.path())
        .args([
            "sim",
            "run",
            "--url",
            "http://127.0.0.1:9/",
            "--key",
            "k",
            "--suite",
            "v2-negative",
            "--json",
            "--timeout-secs",
            "5",
            "--kit-key",
            "kk",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["summary"]["failed"].as_u64().unwrap() > 0);
    assert_eq!(report["suites"][0], "v2-negative");
    let kit = report["checks"].as_array().unwrap().iter().find(|c| c["scenario"] == "kit").expect("a given Kit key is reported");
    assert_eq!(kit["outcome"], "warn");
}

/// Event deliveries pending when koogate is killed (SIGKILL, no shutdown) are delivered after a restart.
#[tokio::test]
async fn pending_deliveries_survive_a_kill() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (koogate_port, receiver_port) = (free_port(), free_port());
    let key = "cli-test-basic-key-01";
    let start = || {
        koogate(dir.path())
            .env("KOOGATE__SERVER__LISTEN", format!("127.0.0.1:{koogate_port}"))
            .env("KOOGATE__KEYS__BASIC", key)
            .env("KOOGATE__WEBHOOK__URL", format!("http://127.0.0.1:{receiver_port}/hook"))
            .env("KOOGATE__WEBHOOK__SECRET", "whsec_dGVzdC13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5YWI=")
            .env("KOOGATE__JOBS__RETRY_BASE_MS", "100")
            .env("KOOGATE__JOBS__RETRY_MAX_SECS", "1")
            .env("KOOGATE__JOBS__POLL_INTERVAL_MS", "50")
            // If the kill lands mid-attempt, the job's lease must expire before the restart takes it over.
            .env("KOOGATE__WEBHOOK__TIMEOUT_SECS", "1")
            .env("KOOGATE__JOBS__LEASE_SECS", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let client = reqwest::Client::new();
    let wait_ready = || async {
        for _ in 0..100 {
            if client.get(format!("http://127.0.0.1:{koogate_port}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("koogate did not become ready");
    };
    let call = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            let bytes = koogate::protocol::canonical::canonical_c1(body.as_object().unwrap());
            let (nonce, ts) = (uuid::Uuid::new_v4().simple().to_string(), koogate::now_ms().to_string());
            let signature = koogate::protocol::v2::signature::v2_sign(key, &nonce, &ts, &bytes);
            let url = format!("http://127.0.0.1:{koogate_port}/?signature={signature}&timestamp={ts}&nonce={nonce}");
            let answer: serde_json::Value = client.post(url).body(bytes).send().await.unwrap().json().await.unwrap();
            assert_eq!(answer["resultCode"], "000000", "{answer}");
        }
    };

    // The receiver is down: the events wait in the queue.
    let mut first = start();
    wait_ready().await;
    call(serde_json::json!({"activity": "newInstance", "orderId": "KILL-1", "orderLineId": "KILL-1-1", "businessId": "kill-instance-1"}))
        .await;
    call(serde_json::json!({"activity": "updateInstanceStatus", "instanceId": "kill-instance-1", "status": "FREEZE"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill().unwrap(); // SIGKILL: no graceful shutdown
    first.wait().unwrap();

    // The receiver comes up, then koogate restarts.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body["type"].as_str().unwrap_or_default().to_owned());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", receiver_port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut second = start();
    wait_ready().await;
    for _ in 0..150 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(*received.lock().unwrap(), ["instance.created", "instance.frozen"]);
}
