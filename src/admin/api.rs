//! The admin API: routes, bearer-token check, parameters and error answers. The HTTP front end only —
//! what it reads and how it pages and retries is shared with the `koogate instances|audit|jobs`
//! commands and lives in the parent module.
//!
//! The API is disabled unless `admin.token` is set; every route but the OpenAPI document requires
//! `Authorization: Bearer <token>`, compared in constant time over SHA-256 digests (equal length whatever
//! was sent, so neither the content nor the length of the token leaks through timing).

use super::views::{InstanceView, JobView, Page};
use super::{
    AuditSubject, DEFAULT_LIMIT, InstanceHistory, RetryError, RetryHorizons, audit_page, next_cursor, parse_instance_status,
    parse_job_state, parse_limit, retry_dead_job,
};
use crate::config::Settings;
use crate::store::{InstanceFilter, Store, StoreError};
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The API's own description, served without a token so tools can discover it.
const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn Store>,
    pub token: SecretString,
    pub webhook_horizon_ms: i64,
    pub provision_horizon_ms: i64,
}

impl AdminState {
    /// The admin API's state, or `None` when `admin.token` is unset (the API is then not served).
    pub fn from_settings(store: Arc<dyn Store>, settings: &Settings) -> Option<AdminState> {
        let token = settings.admin.token.clone()?;
        let horizons = RetryHorizons::from_settings(settings);
        Some(AdminState { store, token, webhook_horizon_ms: horizons.webhook_ms, provision_horizon_ms: horizons.provision_ms })
    }

    fn horizons(&self) -> RetryHorizons {
        RetryHorizons { webhook_ms: self.webhook_horizon_ms, provision_ms: self.provision_horizon_ms }
    }
}

/// The admin API. Routes are listed in `openapi.json`; every one but the document itself requires the
/// bearer token. Every answer, errors and unknown paths included, is JSON and marked `no-store`.
pub fn router(state: AdminState) -> Router {
    let protected = Router::new()
        .route("/admin/instances", get(list_instances))
        .route("/admin/instances/{id}", get(show_instance))
        .route("/admin/audit", get(list_audit))
        .route("/admin/jobs", get(list_jobs))
        .route("/admin/jobs/{id}", get(show_job))
        .route("/admin/jobs/{id}/retry", post(retry_job))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/admin/openapi.json", get(openapi))
        .merge(protected)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "unknown path") })
        .method_not_allowed_fallback(|| async { ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") })
        .layer(middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }))
        .with_state(state)
}

