//! The client for the marketplace's open APIs (koogate → marketplace), shared by every feature that
//! calls them: order query today; usage push and license calls later.
//!
//! Each request is signed with APIG AK/SK (`protocol::apig`) for the host it is sent to, so the `.cn`
//! fallback gets its own signature. Certificates are always verified (rustls with the web PKI roots);
//! plain http is accepted only for a loopback test platform (checked when the settings load).
//! Failover to the fallback host happens on connection, TLS and timeout failures and HTTP 502/503/504;
//! idempotent calls are retried with exponential backoff and jitter on network errors, HTTP 5xx and
//! gateway throttling, up to `marketplace.max_attempts`.

mod order;

pub use order::{BuyerInfo, ExtendParam, OrderInfo, OrderLine, OrderProduct, OrderQueryResponse};

use crate::config::MarketplaceSettings;
use crate::protocol::apig::{DATE_FORMAT, SignedRequest};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

/// The open APIs' paths (open-api.md, license.md §2), shared with `koogate sim platform`.
pub const ORDER_QUERY_PATH: &str = "/api/mkp-openapi-public/global/v1/order/query";
pub const USAGE_PUSH_PATH: &str = "/api/mkp-openapi-public/global/v1/isv/usage-data";
pub const USAGE_PUSH_OLD_PATH: &str = "/rest/marketplace/v1/isv/usage-data";
pub const LICENSE_ACTIVATE_V1_PATH: &str = "/api/mkp-openapi-public/global/v1/license/activate";
pub const LICENSE_ACTIVATE_V2_PATH: &str = "/api/mkp-openapi-public/global/v2/license/activate";
pub const LICENSE_HEARTBEAT_V1_PATH: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";
pub const LICENSE_HEARTBEAT_V2_PATH: &str = "/api/mkp-openapi-public/global/v2/license/heartbeat";
pub const LICENSE_SOFTWARE_USAGE_PATH: &str = "/api/mkp-openapi-public/global/v2/license/software-usage-info";
/// The order query's success code.
pub const ORDER_QUERY_SUCCESS: &str = "MKT.0000";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0} is not set, so the marketplace's open APIs cannot be called")]
    NotConfigured(&'static str),
    #[error("marketplace unreachable: {0}")]
    Network(String),
    /// The API gateway refused the call (authentication, throttling, unknown API …).
    #[error("marketplace gateway answered HTTP {status}: {code} {message}")]
    Gateway { status: u16, code: String, message: String },
    /// The API answered, with a business error code.
    #[error("marketplace answered {code}: {message}")]
    Marketplace { code: String, message: String },
    #[error("marketplace answer not understood: {0}")]
    InvalidResponse(String),
}

impl ClientError {
    fn is_retryable(&self) -> bool {
        match self {
            ClientError::Network(_) => true,
            ClientError::Gateway { status, code, .. } => *status >= 500 || *status == 429 || code == "APIGW.0308",
            _ => false,
        }
    }
}

pub struct MarketplaceClient {
    http: reqwest::Client,
    bases: Vec<url::Url>,
    ak: String,
    sk: SecretString,
    max_attempts: u32,
    retry_base: Duration,
}

impl std::fmt::Debug for MarketplaceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketplaceClient").field("bases", &self.bases).field("ak", &self.ak).finish_non_exhaustive()
    }
}

/// The raw answer of one HTTP exchange.
struct Exchange {
    status: StatusCode,
    body: Vec<u8>,
}

