//! Serializable mirrors of the `Admin` responses, for `--json` and for the
//! tables (prost types do not derive `Serialize`). Trust: the strings are
//! untrusted; JSON escapes them by itself, the tables through `table`.
//!
//! Field names follow the proto; enums become the proto's value names without
//! their prefix, in lower case (`awaiting_ready`, `test_servers`), and an
//! unknown value becomes `unknown(N)` rather than a guess.
//!
//! These look like the executor's `store::records` but are not the same
//! thing: those are the monitor's storage documents (named for storage,
//! typed with `policy` values, holding fields no client sees, such as
//! `pgid`, `version` and TOTP secrets), while these are `ctl --json`'s own
//! output contract, built from the wire. Nor are they the web's `views`
//! (the browser's API: other names, nulls for "none", per-viewer `actions`).
//! The one shape all three share is the proto's, and each converts from or
//! to it; merging them would tie an operator's scripts to the storage format.

use serde::Serialize;
use spiderpig_proto::v1 as pb;

macro_rules! enum_name {
    ($fn:ident, $ty:ty, $prefix:literal) => {
        pub(super) fn $fn(v: i32) -> String {
            match <$ty>::try_from(v) {
                Ok(e) => e
                    .as_str_name()
                    .trim_start_matches($prefix)
                    .to_ascii_lowercase(),
                Err(_) => format!("unknown({v})"),
            }
        }
    };
}

enum_name!(job_state, pb::JobState, "JOB_STATE_");
enum_name!(stage, pb::Stage, "STAGE_");
enum_name!(job_kind, pb::JobKind, "JOB_KIND_");
enum_name!(role, pb::Role, "ROLE_");
enum_name!(prompt_kind, pb::prompt::Kind, "KIND_");
enum_name!(log_kind, pb::log_record::Kind, "KIND_");

#[derive(Debug, Serialize)]
pub(super) struct StatusView {
    pub version: String,
    pub started_at_ms: i64,
    pub freeze: FreezeView,
    pub active: Option<JobView>,
    pub queued: u32,
    pub sessions: u32,
    pub watchers: u32,
    pub state_file: String,
}

