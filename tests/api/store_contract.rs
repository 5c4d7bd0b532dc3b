//! Contract of the `Store` trait that the HTTP tests cannot reach directly: nonce retention and purge.

use crate::helpers::*;
use crate::store_tests;

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

store_tests!(nonces_are_refused_until_they_expire_then_purged);
