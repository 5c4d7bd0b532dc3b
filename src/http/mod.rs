//! The HTTP surface: the production address (V2 POST), health probes, and JSON answers for everything
//! else. Read `v2.rs` for the order of work of one call, `verify.rs` for the checks before it, and
//! `response.rs` for the exact answer format.

mod audit;
mod response;
mod v2;
mod verify;

pub use audit::AuditSink;

use crate::config::Settings;
use crate::crypto::Sealer;
use crate::protocol::result::{Envelope, ResultCode};
use crate::provisioning::Provisioner;
use crate::store::Store;
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
    pub store: Arc<dyn Store>,
    pub provisioner: Arc<dyn Provisioner>,
    pub sealer: Sealer,
    pub audit: AuditSink,
    pub feed: crate::handlers::feed::Feed,
    /// Set when the open APIs are configured: how long an order sync is retried.
    pub sync_orders_for_ms: Option<i64>,
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
    // Not a V2 call, but a call to the production address all the same: answered and audited.
    let started = std::time::Instant::now();
    let mut audit = v2::new_audit_entry(parts.method.as_str(), &parts.uri, &parts.headers, crate::now_ms());
    audit.verification = "not_v2".into();
    let (status, message) = if parts.method == Method::GET {
        (StatusCode::OK, "V1 (GET) interfaces are not enabled on this production address; V2 calls are POSTed")
    } else {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed: the marketplace POSTs to this address")
    };
    let answer = response::Answer::new(Envelope::refusal(ResultCode::InvalidParam, message));
    v2::finish_audit(&mut audit, &answer, started);
    state.audit.submit(audit);
    let key = state.settings.v2.emit_body_sign.then(|| state.settings.keys.basic.0.first()).flatten();
    json_response(status, answer.bytes, key)
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec(), None)
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
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
/// (for at most 10 s).
///
/// Like `axum::serve`, but HTTP/1 header names go out in Title-Case (`Body-Sign`, `Content-Type`): the
/// marketplace's checker reads `Body-Sign` case-sensitively, and hyper would otherwise write every
/// name in lower case.
pub async fn serve(listener: tokio::net::TcpListener, router: Router, shutdown: impl std::future::Future<Output = ()>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true);
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
