//! Audit rows of calls answered outside a callback transaction (refused before verification, replays,
//! failures), written by one background task in batches.
//!
//! Accepted calls write their audit row inside their own transaction. Refused calls are cheap to send
//! in bulk and need no key, so they must not compete with real callbacks for the database (on SQLite
//! there is one writer): they go through a bounded queue; when a flood fills it, further rows are
//! dropped and counted in the log instead of slowing real calls down.

use crate::store::{AuditEntry, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Rows waiting to be written at most.
const QUEUE_CAPACITY: usize = 4096;
/// Rows written in one transaction at most.
const BATCH: usize = 256;
/// Longest request body kept for a call whose signature was not verified.
pub const UNVERIFIED_BODY_MAX_CHARS: usize = 2048;

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
        if let Err(error) = store.record_audits(&batch).await {
            tracing::error!(%error, rows = batch.len(), "could not write audit rows of refused calls");
        }
    }
}
