//! The `/sim/` control routes (unauthenticated: a local test tool) and failure injection. Both are the
//! test's handle on the platform rather than part of the marketplace's APIs: what was received, which
//! orders to serve, and which calls should fail as the gateway fails.

use super::{Answer, MAX_BODY, PlatformState};
use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

impl PlatformState {
    /// The next `count` API calls answer HTTP `status` with a gateway-style error, before any other
    /// processing. Replaces a pending injection; `count` 0 cancels it.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.data().failures = (count > 0).then_some((count, status));
    }

    pub(super) fn take_failure(&self) -> Option<u16> {
        let mut data = self.data();
        let (remaining, status) = data.failures?;
        data.failures = (remaining > 1).then_some((remaining - 1, status));
        Some(status)
    }
}

impl Answer {
    /// The answer to an injected failure. Codes and messages follow the APIG error table where it has
    /// the status; our choice for the others: `APIGW.0201` (4xx) and `APIGW.0202` (5xx).
    pub(super) fn injected(status: u16) -> Answer {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (code, message) = match status.as_u16() {
            401 => ("APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"),
            404 => ("APIGW.0101", "The API does not exist or has not been published in the environment"),
            413 => ("APIGW.0201", "Request entity too large"),
            429 => ("APIGW.0308", "The throttling threshold has been reached"),
            504 => ("APIGW.0203", "Backend timeout"),
            400..=499 => ("APIGW.0201", "API request error"),
            _ => ("APIGW.0202", "Backend unavailable"),
        };
        Answer::gateway(status, code, message)
    }
}

#[derive(Deserialize)]
struct FailRequest {
    count: usize,
    status: u16,
}

pub(super) async fn control(state: &PlatformState, parts: &Parts, body: Body) -> Answer {
    let refuse = |message: &str| Answer::new(StatusCode::BAD_REQUEST, json!({ "error": message }));
    let body = match parts.method {
        Method::POST => match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(body) => body,
            Err(_) => return refuse("the body could not be read (at most 12 MB)"),
        },
        _ => Bytes::new(),
    };
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/sim/received") => Answer::new(StatusCode::OK, serde_json::to_value(state.received()).unwrap_or_default()),
        (&Method::GET, "/sim/usage") => Answer::new(StatusCode::OK, serde_json::to_value(state.usage_records()).unwrap_or_default()),
        (&Method::POST, "/sim/orders") => {
            let Ok(order) = serde_json::from_slice::<Value>(&body) else {
                return refuse("the body must be an orderInfo JSON object");
            };
            let id = order.get("orderId").cloned().unwrap_or_default();
            match state.add_order(order) {
                Ok(()) => Answer::new(StatusCode::OK, json!({ "added": id })),
                Err(problem) => refuse(&problem),
            }
        }
        (&Method::POST, "/sim/fail") => match serde_json::from_slice::<FailRequest>(&body) {
            Ok(FailRequest { count, status }) if (400..=599).contains(&status) => {
                state.fail_next(count, status);
                Answer::new(StatusCode::OK, json!({ "count": count, "status": status }))
            }
            _ => refuse(r#"the body must be {"count":N,"status":S} with S an HTTP error status (400..=599)"#),
        },
        _ => Answer::not_found(),
    }
}
