//! The operators' side of koogate: what happened to an instance, which marketplace calls arrived, and
//! which background jobs are stuck — without a database client, and without ever showing a password.
//!
//! Two front ends share everything here: the admin API ([`router`], served by `startup` on its own
//! listener, `admin.listen`, so it can stay on a private address while the production address is public)
//! and the `koogate instances|audit|jobs` commands ([`cli`]). Both validate parameters with the same
//! functions and print the same [`views`], so the JSON of `--json` is the JSON of the API.
//!
//! The API is disabled unless `admin.token` is set; every route but the OpenAPI document requires
//! `Authorization: Bearer <token>`, compared in constant time over SHA-256 digests (equal length whatever
//! was sent, so neither the content nor the length of the token leaks through timing).

pub mod cli;
pub mod views;

use crate::config::Settings;
use crate::domain::{Event, Instance, InstanceStatus};
use crate::store::{AppliedOrder, AuditEntry, InstanceFilter, Job, JobKind, JobState, Store, StoreError};
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
use views::{AuditView, InstanceDetail, InstanceView, JobView, Page};

/// The API's own description, served without a token so tools can discover it.
const OPENAPI: &str = include_str!("openapi.json");

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
const INSTANCE_STATUSES: [InstanceStatus; 5] =
    [InstanceStatus::Provisioning, InstanceStatus::Active, InstanceStatus::Frozen, InstanceStatus::Released, InstanceStatus::Failed];

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

/// How long a retried job may keep failing before it is dead again, by kind.
#[derive(Debug, Clone, Copy)]
pub struct RetryHorizons {
    pub webhook_ms: i64,
    pub provision_ms: i64,
}

impl RetryHorizons {
    pub fn from_settings(settings: &Settings) -> RetryHorizons {
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        RetryHorizons { webhook_ms: ms(settings.webhook.retry_horizon_secs), provision_ms: ms(settings.provisioning.horizon_secs) }
    }

    /// Provisioning and order syncs are retried as long as the marketplace retries its calls
    /// (`provisioning.horizon_secs`); deliveries (and anything else) for `webhook.retry_horizon_secs`.
    pub fn for_kind(self, kind: &JobKind) -> i64 {
        match kind {
            JobKind::Provision | JobKind::OrderSync => self.provision_ms,
            JobKind::Webhook | JobKind::Unrecognised(_) => self.webhook_ms,
        }
    }
}

/// Reads an instance status filter; the error names the allowed values.
pub fn parse_instance_status(value: &str) -> Result<InstanceStatus, String> {
    InstanceStatus::parse(value).ok_or_else(|| {
        let allowed: Vec<&str> = INSTANCE_STATUSES.iter().map(|status| status.as_str()).collect();
        format!("must be one of {}", allowed.join(", "))
    })
}

/// Reads a job state filter; the error names the allowed values.
pub fn parse_job_state(value: &str) -> Result<JobState, String> {
    JobState::parse(value).ok_or_else(|| {
        let allowed: Vec<&str> = JobState::ALL.iter().map(|state| state.as_str()).collect();
        format!("must be one of {}", allowed.join(", "))
    })
}

/// Reads a page size: an integer from 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| format!("must be an integer from 1 to {MAX_LIMIT}"))
}

/// The cursor of the page after `items`: the last item's key when the page is full, else `None` (a
/// short page is the last one).
pub fn next_cursor<T>(items: &[T], limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 == limit { items.last().map(key) } else { None }
}

/// Pages a list read whole (the audit log of one order or instance): `after` is the position (from 0) of
/// the previous page's last entry.
pub fn audit_page(entries: &[AuditEntry], after: Option<usize>, limit: i64) -> Page<AuditView<'_>> {
    let start = after.map_or(0, |after| after.saturating_add(1)).min(entries.len());
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(entries.len());
    let items = entries[start..end].iter().map(AuditView::new).collect();
    let next = (end < entries.len() && end > start).then(|| (end - 1).to_string());
    Page { items, next }
}

/// Whose calls to list from the audit log.
#[derive(Debug, Clone)]
pub enum AuditSubject {
    /// The calls naming the order and those naming an instance created for it.
    Order(String),
    /// The calls naming the instance.
    Instance(String),
}

