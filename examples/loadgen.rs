//! Load benchmark for a running koogate: fires signed V2 `newInstance` callbacks and reports latency and throughput.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080/ --key KEY --concurrency 32 --requests 5000
//! ```
//!
//! `--key` is the key the server verifies `newInstance` with (e.g. `KOOGATE__KEYS__BASIC`). Every request is a
//! new order line (orderId/orderLineId from a per-run random prefix and a counter, businessId a UUID v4), signed
//! as the marketplace signs it: compact JSON body with members sorted by name, fresh `nonce`, current
//! `timestamp` (Unix ms) and `signature` query parameters. So each request measures the full first-delivery path:
//! verification, nonce claim, order-line claim, provisioning and commit.
//!
//! `--concurrency` worker tasks share one HTTP client and pull request numbers from an atomic counter until
//! `--requests` have been sent; `--warmup` requests (default 100) run first and are not counted. Latency is
//! measured per request from sending to having read the whole answer. The report gives the request count, wall
//! time, throughput, latency p50/p90/p99/max and the number of answers per `resultCode` (or per transport error,
//! non-200 status, non-JSON answer). The exit status is non-zero if any counted answer is not `000000`.

use clap::Parser;
use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(about = "Load benchmark: signed V2 newInstance callbacks against a running koogate")]
struct Args {
    /// The koogate callback URL.
    #[arg(long)]
    url: String,
    /// The V2 key the server verifies newInstance with.
    #[arg(long)]
    key: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests counted in the report.
    #[arg(long, default_value_t = 5000)]
    requests: u64,
    /// Requests sent first and not counted.
    #[arg(long, default_value_t = 100)]
    warmup: u64,
}

const SUCCESS: &str = "resultCode 000000";

/// What stays the same for every request of a run.
struct Target {
    client: reqwest::Client,
    url: String,
    key: String,
    prefix: String,
}

/// Sends request number `n` and returns how long it took and how it was answered.
async fn one_request(target: &Target, n: u64) -> (Duration, String) {
    let order_id = format!("lg-{}-{n:08}", target.prefix);
    let order_line_id = format!("{order_id}-1");
    let business_id = uuid::Uuid::new_v4().to_string();
    // A BTreeMap serializes its members sorted by name, as the V2 body must be.
    let body = BTreeMap::from([
        ("activity", "newInstance"),
        ("businessId", business_id.as_str()),
        ("orderId", order_id.as_str()),
        ("orderLineId", order_line_id.as_str()),
    ]);
    let body = serde_json::to_vec(&body).expect("a map of strings serializes");
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis().to_string();
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let signature = koogate::protocol::v2::signature::v2_sign(&target.key, &nonce, &timestamp, &body);

    let started = Instant::now();
    let sent = target
        .client
        .post(&target.url)
        .query(&[("signature", signature.as_str()), ("timestamp", timestamp.as_str()), ("nonce", nonce.as_str())])
        .header("Content-Type", "application/json;charset=utf8")
        .body(body)
        .send()
        .await;
    let outcome = match sent {
        Err(e) => transport_error(&e),
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Err(e) => transport_error(&e),
                Ok(_) if status != reqwest::StatusCode::OK => format!("HTTP status {}", status.as_u16()),
                Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                    Err(_) => "non-JSON answer".to_string(),
                    Ok(json) => match json.get("resultCode").and_then(|code| code.as_str()) {
                        Some(code) => format!("resultCode {code}"),
                        None => "JSON answer without resultCode".to_string(),
                    },
                },
            }
        }
    };
    (started.elapsed(), outcome)
}

fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    };
    format!("transport error ({kind})")
}

/// Sends requests `first..first + count` from `concurrency` workers; returns every (latency, outcome) and the wall time.
async fn run_phase(target: &Arc<Target>, first: u64, count: u64, concurrency: usize) -> (Vec<(Duration, String)>, Duration) {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + count;
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, next) = (Arc::clone(target), Arc::clone(&next));
            tokio::spawn(async move {
                let mut samples = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        return samples;
                    }
                    samples.push(one_request(&target, n).await);
                }
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(count as usize);
    for worker in futures::future::join_all(workers).await {
        samples.extend(worker.expect("worker task panicked"));
    }
    (samples, started.elapsed())
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.concurrency == 0 || args.requests == 0 {
        eprintln!("--concurrency and --requests must be at least 1");
        return ExitCode::from(2);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client builds");
    let prefix = hex::encode(rand::random::<[u8; 6]>());
    let target = Arc::new(Target { client, url: args.url.clone(), key: args.key.clone(), prefix });

    if args.warmup > 0 {
        let (warmup, _) = run_phase(&target, 0, args.warmup, args.concurrency).await;
        let failed = warmup.iter().filter(|(_, outcome)| outcome != SUCCESS).count();
        if failed > 0 {
            eprintln!("warning: {failed} of {} warm-up answers were not {SUCCESS}", warmup.len());
        }
    }

    let (samples, wall) = run_phase(&target, args.warmup, args.requests, args.concurrency).await;
    let mut latencies: Vec<Duration> = samples.iter().map(|(latency, _)| *latency).collect();
    latencies.sort_unstable();
    let mut outcomes: HashMap<&str, u64> = HashMap::new();
    for (_, outcome) in &samples {
        *outcomes.entry(outcome.as_str()).or_default() += 1;
    }

    println!("target:      {} (run prefix lg-{})", args.url, target.prefix);
    println!("requests:    {} (+{} warm-up), concurrency {}", samples.len(), args.warmup, args.concurrency);
    println!("wall time:   {:.3} s", wall.as_secs_f64());
    println!("throughput:  {:.1} req/s", samples.len() as f64 / wall.as_secs_f64());
    println!(
        "latency ms:  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 90.0),
        percentile_ms(&latencies, 99.0),
        percentile_ms(&latencies, 100.0)
    );
    println!("answers:");
    let mut outcomes: Vec<_> = outcomes.into_iter().collect();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (outcome, count) in &outcomes {
        println!("  {count:>8}  {outcome}");
    }

    if outcomes.iter().all(|(outcome, _)| *outcome == SUCCESS) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