/// An error answer: `{"error": "…"}` with its status.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }

    fn bad_parameter(name: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, format!("{name} {problem}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::error!(%error, "admin API: reading the store failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the database could not be read; see the server log")
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

impl From<RetryError> for ApiError {
    fn from(error: RetryError) -> ApiError {
        match error {
            RetryError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            RetryError::NotDead { .. } => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            RetryError::Store(error) => error.into(),
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    axum::Json(value).into_response()
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    match bearer_token(request.headers()) {
        Some(presented) if token_matches(presented, &state.token) => next.run(request).await,
        Some(_) => unauthorized("invalid bearer token", r#"Bearer error="invalid_token""#),
        None => unauthorized("missing bearer token: send Authorization: Bearer <admin.token>", "Bearer"),
    }
}

/// The credentials of an `Authorization: Bearer …` header (the scheme in any case, RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, credentials) = value.split_at_checked(7)?;
    (scheme.eq_ignore_ascii_case(b"Bearer ")).then(|| credentials.trim_ascii()).filter(|token| !token.is_empty())
}

/// Constant time whatever was sent: both sides are hashed to 32 bytes first, so a wrong length takes
/// the same path as a wrong byte.
fn token_matches(presented: &[u8], expected: &SecretString) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected.expose_secret().as_bytes());
    presented.ct_eq(&expected).into()
}

fn unauthorized(message: &str, challenge: &'static str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI).into_response()
}

/// An empty query parameter (`?status=`) means "not given".
fn given(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

fn limit_param(value: Option<String>) -> Result<i64, ApiError> {
    given(value).map_or(Ok(DEFAULT_LIMIT), |value| parse_limit(&value).map_err(|problem| ApiError::bad_parameter("limit", problem)))
}

#[derive(Deserialize)]
struct InstanceParams {
    status: Option<String>,
    order_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn list_instances(
    State(state): State<AdminState>,
    query: Result<Query<InstanceParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = query?;
    let status = given(params.status)
        .map(|value| parse_instance_status(&value).map_err(|problem| ApiError::bad_parameter("status", problem)))
        .transpose()?;
    let filter = InstanceFilter {
        status: status.map(|status| status.as_str().to_owned()),
        order_id: given(params.order_id),
        after: given(params.after),
        limit: limit_param(params.limit)?,
    };
    let instances = state.store.list_instances(&filter).await?;
    let next = next_cursor(&instances, filter.limit, |instance| instance.instance_id.clone());
    Ok(json(&Page { items: instances.iter().map(InstanceView::new).collect(), next }))
}

async fn show_instance(State(state): State<AdminState>, id: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(id) = id?;
    match InstanceHistory::load(state.store.as_ref(), &id).await? {
        Some(history) => Ok(json(&history.view())),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("instance {id} not found"))),
    }
}

#[derive(Deserialize)]
struct AuditParams {
    order_id: Option<String>,
    instance_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn list_audit(State(state): State<AdminState>, query: Result<Query<AuditParams>, QueryRejection>) -> Result<Response, ApiError> {
    let Query(params) = query?;
    let after = given(params.after)
        .map(|value| {
            value.parse::<usize>().map_err(|_| ApiError::bad_parameter("after", "must be a non-negative integer (a previous page's next)"))
        })
        .transpose()?;
    let limit = limit_param(params.limit)?;
    let subject = match (given(params.order_id), given(params.instance_id)) {
        (Some(order_id), None) => AuditSubject::Order(order_id),
        (None, Some(instance_id)) => AuditSubject::Instance(instance_id),
        _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, "exactly one of order_id and instance_id is required")),
    };
    let entries = subject.entries(state.store.as_ref()).await?;
    Ok(json(&audit_page(&entries, after, limit)))
}

#[derive(Deserialize)]
struct JobParams {
    state: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn list_jobs(State(state): State<AdminState>, query: Result<Query<JobParams>, QueryRejection>) -> Result<Response, ApiError> {
    let Query(params) = query?;
    let job_state = given(params.state)
        .map(|value| parse_job_state(&value).map_err(|problem| ApiError::bad_parameter("state", problem)))
        .transpose()?;
    let after = given(params.after)
        .map(|value| value.parse::<i64>().map_err(|_| ApiError::bad_parameter("after", "must be an integer (a job ID)")))
        .transpose()?;
    let limit = limit_param(params.limit)?;
    let jobs = state.store.list_jobs(job_state, after, limit).await?;
    let next = next_cursor(&jobs, limit, |job| job.id.to_string());
    Ok(json(&Page { items: jobs.iter().map(JobView::new).collect(), next }))
}

fn job_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(id) = path?;
    id.parse::<i64>().map_err(|_| ApiError::bad_parameter("id", "must be an integer (a job ID)"))
}

async fn show_job(State(state): State<AdminState>, id: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let id = job_id(id)?;
    match state.store.job(id).await? {
        Some(job) => Ok(json(&JobView::new(&job))),
        None => Err(RetryError::NotFound(id).into()),
    }
}

async fn retry_job(State(state): State<AdminState>, id: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let id = job_id(id)?;
    let job = retry_dead_job(state.store.as_ref(), id, state.horizons(), crate::now_ms()).await?;
    Ok(json(&json!({ "job": JobView::new(&job) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_in_any_scheme_case_and_compared_whole() {
        let token = SecretString::from("admin-token-0123456789");
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        for (value, expected) in [
            ("Bearer admin-token-0123456789", Some(true)),
            ("bearer admin-token-0123456789", Some(true)),
            ("Bearer admin-token-012345678", Some(false)),
            ("Bearer admin-token-01234567890", Some(false)),
            ("Bearer ", None),
            ("Basic YWRtaW4=", None),
            ("Bearer", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers).map(|presented| token_matches(presented, &token)), expected, "{value}");
        }
    }

    #[test]
    fn the_openapi_document_describes_every_route() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(document["openapi"], "3.0.3");
        for path in ["/admin/openapi.json", "/admin/instances", "/admin/instances/{id}", "/admin/audit", "/admin/jobs", "/admin/jobs/{id}"]
        {
            assert!(document["paths"][path]["get"].is_object(), "{path}");
        }
        assert!(document["paths"]["/admin/jobs/{id}/retry"]["post"].is_object());
        assert_eq!(document["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    }
}
