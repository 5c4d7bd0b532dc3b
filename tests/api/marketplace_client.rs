//! The open-API client against `koogate sim platform`: signing, failover, retries, error mapping.

use koogate::config::{MarketplaceSettings, Settings};
use koogate::marketplace::{ClientError, MarketplaceClient};
use koogate::sim::platform::{Platform, PlatformConfig};

const AK: &str = "SIMAK0000000001";
const SK: &str = "sim-secret-key-000000000000000001";

async fn platform() -> Platform {
    Platform::start(PlatformConfig { ak: AK.into(), sk: SK.into(), usage_key: None }, "127.0.0.1:0").await.unwrap()
}

fn settings(api_base: &str, fallback: &str) -> MarketplaceSettings {
    let mut settings = Settings::load(None).unwrap().marketplace;
    settings.api_base = api_base.into();
    settings.fallback_base = fallback.into();
    settings.ak = AK.into();
    settings.sk = Some(SK.into());
    settings.max_attempts = 3;
    settings.retry_base_ms = 10;
    settings.connect_timeout_secs = 2;
    settings
}

#[tokio::test]
async fn queries_a_mock_order_with_a_typed_answer() {
    let platform = platform().await;
    let client = MarketplaceClient::new(&settings(&platform.url(), "")).unwrap();
    let order = client.query_order("MOCKPERIODYEARNEW", Some("MOCKPERIODYEARNEW-000001")).await.unwrap();
    assert_eq!(order.order_id.as_deref(), Some("MOCKPERIODYEARNEW"));
    let line = order.line("MOCKPERIODYEARNEW-000001").expect("the asked line");
    assert_eq!(line.charging_mode.as_deref(), Some("PERIOD"));
    assert!(line.expire_time.is_some());
    let calls = platform.received();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].authenticated, "the platform verified our AK/SK signature");
    assert_eq!(calls[0].query, "orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001");
}

#[tokio::test]
async fn a_wrong_sk_is_the_gateways_error_and_is_not_retried() {
    let platform = platform().await;
    let mut wrong = settings(&platform.url(), "");
    wrong.sk = Some("not-the-sk".into());
    let error = MarketplaceClient::new(&wrong).unwrap().query_order("MOCKPERIODYEARNEW", None).await.unwrap_err();
    match &error {
        ClientError::Gateway { status, code, .. } => assert_eq!((*status, code.as_str()), (401, "APIGW.0301")),
        other => panic!("{other:?}"),
    }
    assert!(!error.to_string().contains("not-the-sk"));
    assert_eq!(platform.received().len(), 1);
}

#[tokio::test]
async fn an_unknown_order_is_a_business_error() {
    let platform = platform().await;
    let client = MarketplaceClient::new(&settings(&platform.url(), "")).unwrap();
    match client.query_order("NOSUCHORDER", None).await.unwrap_err() {
        ClientError::Marketplace { code, .. } => assert_eq!(code, "MKT.0100"),
        other => panic!("{other:?}"),
    }
    assert_eq!(platform.received().len(), 1, "business errors are not retried");
}

#[tokio::test]
async fn an_unreachable_host_fails_over_to_the_fallback() {
    let platform = platform().await;
    let client = MarketplaceClient::new(&settings("http://127.0.0.1:9", &platform.url())).unwrap();
    client.query_order("MOCKONETIMENEW", None).await.unwrap();
    assert_eq!(platform.received().len(), 1);
    assert!(platform.received()[0].authenticated, "re-signed for the fallback host");
}

#[tokio::test]
async fn unavailable_answers_are_retried_with_backoff() {
    let platform = platform().await;
    platform.fail_next(2, 503);
    let client = MarketplaceClient::new(&settings(&platform.url(), "")).unwrap();
    client.query_order("MOCKMONTYRENEW", None).await.unwrap();
    let statuses: Vec<u16> = platform.received().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [503, 503, 200]);

    platform.fail_next(5, 503);
    match client.query_order("MOCKMONTYRENEW", None).await.unwrap_err() {
        ClientError::Gateway { status, .. } => assert_eq!(status, 503),
        other => panic!("{other:?}"),
    }
    assert_eq!(platform.received().len(), 6, "at most max_attempts (3) calls");
}

#[test]
fn a_client_needs_ak_and_sk() {
    let mut missing = Settings::load(None).unwrap().marketplace;
    assert!(matches!(MarketplaceClient::new(&missing).unwrap_err(), ClientError::NotConfigured("marketplace.ak")));
    missing.ak = "AK".into();
    assert!(matches!(MarketplaceClient::new(&missing).unwrap_err(), ClientError::NotConfigured("marketplace.sk")));
}