impl From<pb::StatusResponse> for StatusView {
    fn from(r: pb::StatusResponse) -> Self {
        Self {
            version: r.version,
            started_at_ms: r.started_at_ms,
            freeze: r.freeze.unwrap_or_default().into(),
            active: r.active.map(Into::into),
            queued: r.queued,
            sessions: r.sessions,
            watchers: r.watchers,
            state_file: r.state_file,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct FreezeView {
    pub active: bool,
    pub reason: String,
    pub by: String,
    pub since_ms: i64,
    pub until_ms: i64,
}

impl From<pb::Freeze> for FreezeView {
    fn from(f: pb::Freeze) -> Self {
        Self {
            active: f.active,
            reason: f.reason,
            by: f.by,
            since_ms: f.since_ms,
            until_ms: f.until_ms,
        }
    }
}

impl From<pb::FreezeResponse> for FreezeView {
    fn from(r: pb::FreezeResponse) -> Self {
        r.freeze.unwrap_or_default().into()
    }
}

#[derive(Debug, Serialize)]
pub(super) struct QueueView {
    pub active: Option<JobView>,
    pub queued: Vec<JobView>,
    pub freeze: FreezeView,
}

impl From<pb::QueueResponse> for QueueView {
    fn from(r: pb::QueueResponse) -> Self {
        Self {
            active: r.active.map(Into::into),
            queued: r.queued.into_iter().map(Into::into).collect(),
            freeze: r.freeze.unwrap_or_default().into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct JobView {
    pub id: u64,
    pub owner: String,
    pub kind: String,
    pub changes: Vec<u64>,
    pub state: String,
    pub stage: String,
    pub queue_position: u32,
    pub created_at_ms: i64,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    /// scap's exit code, when it has one.
    pub exit_code: Option<i32>,
    pub outcome: String,
    pub pending_prompt: Option<PromptView>,
    pub progress: Option<ProgressView>,
    pub status_line: String,
    pub reverts_job: u64,
    pub stage_marks: Vec<StageMarkView>,
    pub last_seq: u64,
    pub ready_deadline_ms: i64,
    pub finished_by: String,
}

impl From<pb::Job> for JobView {
    fn from(j: pb::Job) -> Self {
        Self {
            id: j.id,
            owner: j.owner,
            kind: job_kind(j.kind),
            changes: j.changes,
            state: job_state(j.state),
            stage: stage(j.stage),
            queue_position: j.queue_position,
            created_at_ms: j.created_at_ms,
            started_at_ms: j.started_at_ms,
            ended_at_ms: j.ended_at_ms,
            exit_code: j.has_exit_code.then_some(j.exit_code),
            outcome: j.outcome,
            pending_prompt: j.pending_prompt.map(Into::into),
            progress: j.progress.map(Into::into),
            status_line: j.status_line,
            reverts_job: j.reverts_job,
            stage_marks: j.stage_marks.into_iter().map(Into::into).collect(),
            last_seq: j.last_seq,
            ready_deadline_ms: j.ready_deadline_ms,
            finished_by: j.finished_by,
        }
    }
}

impl From<pb::JobResponse> for JobView {
    fn from(r: pb::JobResponse) -> Self {
        r.job.unwrap_or_default().into()
    }
}

#[derive(Debug, Serialize)]
pub(super) struct PromptView {
    pub job_id: u64,
    pub prompt_id: u64,
    pub kind: String,
    pub text: String,
    pub choices: Vec<ChoiceView>,
    pub default_key: String,
    pub opened_at_ms: i64,
    pub expires_at_ms: i64,
}

impl From<pb::Prompt> for PromptView {
    fn from(p: pb::Prompt) -> Self {
        Self {
            job_id: p.job_id,
            prompt_id: p.prompt_id,
            kind: prompt_kind(p.kind),
            text: p.text,
            choices: p
                .choices
                .into_iter()
                .map(|c| ChoiceView {
                    label: c.label,
                    key: c.key,
                })
                .collect(),
            default_key: p.default_key,
            opened_at_ms: p.opened_at_ms,
            expires_at_ms: p.expires_at_ms,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct ChoiceView {
    pub label: String,
    pub key: String,
}

#[derive(Debug, Serialize)]
pub(super) struct ProgressView {
    pub name: String,
    pub total_tasks: u64,
    pub tasks_finished_ok: u64,
    pub tasks_finished_failed: u64,
    pub tasks_remaining: u64,
    pub percent_complete: f64,
    pub finished: bool,
}

impl From<pb::Progress> for ProgressView {
    fn from(p: pb::Progress) -> Self {
        Self {
            name: p.name,
            total_tasks: p.total_tasks,
            tasks_finished_ok: p.tasks_finished_ok,
            tasks_finished_failed: p.tasks_finished_failed,
            tasks_remaining: p.tasks_remaining,
            percent_complete: p.percent_complete,
            finished: p.finished,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct StageMarkView {
    pub stage: String,
    pub at_ms: i64,
}

impl From<pb::StageMark> for StageMarkView {
    fn from(m: pb::StageMark) -> Self {
        Self {
            stage: stage(m.stage),
            at_ms: m.at_ms,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct JobsView {
    pub jobs: Vec<JobView>,
    /// 0 = no more pages; else pass it as `--before`.
    pub next_before_job_id: u64,
}

impl From<pb::ListJobsResponse> for JobsView {
    fn from(r: pb::ListJobsResponse) -> Self {
        Self {
            jobs: r.jobs.into_iter().map(Into::into).collect(),
            next_before_job_id: r.next_before_job_id,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct BanView {
    pub username: String,
    pub banned: bool,
    pub sessions_ended: u32,
    pub jobs_cancelled: Vec<u64>,
}

impl From<pb::BanResponse> for BanView {
    fn from(r: pb::BanResponse) -> Self {
        Self {
            username: r.username,
            banned: r.banned,
            sessions_ended: r.sessions_ended,
            jobs_cancelled: r.jobs_cancelled,
        }
    }
}

/// The answer of `logout` and of `totp reset`.
#[derive(Debug, Serialize)]
pub(super) struct SessionsEndedView {
    pub sessions_ended: u32,
}

#[derive(Debug, Serialize)]
pub(super) struct SessionsView {
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Serialize)]
pub(super) struct SessionView {
    pub id: String,
    pub username: String,
    pub role: String,
    pub totp_passed: bool,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub expires_at_ms: i64,
    pub client_addr: String,
}

impl From<pb::ListSessionsResponse> for SessionsView {
    fn from(r: pb::ListSessionsResponse) -> Self {
        let sessions = r.sessions.into_iter().map(|s| SessionView {
            id: s.id,
            username: s.username,
            role: role(s.role),
            totp_passed: s.totp_passed,
            created_at_ms: s.created_at_ms,
            last_seen_at_ms: s.last_seen_at_ms,
            expires_at_ms: s.expires_at_ms,
            client_addr: s.client_addr,
        });
        Self {
            sessions: sessions.collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct LogRecordView {
    pub job_id: u64,
    pub seq: u64,
    pub at_ms: i64,
    pub kind: String,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensitive_lines: Vec<String>,
    /// The record came before, its hidden lines cut by a page: these are
    /// the rest of them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
}

impl From<pb::LogRecord> for LogRecordView {
    fn from(r: pb::LogRecord) -> Self {
        Self {
            job_id: r.job_id,
            seq: r.seq,
            at_ms: r.at_ms,
            kind: log_kind(r.kind),
            text: r.text,
            sensitive_lines: r.sensitive_lines,
            continued: false,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct AuditView {
    pub records: Vec<AuditRecordView>,
}

#[derive(Debug, Serialize)]
pub(super) struct AuditRecordView {
    pub seq: u64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub client_addr: String,
    pub success: bool,
}

impl From<pb::AuditResponse> for AuditView {
    fn from(r: pb::AuditResponse) -> Self {
        let records = r.records.into_iter().map(|a| AuditRecordView {
            seq: a.seq,
            at_ms: a.at_ms,
            actor: a.actor,
            action: a.action,
            target: a.target,
            reason: a.reason,
            client_addr: a.client_addr,
            success: a.success,
        });
        Self {
            records: records.collect(),
        }
    }
}
