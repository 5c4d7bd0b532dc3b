//! `v1-negative`: the V1 calls a hardened endpoint must refuse (a wrong key, a missing or garbled
//! `authToken`, a tampered parameter, an unknown activity, an over-long ID), each answer still signed
//! with `Body-Sign`.

use super::v1::{debug, judge, param, v1_key};
use crate::sim::run::{Expect, Session, Suite, signed_v1_query, v1_time_stamp};
use async_trait::async_trait;

pub(super) struct V1Negative;

#[async_trait]
impl Suite for V1Negative {
    async fn run(&self, session: &mut Session) {
        let key = v1_key(session);
        let probe = debug(&vec![param("activity", "queryInstance"), param("instanceId", "huaweitest123456")]);
        let signed = |key: &str| signed_v1_query(&probe, key, &v1_time_stamp());

        let exchange = session.get(&signed(&format!("{key}-wrong"))).await;
        judge(session, "wrong key", &exchange, Expect::Refused("000001"));

        let query = signed(&key);
        let unsigned = query.split('&').filter(|pair| !pair.starts_with("authToken=")).collect::<Vec<_>>().join("&");
        let exchange = session.get(&unsigned).await;
        judge(session, "missing authToken", &exchange, Expect::Refused("000001"));

        let exchange = session.get(&format!("{unsigned}&authToken=not%20a%20token")).await;
        judge(session, "garbled authToken", &exchange, Expect::Refused("000001"));

        let tampered = signed(&key).replace("instanceId=huaweitest123456", "instanceId=huaweitest654321");
        let exchange = session.get(&tampered).await;
        judge(session, "tampered parameter", &exchange, Expect::Refused("000001"));

        let unknown = signed_v1_query(&debug(&vec![param("activity", "noSuchActivity")]), &key, &v1_time_stamp());
        let exchange = session.get(&unknown).await;
        judge(session, "unknown activity", &exchange, Expect::Refused("000002"));

        let long =
            debug(&vec![param("activity", "instanceStatus"), param("instanceId", "i".repeat(65)), param("instanceStatus", "FREEZE")]);
        let exchange = session.get(&signed_v1_query(&long, &key, &v1_time_stamp())).await;
        judge(session, "instanceId of 65 characters", &exchange, Expect::Refused("000002"));
    }
}
