//! The HTTP surface: the production address with one adapter per wire format (`v2/` POST, `v1/` GET), health
//! probes, and JSON answers for everything else. Every adapter hands its calls to the shared callback
//! pipeline (`crate::callback::pipeline`); `response.rs` writes the exact answer format and `audit.rs`
//! the HTTP part of each call's audit row.

mod audit;
mod response;
mod v1;
mod v2;

use crate::callback::audit::UNVERIFIED_TEXT_MAX_CHARS;
use crate::callback::{Pipeline, Record, Refusal};
use crate::config::Settings;
use crate::protocol::keys::KeyType;
use crate::protocol::result::{Envelope, ResultCode};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use response::{json_response, plain_error};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub settings: Settings,
    pub pipeline: Pipeline,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

pub fn router(state: AppState) -> Router {
    let base = state.settings.server.base_path.trim_end_matches('/').to_owned();
    let mut router = Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if base.is_empty() {
        router = router.route("/", any(production_address));
    } else {
        router = router.route(&base, any(production_address)).route(&format!("{base}/"), any(production_address));
    }
    router
        .fallback(|| async { plain_error(StatusCode::NOT_FOUND, "unknown path") })
        // Bodies are read (and limited) by the V2 handler itself, so that an oversized body gets a JSON answer.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            let envelope = Envelope::refusal(ResultCode::Internal, "internal error");
            json_response(StatusCode::OK, envelope.to_bytes(), None)
        }))
        .with_state(state)
}

async fn production_address(state: State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method == Method::POST {
        return v2::callback(state, parts.uri, parts.headers, body).await;
    }
    if parts.method == Method::GET && v1::enabled(&state) {
        return v1::callback(&state, parts.uri, parts.headers).await;
    }
    // Not a call this address serves, but a call to the production address all the same: answered and
    // audited.
    let audit = audit::new_audit_entry(parts.method.as_str(), &parts.uri, &parts.headers, crate::now_ms());
    let mut record = Record { wire: "none", audit, started: std::time::Instant::now() };
    record.audit.query = record.audit.query.chars().take(UNVERIFIED_TEXT_MAX_CHARS).collect();
    let (status, answer) = if parts.method == Method::GET {
        record.audit.verification = "v1_not_enabled".into();
        (StatusCode::OK, v1::not_enabled())
    } else {
        record.audit.verification = "method_not_allowed".into();
        (
            StatusCode::METHOD_NOT_ALLOWED,
            v2::refusal(Refusal::invalid("method not allowed: the marketplace POSTs (V2) or GETs (V1) this address")),
        )
    };
    let answer = state.pipeline.refuse(record, answer);
    v2::respond(&state, status, answer, (KeyType::Basic, 0))
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec(), None)
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.pipeline.store.ping().await {
        Ok(()) => json_response(StatusCode::OK, br#"{"status":"ready"}"#.to_vec(), None),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                r#"{"status":"database unreachable"}"#,
            )
                .into_response()
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the connections in flight finish
/// (for at most 10 s). A client that has not sent a request's whole header within `header_read_timeout`
/// is disconnected.
///
/// Like `axum::serve`, but HTTP/1 header names go out in Title-Case (`Body-Sign`, `Content-Type`): the
/// marketplace's checker reads `Body-Sign` case-sensitively, and hyper would otherwise write every
/// name in lower case.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    header_read_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // The timer makes the header-read timeout fire (without one hyper never times out a slow client).
    builder.http1().title_case_headers(true).timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = hyper_util::service::TowerToHyperService::new(router.clone());
                    let connection = graceful.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned());
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open 10 s after shutdown began; closing them");
    }
}