impl AuditSubject {
    /// The recorded calls, oldest first.
    pub async fn entries(&self, store: &dyn Store) -> Result<Vec<AuditEntry>, StoreError> {
        match self {
            AuditSubject::Order(order_id) => store.audit_for_order(order_id).await,
            AuditSubject::Instance(instance_id) => store.audit_for_instance(instance_id).await,
        }
    }
}

/// An instance and everything recorded about it, oldest first.
pub struct InstanceHistory {
    pub instance: Instance,
    pub events: Vec<Event>,
    pub applied_orders: Vec<AppliedOrder>,
    pub audit: Vec<AuditEntry>,
}

impl InstanceHistory {
    pub async fn load(store: &dyn Store, instance_id: &str) -> Result<Option<InstanceHistory>, StoreError> {
        let Some(instance) = store.instance(instance_id).await? else { return Ok(None) };
        let events = store.events_for_instance(instance_id).await?;
        let applied_orders = store.applied_orders(instance_id).await?;
        let audit = store.audit_for_instance(instance_id).await?;
        Ok(Some(InstanceHistory { instance, events, applied_orders, audit }))
    }

    pub fn view(&self) -> InstanceDetail<'_> {
        InstanceDetail {
            instance: InstanceView::new(&self.instance),
            events: self.events.iter().map(views::EventView::new).collect(),
            applied_orders: self.applied_orders.iter().map(views::AppliedOrderView::new).collect(),
            audit: self.audit.iter().map(AuditView::new).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("job {0} not found")]
    NotFound(i64),
    #[error("job {id} is {state}; only dead jobs can be retried")]
    NotDead { id: i64, state: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Puts a dead job back in the queue, due now, with a new deadline from its kind's horizon.
pub async fn retry_dead_job(store: &dyn Store, job_id: i64, horizons: RetryHorizons, now_ms: i64) -> Result<Job, RetryError> {
    let job = store.job(job_id).await?.ok_or(RetryError::NotFound(job_id))?;
    if job.state != JobState::Dead {
        return Err(RetryError::NotDead { id: job_id, state: job.state.to_string() });
    }
    let deadline_ms = now_ms.saturating_add(horizons.for_kind(&job.kind));
    if !store.retry_job(job_id, now_ms, deadline_ms).await? {
        // Someone else retried it between our read and our update: report what it is now.
        let state = store.job(job_id).await?.map_or_else(|| "gone".to_owned(), |job| job.state.to_string());
        return Err(RetryError::NotDead { id: job_id, state });
    }
    tracing::info!(job_id, kind = %job.kind, deadline_ms, "dead job put back in the queue by an operator");
    store.job(job_id).await?.ok_or(RetryError::NotFound(job_id))
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
    fn parameters_are_checked_with_messages_that_name_the_allowed_values() {
        assert_eq!(parse_instance_status("frozen"), Ok(InstanceStatus::Frozen));
        assert_eq!(parse_instance_status("FROZEN"), Err("must be one of provisioning, active, frozen, released, failed".into()));
        assert_eq!(parse_job_state("dead"), Ok(JobState::Dead));
        assert!(parse_job_state("failed").unwrap_err().contains("pending, running, done, dead"));
        assert_eq!(parse_limit("500"), Ok(500));
        for bad in ["0", "501", "-1", "ten", ""] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_pages_continue_after_the_last_position() {
        let entries: Vec<AuditEntry> = (0..5).map(|i| AuditEntry { received_at_ms: i, ..AuditEntry::default() }).collect();
        let first = audit_page(&entries, None, 2);
        assert_eq!((first.items.len(), first.next.as_deref()), (2, Some("1")));
        let second = audit_page(&entries, Some(1), 2);
        assert_eq!((second.items[0].received_at_ms, second.next.as_deref()), (2, Some("3")));
        let last = audit_page(&entries, Some(3), 2);
        assert_eq!((last.items.len(), last.next), (1, None));
        assert!(audit_page(&entries, Some(usize::MAX), 2).items.is_empty());
        assert_eq!(audit_page(&entries, None, 5).next, None);
    }

    #[test]
    fn retries_use_the_horizon_of_the_job_kind() {
        let horizons = RetryHorizons { webhook_ms: 10, provision_ms: 20 };
        assert_eq!(
            (horizons.for_kind(&JobKind::Webhook), horizons.for_kind(&JobKind::Provision), horizons.for_kind(&JobKind::parse("test-dead"))),
            (10, 20, 10)
        );
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
