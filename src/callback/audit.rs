//! The audit log's rules for every wire format: what of a call is kept (secrets redacted at any depth,
//! unverified bodies cut short), and how rows of calls answered outside a callback transaction (refused
//! before verification, replays, failures) are written: by one background task, in batches.
//!
//! Accepted calls write their audit row inside their own transaction. Refused calls are cheap to send
//! in bulk and need no key, so they must not compete with real callbacks for the database (on SQLite
//! there is one writer): they go through a bounded queue; when a flood fills it, further rows are
//! dropped and counted in the log instead of slowing real calls down.
//!
//! A batch the database does not take (it is down, or too slow) is kept and written again with
//! backoff until it does, so the rows of calls answered `000005` during an outage are written when the
//! database returns. The bound: the batch being retried plus [`QUEUE_CAPACITY`] rows waiting behind it;
//! past that, new rows are dropped and counted. At shutdown a batch that still cannot be written is
//! given up (and counted in the log) rather than holding the process.

use crate::store::{AuditEntry, Store};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Rows waiting to be written at most.
const QUEUE_CAPACITY: usize = 4096;
/// Rows written in one transaction at most.
const BATCH: usize = 256;
/// Longest request body (or query) kept for a call whose signature was not verified.
pub const UNVERIFIED_TEXT_MAX_CHARS: usize = 2048;

#[derive(Clone)]
pub struct AuditSink {
    sender: mpsc::Sender<AuditEntry>,
    dropped: Arc<AtomicU64>,
}

impl AuditSink {
    /// Starts the writer; it ends (after writing what is queued) when every sink clone is dropped.
    pub fn start(store: Arc<dyn Store>) -> (AuditSink, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(write_batches(store, receiver));
        (AuditSink { sender, dropped: Arc::new(AtomicU64::new(0)) }, writer)
    }

    pub fn submit(&self, entry: AuditEntry) {
        if self.sender.try_send(entry).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "audit queue full: rows of refused calls dropped (a flood of unsigned requests?)");
            }
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<AuditEntry>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        let mut delay = RETRY_FIRST;
        while let Err(error) = store.record_audits(&batch).await {
            if receiver.is_closed() {
                tracing::error!(%error, rows = batch.len(), "shutting down: audit rows of refused calls could not be written");
                break;
            }
            tracing::warn!(%error, rows = batch.len(), retry_in_ms = delay.as_millis() as u64, "audit rows of refused calls not written yet; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}

/// Backoff of a batch the database did not take.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(200);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// Member names whose values never reach the audit log.
const SECRET_MEMBERS: [&str; 5] = ["password", "clientSecret", "secret", "authToken", "accessKey"];

fn redact(value: &mut Value) -> bool {
    let mut changed = false;
    match value {
        Value::Object(object) => {
            for (name, member) in object.iter_mut() {
                if SECRET_MEMBERS.iter().any(|secret| name.eq_ignore_ascii_case(secret)) && !member.is_null() {
                    *member = Value::String("***".into());
                    changed = true;
                } else {
                    changed |= redact(member);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= redact(item);
            }
        }
        _ => {}
    }
    changed
}

/// A JSON request body as received, unless it carries a secret member, which is then replaced.
pub fn request_body(body: &[u8], object: Option<&Map<String, Value>>) -> String {
    if let Some(object) = object {
        let mut value = Value::Object(object.clone());
        if redact(&mut value) {
            return value.to_string();
        }
    }
    String::from_utf8_lossy(body).into_owned()
}

/// As [`request_body`], cut to [`UNVERIFIED_TEXT_MAX_CHARS`]: anyone can send unverified calls.
pub fn unverified_request_body(body: &[u8], object: Option<&Map<String, Value>>) -> String {
    request_body(body, object).chars().take(UNVERIFIED_TEXT_MAX_CHARS).collect()
}

/// A response body with every secret member replaced.
pub fn response_body(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            value.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut value = serde_json::json!({"info": [{"appInfo": {"password": "p", "userName": "u"}}], "clientSecret": "c"});
        assert!(redact(&mut value));
        assert_eq!(value["info"][0]["appInfo"]["password"], "***");
        assert_eq!(value["info"][0]["appInfo"]["userName"], "u");
        assert_eq!(value["clientSecret"], "***");
        let raw = br#"{"b":1, "a":2}"#;
        let object: Map<String, Value> = serde_json::from_slice(raw).unwrap();
        assert_eq!(request_body(raw, Some(&object)), r#"{"b":1, "a":2}"#, "bodies without secrets are kept byte for byte");
    }
}
