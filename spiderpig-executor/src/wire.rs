//! The one place where the engine's values become protocol messages (and
//! wire enums become policy values): used by `rpc/` for answers and by the
//! engine's publishing through [`Hub`]. Trust: input enums from the wire are
//! untrusted: unknown values are refused.

use std::sync::Arc;

use spiderpig_policy::{JobState, Role, Stage};
use spiderpig_proto::v1 as pb;
use tokio::sync::broadcast;

use crate::engine::{FreezeView, JobView, LogPage, QueueView, StatusView};
use crate::error::{ExecutorError, Result};
use crate::hub::Hub;
use crate::store::{
    AuditRow, JobKind, JobRecord, LogKind, LogRow, ProgressRecord, PromptRecord, SessionRecord,
};

// The wire numbers of the vocabulary live in `spiderpig_proto::vocab`, once
// for both processes.

pub fn role(r: Role) -> pb::Role {
    r.into()
}

pub fn state(s: JobState) -> pb::JobState {
    s.into()
}

/// A state from the wire; unknown or unspecified values are refused.
pub fn state_from_wire(v: i32) -> Result<JobState> {
    spiderpig_proto::vocab::job_state(v)
        .ok_or_else(|| ExecutorError::InvalidArgument(format!("unknown job state {v}")))
}

pub fn stage(s: Stage) -> pb::Stage {
    s.into()
}

fn kind(k: JobKind) -> pb::JobKind {
    k.into()
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
        changes: j.changes.iter().map(|c| c.get()).collect(),
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

fn log_kind(k: LogKind) -> pb::log_record::Kind {
    k.into()
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

/// A job view as users see it.
pub fn job_view(v: &JobView) -> pb::Job {
    job(&v.job, v.position)
}

pub fn freeze_view(f: &FreezeView) -> pb::Freeze {
    pb::Freeze {
        active: f.in_force,
        reason: f.record.reason.clone(),
        by: f.record.by.clone(),
        since_ms: f.record.since_ms,
        until_ms: f.record.until_ms,
    }
}

pub fn queue(q: &QueueView) -> pb::QueueResponse {
    pb::QueueResponse {
        active: q.active.as_ref().map(|j| job(j, 0)),
        queued: q
            .queued
            .iter()
            .enumerate()
            .map(|(i, j)| job(j, i as u32 + 1))
            .collect(),
        freeze: Some(freeze_view(&q.freeze)),
    }
}

/// A page of log for users, or for `ctl log --include-sensitive`.
/// A page's records; with `include_sensitive` (`ctl log
/// --include-sensitive` only) each `Redacted` one carries the hidden lines
/// the page read for it.
pub fn log_page(p: &LogPage, include_sensitive: bool) -> Vec<pb::LogRecord> {
    p.rows
        .iter()
        .map(|(seq, row)| {
            let mut rec = log(p.job, *seq, row);
            if include_sensitive && let Some((_, lines)) = p.hidden.iter().find(|(s, _)| s == seq) {
                rec.sensitive_lines = lines.clone();
            }
            rec
        })
        .collect()
}

/// `ctl status`.
pub fn status(v: &StatusView) -> pb::StatusResponse {
    pb::StatusResponse {
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at_ms: v.started_ms,
        freeze: Some(freeze_view(&v.freeze)),
        active: v.active.as_ref().map(job_view),
        queued: v.queued,
        sessions: v.sessions,
        watchers: v.watchers,
        state_file: v.state_file.clone(),
    }
}

/// A job's live log, as the hub carries it.
pub type LiveLog = broadcast::Receiver<Arc<pb::LogRecord>>;

/// The engine's way to publish: domain values in, one encoding here.
impl Hub {
    /// Jobs changed: each job, then the queue.
    pub fn publish_jobs(&self, queue_view: &QueueView, jobs: &[JobView]) {
        for v in jobs {
            self.publish(pb::event::Kind::Job(pb::JobChanged {
                job: Some(job_view(v)),
            }));
        }
        self.publish(pb::event::Kind::Queue(pb::QueueChanged {
            queue: Some(queue(queue_view)),
        }));
    }

    pub fn publish_freeze(&self, f: &FreezeView) {
        self.publish(pb::event::Kind::Freeze(pb::FreezeChanged {
            freeze: Some(freeze_view(f)),
        }));
    }

    pub fn publish_prompt_opened(&self, job: u64, p: &PromptRecord) {
        self.publish(pb::event::Kind::PromptOpened(pb::PromptOpened {
            prompt: Some(prompt(job, p)),
        }));
    }

    pub fn publish_prompt_closed(&self, job: u64, prompt_id: u64, by: &str, label: &str) {
        self.publish(pb::event::Kind::PromptClosed(pb::PromptClosed {
            job_id: job,
            prompt_id,
            answered_by: by.to_string(),
            answer_label: label.to_string(),
        }));
    }

    /// A new record of a job's log, to its live watchers (in seq order).
    pub fn publish_log_row(&self, job: u64, seq: u64, row: &LogRow) {
        self.publish_log(log(job, seq, row));
    }
}

/// A session's end as the web's shared stream hears of it.
pub fn session_ended(rev: &crate::hub::Revocation, reason: String) -> pb::SessionEnded {
    use crate::hub::Revocation;
    let mut ended = pb::SessionEnded {
        reason,
        ..Default::default()
    };
    match rev {
        Revocation::Session(hash) => ended.session_hash = hash.clone(),
        Revocation::User(name) => ended.username = name.clone(),
        Revocation::All => ended.everyone = true,
    }
    ended
}
