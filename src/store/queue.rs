//! The durable job queue's vocabulary (`jobs` table): what a job is, which kinds exist, which states a
//! job moves through. The queue's SQL is in `sql.rs`; the worker that runs jobs is `crate::jobs`.

use std::fmt;

/// What a job does. Stored as text so that a node of another koogate version (a rolling upgrade) can
/// read rows of kinds it does not run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Deliver one event to `webhook.url`.
    Webhook,
    /// Ask the merchant's application to provision an instance.
    Provision,
    /// Fetch an order applied to an instance (purchase, upgrade, renewal) and keep its plan.
    OrderSync,
    /// A kind this version does not know: listed and retried by operators, never claimed by this worker.
    Unrecognised(String),
}

impl JobKind {
    pub fn as_str(&self) -> &str {
        match self {
            JobKind::Webhook => "webhook",
            JobKind::Provision => "provision",
            JobKind::OrderSync => "order_sync",
            JobKind::Unrecognised(name) => name,
        }
    }

    pub fn parse(name: &str) -> JobKind {
        match name {
            "webhook" => JobKind::Webhook,
            "provision" => JobKind::Provision,
            "order_sync" => JobKind::OrderSync,
            other => JobKind::Unrecognised(other.to_owned()),
        }
    }
}

impl From<String> for JobKind {
    fn from(name: String) -> JobKind {
        JobKind::parse(&name)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for JobKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a job is: `pending` (due at `run_after_ms`), `running` (claimed, leased), `done`, or `dead`
/// (failed past its deadline; an operator may put it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [JobState::Pending, JobState::Running, JobState::Done, JobState::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `jobs.state` value outside [`JobState`] (the table's CHECK constraint makes this corruption).
#[derive(Debug, thiserror::Error)]
#[error("unknown job state {0:?}")]
pub struct UnknownJobState(String);

impl TryFrom<String> for JobState {
    type Error = UnknownJobState;

    fn try_from(name: String) -> Result<JobState, UnknownJobState> {
        JobState::parse(&name).ok_or(UnknownJobState(name))
    }
}

/// A background task to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: JobKind,
    /// Jobs with the same key run one at a time, oldest first (e.g. the events of one instance).
    pub ordering_key: Option<String>,
    /// JSON.
    pub payload: String,
    pub run_after_ms: i64,
    /// A failure after this makes the job dead instead of retrying it.
    pub deadline_ms: i64,
    pub created_at_ms: i64,
}

impl NewJob {
    /// A job due now, ordered behind earlier jobs with the same `ordering_key`, retried for `horizon_ms`.
    pub fn due_now(kind: JobKind, ordering_key: String, payload: serde_json::Value, now_ms: i64, horizon_ms: i64) -> NewJob {
        NewJob {
            kind,
            ordering_key: Some(ordering_key),
            payload: payload.to_string(),
            run_after_ms: now_ms,
            deadline_ms: now_ms + horizon_ms,
            created_at_ms: now_ms,
        }
    }
}

/// Columns of `jobs`, as [`Job`] reads them.
pub(super) const JOB_COLUMNS: &str = "id, kind, ordering_key, payload, state, attempts, run_after_ms, deadline_ms, locked_until_ms, last_error, created_at_ms, updated_at_ms";

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: JobKind,
    pub ordering_key: Option<String>,
    pub payload: String,
    #[sqlx(try_from = "String")]
    pub state: JobState,
    /// Attempts started; also the fencing token of a claim (a stale worker cannot finish a reclaimed job).
    pub attempts: i64,
    pub run_after_ms: i64,
    pub deadline_ms: i64,
    pub locked_until_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_through_their_names() {
        for kind in [JobKind::Webhook, JobKind::Provision, JobKind::OrderSync, JobKind::Unrecognised("future".into())] {
            assert_eq!(JobKind::parse(kind.as_str()), kind);
        }
        for state in JobState::ALL {
            assert_eq!(JobState::try_from(state.as_str().to_owned()).unwrap(), state);
        }
        assert!(JobState::try_from("paused".to_owned()).unwrap_err().to_string().contains("paused"));
    }
}
