//! Contract of the `Store` trait that the HTTP tests cannot reach directly: nonce retention and purge.

use crate::helpers::*;
use crate::store_tests;
use koogate::store::{JobKind, JobState};

async fn nonces_are_refused_until_they_expire_then_purged(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let store = &app.store;
    // Times far in the future, so the server's own background purge (real clock) never touches them.
    let t0 = koogate::now_ms() + 86_400_000;
    let claim = |nonce: &'static str, now: i64| async move {
        let now = t0 + now;
        let mut tx = store.begin().await.unwrap();
        let claimed = tx.claim_nonce("basic", nonce, now, now + 1_000).await.unwrap();
        tx.commit().await.unwrap();
        claimed
    };
    assert!(claim("n-1", 10_000).await);
    assert!(!claim("n-1", 10_500).await, "inside retention: a replay");
    assert!(claim("n-1", 11_000).await, "an expired record the purge has not reached does not block");
    assert!(claim("n-2", 10_000).await);
    // Another key type is another namespace.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_nonce("kit", "n-2", t0 + 10_000, t0 + 11_000).await.unwrap());
    drop(tx); // rolled back
    assert!(!claim("n-2", 10_100).await);
    assert_eq!(store.purge_expired_nonces(t0 + 11_000).await.unwrap(), 1, "n-2 expired at 11 000; n-1 lives until 12 000");
    assert_eq!(store.purge_expired_nonces(t0 + 12_000).await.unwrap(), 1);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_nonce("kit", "n-2", t0 + 10_000, t0 + 11_000).await.unwrap(), "the rolled-back claim left nothing");
}

async fn old_audit_rows_are_purged_in_batches(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let store = &app.store;
    let entry = |received_at_ms: i64| koogate::store::AuditEntry { received_at_ms, method: "GET".into(), ..Default::default() };
    let old: Vec<_> = (0..12_000).map(|i| entry(1_000 + i)).collect();
    store.record_audits(&old).await.unwrap();
    store.record_audits(&[entry(50_000), entry(koogate::now_ms())]).await.unwrap();
    assert_eq!(store.purge_audit(20_000).await.unwrap(), 12_000, "every row before the cut-off, over several batches");
    assert_eq!(store.purge_audit(20_000).await.unwrap(), 0);
    assert_eq!(store.purge_audit(60_000).await.unwrap(), 1, "the row at 50 000; the current one stays");
}

/// A kind the test app's own worker never claims.
fn test_kind() -> JobKind {
    JobKind::parse("contract-test")
}

async fn enqueue(store: &std::sync::Arc<dyn koogate::store::Store>, key: Option<&str>, count: usize) {
    let now = koogate::now_ms();
    let mut tx = store.begin().await.unwrap();
    for _ in 0..count {
        let job = koogate::store::NewJob {
            kind: test_kind(),
            ordering_key: key.map(str::to_owned),
            payload: "{}".into(),
            run_after_ms: now,
            deadline_ms: now + 60_000,
            created_at_ms: now,
        };
        tx.enqueue(&job).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn concurrent_claimers_take_each_job_once(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    enqueue(&app.store, None, 300).await;
    let now = koogate::now_ms();
    let claimers = (0..8).map(|_| {
        let store = app.store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = store.claim_jobs(&[test_kind()], now, now + 60_000, 7).await.unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|job| job.id));
            }
        })
    });
    let mut all: Vec<i64> = futures::future::join_all(claimers).await.into_iter().flat_map(Result::unwrap).collect();
    assert_eq!(all.len(), 300, "every job claimed exactly once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 300);
}

async fn an_expired_lease_is_taken_over_and_the_stale_claim_fenced_off(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    enqueue(&app.store, None, 1).await;
    let now = koogate::now_ms();
    let first = app.store.claim_jobs(&[test_kind()], now, now + 1_000, 1).await.unwrap().remove(0);
    assert!(app.store.claim_jobs(&[test_kind()], now + 500, now + 1_500, 1).await.unwrap().is_empty(), "leased");
    assert!(app.store.extend_lease(&first, now + 2_000).await.unwrap());
    assert!(app.store.claim_jobs(&[test_kind()], now + 1_500, now + 2_500, 1).await.unwrap().is_empty(), "lease renewed");
    let second = app.store.claim_jobs(&[test_kind()], now + 2_000, now + 3_000, 1).await.unwrap().remove(0);
    assert_eq!((second.id, second.attempts), (first.id, first.attempts + 1), "the expired lease was taken over");
    assert!(!app.store.complete_job(&first, now).await.unwrap(), "the stale claim cannot finish the job");
    assert!(!app.store.extend_lease(&first, now + 9_000).await.unwrap());
    assert!(app.store.complete_job(&second, now).await.unwrap());
    assert_eq!(app.store.job(first.id).await.unwrap().unwrap().state, JobState::Done);
}

async fn jobs_with_one_key_run_in_order_across_retries_and_death(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    enqueue(&app.store, Some("instance:x"), 3).await;
    let now = koogate::now_ms();
    let claim = |at: i64| {
        let store = app.store.clone();
        async move { store.claim_jobs(&[test_kind()], at, at + 60_000, 10).await.unwrap() }
    };
    let first = claim(now).await;
    assert_eq!(first.len(), 1, "only the oldest job of the key");
    assert!(claim(now).await.is_empty(), "the rest wait while it runs");
    // It fails and is retried later: the others still wait.
    assert!(app.store.fail_job(&first[0], now, "boom", Some(now + 5_000)).await.unwrap());
    assert!(claim(now + 1_000).await.is_empty());
    let again = claim(now + 5_000).await;
    assert_eq!(again[0].id, first[0].id);
    // It dies: the next one runs.
    assert!(app.store.fail_job(&again[0], now + 5_000, "boom", None).await.unwrap());
    let next = claim(now + 5_000).await;
    assert_eq!(next.len(), 1);
    assert!(next[0].id > first[0].id);
    // A retried dead job waits behind the unfinished ones of its key again.
    assert!(app.store.retry_job(first[0].id, now + 6_000, now + 60_000).await.unwrap());
    assert!(!app.store.retry_job(first[0].id, now + 6_000, now + 60_000).await.unwrap(), "only dead jobs are retried");
    assert!(app.store.complete_job(&next[0], now + 6_000).await.unwrap());
    let after = claim(now + 6_000).await;
    assert_eq!(after.iter().map(|j| j.id).collect::<Vec<_>>(), [first[0].id], "the retried job is now the oldest unfinished one");
}

store_tests!(
    old_audit_rows_are_purged_in_batches,
    nonces_are_refused_until_they_expire_then_purged,
    concurrent_claimers_take_each_job_once,
    an_expired_lease_is_taken_over_and_the_stale_claim_fenced_off,
    jobs_with_one_key_run_in_order_across_retries_and_death,
);