impl MarketplaceClient {
    pub fn new(settings: &MarketplaceSettings) -> Result<MarketplaceClient, ClientError> {
        if settings.ak.trim().is_empty() {
            return Err(ClientError::NotConfigured("marketplace.ak"));
        }
        let sk = settings.sk.clone().ok_or(ClientError::NotConfigured("marketplace.sk"))?;
        let bases = settings.bases().map_err(|e| ClientError::InvalidResponse(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .timeout(Duration::from_secs(settings.request_timeout_secs))
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .https_only(false) // http is refused for anything but loopback by `MarketplaceSettings::bases`
            // A signed call is never re-sent to wherever a 3xx points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Network(e.to_string()))?;
        Ok(MarketplaceClient {
            http,
            bases,
            ak: settings.ak.trim().to_owned(),
            sk,
            max_attempts: settings.max_attempts.max(1),
            retry_base: Duration::from_millis(settings.retry_base_ms),
        })
    }

    /// `GET …/order/query`: the order (and, when given, only that order line).
    pub async fn query_order(&self, order_id: &str, order_line_id: Option<&str>) -> Result<OrderInfo, ClientError> {
        let mut query = vec![("orderId".to_owned(), order_id.to_owned())];
        if let Some(line) = order_line_id {
            query.push(("orderLineId".to_owned(), line.to_owned()));
        }
        let exchange = self.call(Method::GET, ORDER_QUERY_PATH, &query, None, true).await?;
        let response: OrderQueryResponse =
            serde_json::from_slice(&exchange.body).map_err(|e| ClientError::InvalidResponse(format!("order query: {e}")))?;
        if response.result_code != ORDER_QUERY_SUCCESS {
            return Err(ClientError::Marketplace { code: response.result_code, message: response.result_msg.unwrap_or_default() });
        }
        response.order_info.ok_or_else(|| ClientError::InvalidResponse("order query succeeded without orderInfo".into()))
    }

    /// Sends one API call with failover and (for idempotent calls) retries; a non-2xx answer is a
    /// [`ClientError::Gateway`], a 2xx answer is returned for the caller to interpret.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
        idempotent: bool,
    ) -> Result<Exchange, ClientError> {
        let attempts = if idempotent { self.max_attempts } else { 1 };
        let mut attempt = 1;
        loop {
            let result = self.call_once_with_failover(&method, path, query, body).await;
            match result {
                Err(error) if error.is_retryable() && attempt < attempts => {
                    let delay = self.backoff(attempt);
                    tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, path, "open-API call failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        use rand::Rng;
        let exponential = self.retry_base.saturating_mul(1 << (attempt - 1).min(16)).min(Duration::from_secs(300));
        let jitter = rand::thread_rng().gen_range(0.5..1.0);
        exponential.mul_f64(jitter)
    }

    async fn call_once_with_failover(
        &self,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Exchange, ClientError> {
        let mut last_error = None;
        for (index, base) in self.bases.iter().enumerate() {
            match self.send(base, method, path, query, body).await {
                Ok(exchange) if matches!(exchange.status.as_u16(), 502..=504) && index + 1 < self.bases.len() => {
                    tracing::warn!(
                        status = exchange.status.as_u16(),
                        host = base.host_str().unwrap_or_default(),
                        "open-API host unavailable; trying the fallback host"
                    );
                    last_error = Some(gateway_error(&exchange));
                }
                Ok(exchange) if exchange.status.is_success() => return Ok(exchange),
                Ok(exchange) => return Err(gateway_error(&exchange)),
                Err(error) => {
                    tracing::warn!(%error, host = base.host_str().unwrap_or_default(), "open-API host unreachable");
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::Network("no open-API host configured".into())))
    }

    async fn send(
        &self,
        base: &url::Url,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Exchange, ClientError> {
        let host = match (base.host_str(), base.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(ClientError::Network(format!("{base} has no host"))),
        };
        let date = chrono::Utc::now().format(DATE_FORMAT).to_string();
        let content_type = "application/json";
        let headers =
            vec![("Content-Type".to_owned(), content_type.to_owned()), ("Host".to_owned(), host), ("X-Sdk-Date".to_owned(), date.clone())];
        let body = body.unwrap_or_default();
        let full_path = format!("{}{path}", base.path().trim_end_matches('/'));
        let signed = SignedRequest { method: method.as_str(), path: &full_path, query, headers: &headers, body };
        let authorization = signed.authorization(&self.ak, self.sk.expose_secret());
        let mut url = base.clone();
        url.set_path(&full_path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let response = self
            .http
            .request(method.clone(), url)
            .header("Content-Type", content_type)
            .header("X-Sdk-Date", date)
            .header("Authorization", authorization)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| ClientError::Network(describe(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| ClientError::Network(describe(&e)))?.to_vec();
        Ok(Exchange { status, body })
    }
}

/// A reqwest error without the URL's query (it never holds secrets, but stays short).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

fn gateway_error(exchange: &Exchange) -> ClientError {
    let parsed: Value = serde_json::from_slice(&exchange.body).unwrap_or(Value::Null);
    let text = |name: &str| parsed.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    ClientError::Gateway { status: exchange.status.as_u16(), code: text("error_code"), message: text("error_msg") }
}
