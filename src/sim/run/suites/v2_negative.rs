//! `v2-negative`: the requests a hardened endpoint must refuse — bad, missing or stale signatures,
//! replays, malformed bodies and out-of-spec members.

use super::{new_instance, new_order_id};
use crate::protocol::canonical::canonical_c1;
use crate::sim::run::{Expect, Session, Suite, fresh_nonce, signed_url};
use async_trait::async_trait;
use serde_json::{Value, json};

/// What a hardened endpoint must refuse.
pub(super) struct V2Negative;

#[async_trait]
impl Suite for V2Negative {
    async fn run(&self, session: &mut Session) {
        let probe = || json!({"activity": "queryInstance", "instanceId": format!("probe-{}", fresh_nonce()), "testFlag": "1"});
        let bytes = |body: &Value| canonical_c1(body.as_object().expect("object"));
        let base = session.target.url.clone();
        let key = session.target.key.clone();
        let now = crate::now_ms();

        let body = bytes(&probe());
        let exchange = session.post(&signed_url(&base, &format!("{key}-wrong"), &body, &fresh_nonce(), &now.to_string()), body).await;
        session.judge("wrong key", &exchange, Expect::Refused("000001"));

        let body = bytes(&probe());
        let separator = if base.contains('?') { '&' } else { '?' };
        let unsigned = format!("{base}{separator}timestamp={now}&nonce={}", fresh_nonce());
        let exchange = session.post(&unsigned, body).await;
        session.judge("missing signature", &exchange, Expect::Refused("000001"));

        for (step, offset) in [("stale timestamp (-10 min)", -600_000), ("future timestamp (+10 min)", 600_000)] {
            let body = bytes(&probe());
            let exchange = session.post(&signed_url(&base, &key, &body, &fresh_nonce(), &(now + offset).to_string()), body).await;
            session.judge(step, &exchange, Expect::Refused("000002"));
        }

        let body = bytes(&probe());
        let url = session.signed_url(&body, &key);
        let first = session.post(&url, body.clone()).await;
        session.judge("original of the replay", &first, Expect::Code("000000"));
        let replay = session.post(&url, body).await;
        session.judge("exact replay (same nonce)", &replay, Expect::Refused("000001"));

        let malformed = br#"{"activity":"queryInstance","instanceId":"#.to_vec();
        let exchange = session.post(&session.signed_url(&malformed, &key), malformed).await;
        session.judge("malformed JSON", &exchange, Expect::Refused("000002"));

        let exchange = session.send(&json!({"activity": "noSuchActivity", "testFlag": "1"})).await;
        session.judge("unknown activity", &exchange, Expect::Refused("000002"));

        let mut long = new_instance(&new_order_id("SIML"), true);
        long["orderId"] = json!("O".repeat(65));
        let exchange = session.send(&long).await;
        session.judge("orderId of 65 characters", &exchange, Expect::Refused("000002"));

        let mut missing = new_instance(&new_order_id("SIMM"), true);
        missing.as_object_mut().expect("object").remove("orderLineId");
        let exchange = session.send(&missing).await;
        session.judge("orderLineId missing", &exchange, Expect::Refused("000002"));
    }
}
