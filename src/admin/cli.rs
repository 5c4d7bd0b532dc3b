//! `koogate instances|audit|jobs`: the admin API's answers for an operator at a shell on a node, read
//! straight from `database.url` (no admin token needed: whoever can read the configuration can read the
//! database anyway).
//!
//! Each command returns the text to print, so `main` owns stdout, stderr and exit codes. `--json` prints
//! the API's [`views`](super::views); the human form is an aligned table. Table cells are stripped of
//! control characters: audit rows hold whatever unverified callers sent, and an escape sequence must not
//! reach an operator's terminal.

use super::views::{InstanceView, JobView, Page};
use super::{AuditSubject, InstanceHistory, RetryError, RetryHorizons, audit_page, next_cursor, retry_dead_job};
use crate::domain::{Instance, InstanceStatus};
use crate::store::{AuditEntry, InstanceFilter, Job, JobState, Store, StoreError};
use chrono::DateTime;
use std::fmt::Write;

/// Why a command printed nothing on stdout.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The record does not exist, or the job is not dead (exit status 1).
    #[error("{0}")]
    Refused(String),
    /// The database could not be read (exit status 2, like a configuration error).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<RetryError> for CommandError {
    fn from(error: RetryError) -> CommandError {
        match error {
            RetryError::Store(error) => CommandError::Store(error),
            refused => CommandError::Refused(refused.to_string()),
        }
    }
}

/// Longest table cell; longer values (error messages, result messages) are cut with `…`.
const MAX_CELL_CHARS: usize = 60;

pub async fn list_instances(
    store: &dyn Store,
    status: Option<InstanceStatus>,
    order_id: Option<String>,
    after: Option<String>,
    limit: i64,
    json: bool,
) -> Result<String, CommandError> {
    let filter = InstanceFilter { status: status.map(|s| s.as_str().to_owned()), order_id, after, limit };
    let instances = store.list_instances(&filter).await?;
    let next = next_cursor(&instances, limit, |instance| instance.instance_id.clone());
    if json {
        return Ok(to_json(&Page { items: instances.iter().map(InstanceView::new).collect(), next }));
    }
    if instances.is_empty() {
        return Ok("no instances\n".into());
    }
    let rows = instances.iter().map(instance_row).collect();
    let mut text = table(&["INSTANCE", "STATUS", "ORDER", "ORDER LINE", "PRODUCT", "EXPIRES", "UPDATED"], rows);
    if let Some(next) = next {
        let _ = writeln!(text, "more: --after {next}");
    }
    Ok(text)
}

fn instance_row(instance: &Instance) -> Vec<String> {
    vec![
        instance.instance_id.clone(),
        instance.status.as_str().into(),
        instance.order_id.clone(),
        instance.order_line_id.clone(),
        or_dash(instance.product_id.as_deref()),
        instance.expire_time_ms.map_or_else(|| "-".into(), human_time),
        human_time(instance.updated_at_ms),
    ]
}

pub async fn show_instance(store: &dyn Store, instance_id: &str, json: bool) -> Result<String, CommandError> {
    let history = InstanceHistory::load(store, instance_id)
        .await?
        .ok_or_else(|| CommandError::Refused(format!("instance {instance_id} not found")))?;
    if json {
        return Ok(to_json(&history.view()));
    }
    let i = &history.instance;
    let app_info = i.app_info.as_ref();
    let fields = [
        ("instance", i.instance_id.clone()),
        ("order", i.order_id.clone()),
        ("order line", i.order_line_id.clone()),
        ("status", i.status.as_str().into()),
        ("product", or_dash(i.product_id.as_deref())),
        ("expires", i.expire_time_ms.map_or_else(|| "-".into(), human_time)),
        ("trial", i.trial.map_or("-", |trial| if trial { "yes" } else { "no" }).into()),
        ("last order", or_dash(i.last_order_id.as_deref())),
        ("created", human_time(i.created_at_ms)),
        ("updated", human_time(i.updated_at_ms)),
        ("front-end URL", or_dash(app_info.map(|a| a.front_end_url.as_str()))),
        ("admin URL", or_dash(app_info.and_then(|a| a.admin_url.as_deref()))),
        ("user name", or_dash(app_info.and_then(|a| a.user_name.as_deref()))),
        ("password", if app_info.is_some_and(|a| a.password_sealed.is_some()) { "set" } else { "not set" }.into()),
        ("memo", or_dash(app_info.and_then(|a| a.memo.as_deref()))),
    ];
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 1;
    let mut text = String::new();
    for (name, value) in fields {
        let _ = writeln!(text, "{:<width$} {}", format!("{name}:"), cell(&value));
    }
    let _ = writeln!(text, "\nevents ({}):", history.events.len());
    let rows = history
        .events
        .iter()
        .map(|e| {
            vec![human_time(e.occurred_at_ms), e.event_type.as_str().to_owned(), e.id.clone(), if e.test_flag { "test" } else { "" }.into()]
        })
        .collect();
    text.push_str(&section(&["TIME", "TYPE", "ID", ""], rows));
    let _ = writeln!(text, "\napplied orders ({}):", history.applied_orders.len());
    let rows = history
        .applied_orders
        .iter()
        .map(|o| vec![human_time(o.applied_at_ms), o.operation.clone(), o.order_id.clone(), or_dash(o.order_line_id.as_deref())])
        .collect();
    text.push_str(&section(&["TIME", "OPERATION", "ORDER", "ORDER LINE"], rows));
    let _ = writeln!(text, "\naudit ({}):", history.audit.len());
    text.push_str(&section(AUDIT_HEADERS, history.audit.iter().map(audit_row).collect()));
    Ok(text)
}

