//! Conversions between store records and protocol messages. Trust: input
//! enums from the wire are untrusted: unknown values are refused.

use spiderpig_policy::{JobState, Role, Stage};
use spiderpig_proto::v1 as pb;

use crate::error::{ExecutorError, Result};
use crate::store::{
    AuditRow, FreezeRecord, JobKind, JobRecord, LogKind, LogRow, ProgressRecord, PromptRecord,
    SessionRecord,
};

pub fn role(r: Role) -> pb::Role {
    match r {
        Role::Deployer => pb::Role::Deployer,
        Role::Admin => pb::Role::Admin,
    }
}

pub fn state(s: JobState) -> pb::JobState {
    match s {
        JobState::Queued => pb::JobState::Queued,
        JobState::AwaitingReady => pb::JobState::AwaitingReady,
        JobState::Running => pb::JobState::Running,
        JobState::AwaitingInput => pb::JobState::AwaitingInput,
        JobState::AwaitingFinish => pb::JobState::AwaitingFinish,
        JobState::Done => pb::JobState::Done,
        JobState::Cancelled => pb::JobState::Cancelled,
        JobState::Expired => pb::JobState::Expired,
        JobState::FailedToStart => pb::JobState::FailedToStart,
        JobState::Interrupted => pb::JobState::Interrupted,
    }
}

/// A state from the wire; unknown or unspecified values are refused.
pub fn state_from_wire(v: i32) -> Result<JobState> {
    let s = pb::JobState::try_from(v)
        .map_err(|_| ExecutorError::InvalidArgument(format!("unknown job state {v}")))?;
    JobState::ALL
        .into_iter()
        .find(|js| state(*js) == s)
        .ok_or_else(|| ExecutorError::InvalidArgument(format!("unknown job state {v}")))
}

pub fn stage(s: Stage) -> pb::Stage {
    match s {
        Stage::Queued => pb::Stage::Queued,
        Stage::Merge => pb::Stage::Merge,
        Stage::Prepare => pb::Stage::Prepare,
        Stage::TestServers => pb::Stage::TestServers,
        Stage::Canaries => pb::Stage::Canaries,
        Stage::Production => pb::Stage::Production,
        Stage::Complete => pb::Stage::Complete,
    }
}

fn kind(k: JobKind) -> pb::JobKind {
    match k {
        JobKind::Backport => pb::JobKind::Backport,
        JobKind::Revert => pb::JobKind::Revert,
    }
}

pub fn prompt(job: u64, p: &PromptRecord) -> pb::Prompt {
    pb::Prompt {
        job_id: job,
        prompt_id: p.prompt_id,
        kind: if p.input_line {
            pb::prompt::Kind::InputLine
        } else {
            pb::prompt::Kind::Choices
        } as i32,
        text: p.text.clone(),
        choices: p
            .choices
            .iter()
            .map(|(label, key)| pb::Choice {
                label: label.clone(),
                key: key.clone(),
            })
            .collect(),
        default_key: p.default_key.clone().unwrap_or_default(),
        opened_at_ms: p.opened_ms,
        expires_at_ms: p.expires_ms,
    }
}

fn progress(p: &ProgressRecord) -> pb::Progress {
    pb::Progress {
        name: p.name.clone(),
        total_tasks: p.total,
        tasks_finished_ok: p.ok,
        tasks_finished_failed: p.failed,
        tasks_remaining: p.remaining,
        percent_complete: p.percent,
        finished: p.finished,
    }
}

/// A job as users see it; `position` is its 1-based queue place or 0.
pub fn job(j: &JobRecord, position: u32) -> pb::Job {
    pb::Job {
        id: j.id,
        owner: j.owner.clone(),
        kind: kind(j.kind) as i32,
        changes: j.changes.clone(),
        state: state(j.state) as i32,
        stage: stage(j.stage) as i32,
        queue_position: position,
        created_at_ms: j.created_ms,
        started_at_ms: j.started_ms,
        ended_at_ms: j.ended_ms,
        has_exit_code: j.exit_code.is_some(),
        exit_code: j.exit_code.unwrap_or_default(),
        outcome: j.outcome.clone(),
        pending_prompt: j.pending_prompt.as_ref().map(|p| prompt(j.id, p)),
        progress: j.progress.as_ref().map(progress),
        status_line: j.status_line.clone(),
        reverts_job: j.reverts_job,
        stage_marks: j
            .stage_marks
            .iter()
            .map(|(s, at)| pb::StageMark {
                stage: stage(*s) as i32,
                at_ms: *at,
            })
            .collect(),
        last_seq: j.last_seq,
        ready_deadline_ms: j.ready_deadline_ms,
        finished_by: j.finished_by.clone(),
        version: j.version,
    }
}

pub fn freeze(f: &FreezeRecord, now: i64) -> pb::Freeze {
    pb::Freeze {
        active: f.in_force(now),
        reason: f.reason.clone(),
        by: f.by.clone(),
        since_ms: f.since_ms,
        until_ms: f.until_ms,
    }
}

fn log_kind(k: LogKind) -> pb::log_record::Kind {
    match k {
        LogKind::Line => pb::log_record::Kind::Line,
        LogKind::Redacted => pb::log_record::Kind::Redacted,
        LogKind::Status => pb::log_record::Kind::Status,
        LogKind::Prompt => pb::log_record::Kind::Prompt,
        LogKind::Answer => pb::log_record::Kind::Answer,
        LogKind::System => pb::log_record::Kind::System,
    }
}

/// A log record for users: never the hidden lines.
pub fn log(job: u64, seq: u64, row: &LogRow) -> pb::LogRecord {
    pb::LogRecord {
        job_id: job,
        seq,
        at_ms: row.at_ms,
        kind: log_kind(row.kind) as i32,
        text: row.text.clone(),
        sensitive_lines: Vec::new(),
    }
}

/// A log record for `ctl log --include-sensitive` only.
pub fn log_with_sensitive(job: u64, seq: u64, row: &LogRow) -> pb::LogRecord {
    let mut rec = log(job, seq, row);
    rec.sensitive_lines = row.hidden.clone();
    rec
}

pub fn session_info(s: &SessionRecord, expires_ms: i64) -> pb::SessionInfo {
    pb::SessionInfo {
        id: s.public_id.clone(),
        username: s.username.clone(),
        role: role(s.role) as i32,
        totp_passed: s.totp_passed,
        created_at_ms: s.created_ms,
        last_seen_at_ms: s.last_seen_ms,
        expires_at_ms: expires_ms,
        client_addr: s.client_addr.clone(),
    }
}

pub fn audit(seq: u64, a: &AuditRow) -> pb::AuditRecord {
    pb::AuditRecord {
        seq,
        at_ms: a.at_ms,
        actor: a.actor.clone(),
        action: a.action.clone(),
        target: a.target.clone(),
        reason: a.reason.clone(),
        client_addr: a.client_addr.clone(),
        success: a.success,
    }
}