/// The calls about one order or one instance, all of them (`--json`: one page holding everything).
pub async fn audit(store: &dyn Store, subject: &AuditSubject, json: bool) -> Result<String, CommandError> {
    let entries = subject.entries(store).await?;
    if json {
        return Ok(to_json(&audit_page(&entries, None, i64::MAX)));
    }
    if entries.is_empty() {
        return Ok("no audit entries\n".into());
    }
    Ok(table(AUDIT_HEADERS, entries.iter().map(audit_row).collect()))
}

const AUDIT_HEADERS: &[&str] = &["RECEIVED", "ACTIVITY", "RESULT", "VERIFICATION", "INSTANCE", "ORDER", "MS", "MESSAGE"];

fn audit_row(e: &AuditEntry) -> Vec<String> {
    vec![
        human_time(e.received_at_ms),
        or_dash(e.activity.as_deref()),
        e.result_code.clone(),
        e.verification.clone(),
        or_dash(e.instance_id.as_deref()),
        or_dash(e.order_id.as_deref()),
        e.duration_ms.to_string(),
        e.result_msg.clone(),
    ]
}

pub async fn list_jobs(
    store: &dyn Store,
    state: Option<JobState>,
    after: Option<i64>,
    limit: i64,
    json: bool,
) -> Result<String, CommandError> {
    let jobs = store.list_jobs(state, after, limit).await?;
    let next = next_cursor(&jobs, limit, |job| job.id.to_string());
    if json {
        return Ok(to_json(&Page { items: jobs.iter().map(JobView::new).collect(), next }));
    }
    if jobs.is_empty() {
        return Ok("no jobs\n".into());
    }
    let rows = jobs.iter().map(job_row).collect();
    let mut text = table(&["ID", "KIND", "STATE", "ATTEMPTS", "RUN AFTER", "DEADLINE", "ORDERING KEY", "LAST ERROR"], rows);
    if let Some(next) = next {
        let _ = writeln!(text, "more: --after {next}");
    }
    Ok(text)
}

fn job_row(job: &Job) -> Vec<String> {
    vec![
        job.id.to_string(),
        job.kind.to_string(),
        job.state.to_string(),
        job.attempts.to_string(),
        human_time(job.run_after_ms),
        human_time(job.deadline_ms),
        or_dash(job.ordering_key.as_deref()),
        or_dash(job.last_error.as_deref()),
    ]
}

pub async fn retry_job(store: &dyn Store, job_id: i64, horizons: RetryHorizons) -> Result<String, CommandError> {
    let job = retry_dead_job(store, job_id, horizons, crate::now_ms()).await?;
    Ok(format!(
        "job {} ({}) is pending again; it is dead again if still failing at {}\n",
        job.id,
        cell(job.kind.as_str()),
        human_time(job.deadline_ms)
    ))
}

fn to_json(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("views serialise");
    text.push('\n');
    text
}

/// UTC, to the second, in RFC 3339: `2025-01-01T00:00:00Z`.
fn human_time(unix_ms: i64) -> String {
    DateTime::from_timestamp_millis(unix_ms).map_or_else(|| unix_ms.to_string(), |time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn or_dash(value: Option<&str>) -> String {
    value.filter(|value| !value.is_empty()).unwrap_or("-").to_owned()
}

/// One line, no control characters, at most [`MAX_CELL_CHARS`].
fn cell(value: &str) -> String {
    let mut text: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if let Some((cut, _)) = text.char_indices().nth(MAX_CELL_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Columns padded to their widest cell, two spaces apart; the last column unpadded.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.into_iter().map(|row| row.iter().map(|value| cell(value)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in &rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|header| (*header).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (column, (value, width)) in row.iter().zip(&widths).enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            line.push_str(value);
            if column + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', width - value.chars().count()));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A section's table, indented; nothing at all when it has no rows.
fn section(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return String::new();
    }
    table(headers, rows).lines().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_keep_escape_sequences_off_the_terminal() {
        let text = table(
            &["ID", "NAME", "NOTE"],
            vec![vec!["1".into(), "a\u{1b}[31m".into(), "x".into()], vec!["22".into(), "bb".into(), "".into()]],
        );
        assert_eq!(text, "ID  NAME    NOTE\n1   a [31m  x\n22  bb\n");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn long_cells_are_cut() {
        let long = "é".repeat(100);
        assert_eq!(cell(&long).chars().count(), MAX_CELL_CHARS + 1);
        assert_eq!(cell("line\nbreak"), "line break");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(human_time(1_735_689_600_000), "2025-01-01T00:00:00Z");
    }
}
