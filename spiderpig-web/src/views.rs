//! JSON shapes of the API and the WebSocket (documented in docs/API.md),
//! converted from the executor's messages. Trust: the executor's data is
//! already redacted; here it is only reshaped. Browsers render every string
//! as text.

use serde::Serialize;
use spiderpig_proto::v1 as pb;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChoiceView {
    pub label: String,
    pub key: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PromptView {
    pub job: u64,
    pub id: u64,
    /// "choices" or "input_line"
    pub kind: &'static str,
    pub text: String,
    pub choices: Vec<ChoiceView>,
    pub default_key: Option<String>,
    pub opened_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProgressView {
    pub name: String,
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    pub remaining: u64,
    pub percent: f64,
    pub finished: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageMarkView {
    pub stage: &'static str,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobView {
    pub id: u64,
    pub owner: String,
    /// "backport" or "revert"
    pub kind: &'static str,
    pub changes: Vec<u64>,
    /// queued, awaiting_ready, running, awaiting_input, awaiting_finish, done,
    /// cancelled, expired, failed_to_start, interrupted
    pub state: &'static str,
    /// queued, merge, prepare, test_servers, canaries, production, complete
    pub stage: &'static str,
    /// 1-based place in the queue, or null.
    pub queue_position: Option<u32>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub outcome: String,
    pub prompt: Option<PromptView>,
    pub progress: Option<ProgressView>,
    pub status_line: String,
    pub reverts_job: Option<u64>,
    pub stage_marks: Vec<StageMarkView>,
    pub last_seq: u64,
    pub ready_deadline_ms: Option<i64>,
    pub finished_by: String,
    /// Bumped by every change of the job: of two snapshots, the higher is newer.
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FreezeView {
    pub active: bool,
    pub reason: String,
    pub by: String,
    pub since_ms: i64,
    pub until_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueView {
    pub active: Option<JobView>,
    pub queued: Vec<JobView>,
    pub freeze: FreezeView,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogRecordView {
    pub seq: u64,
    pub at_ms: i64,
    /// line, redacted, status, prompt, answer, system
    pub kind: &'static str,
    pub text: String,
}

fn some_if(v: i64) -> Option<i64> {
    (v != 0).then_some(v)
}

pub fn state_name(v: i32) -> &'static str {
    match pb::JobState::try_from(v).unwrap_or(pb::JobState::Unspecified) {
        pb::JobState::Queued => "queued",
        pb::JobState::AwaitingReady => "awaiting_ready",
        pb::JobState::Running => "running",
        pb::JobState::AwaitingInput => "awaiting_input",
        pb::JobState::AwaitingFinish => "awaiting_finish",
        pb::JobState::Done => "done",
        pb::JobState::Cancelled => "cancelled",
        pb::JobState::Expired => "expired",
        pb::JobState::FailedToStart => "failed_to_start",
        pb::JobState::Interrupted => "interrupted",
        pb::JobState::Unspecified => "unknown",
    }
}

/// The proto enum for a state name (history filters).
pub fn state_from_name(name: &str) -> Option<pb::JobState> {
    pb::JobState::from_str_name(&format!("JOB_STATE_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != pb::JobState::Unspecified)
}

pub fn stage_name(v: i32) -> &'static str {
    match pb::Stage::try_from(v).unwrap_or(pb::Stage::Unspecified) {
        pb::Stage::Queued => "queued",
        pb::Stage::Merge => "merge",
        pb::Stage::Prepare => "prepare",
        pb::Stage::TestServers => "test_servers",
        pb::Stage::Canaries => "canaries",
        pb::Stage::Production => "production",
        pb::Stage::Complete => "complete",
        pb::Stage::Unspecified => "unknown",
    }
}

pub fn log_kind_name(v: i32) -> &'static str {
    use pb::log_record::Kind;
    match Kind::try_from(v).unwrap_or(Kind::Unspecified) {
        Kind::Line => "line",
        Kind::Redacted => "redacted",
        Kind::Status => "status",
        Kind::Prompt => "prompt",
        Kind::Answer => "answer",
        Kind::System => "system",
        Kind::Unspecified => "line",
    }
}

pub fn prompt(p: &pb::Prompt) -> PromptView {
    PromptView {
        job: p.job_id,
        id: p.prompt_id,
        kind: if p.kind == pb::prompt::Kind::InputLine as i32 {
            "input_line"
        } else {
            "choices"
        },
        text: p.text.clone(),
        choices: p
            .choices
            .iter()
            .map(|c| ChoiceView {
                label: c.label.clone(),
                key: c.key.clone(),
            })
            .collect(),
        default_key: (!p.default_key.is_empty()).then(|| p.default_key.clone()),
        opened_at_ms: p.opened_at_ms,
    }
}

pub fn job(j: &pb::Job) -> JobView {
    JobView {
        id: j.id,
        owner: j.owner.clone(),
        kind: if j.kind == pb::JobKind::Revert as i32 {
            "revert"
        } else {
            "backport"
        },
        changes: j.changes.clone(),
        state: state_name(j.state),
        stage: stage_name(j.stage),
        queue_position: (j.queue_position != 0).then_some(j.queue_position),
        created_at_ms: j.created_at_ms,
        started_at_ms: some_if(j.started_at_ms),
        ended_at_ms: some_if(j.ended_at_ms),
        exit_code: j.has_exit_code.then_some(j.exit_code),
        outcome: j.outcome.clone(),
        prompt: j.pending_prompt.as_ref().map(prompt),
        progress: j.progress.as_ref().map(|p| ProgressView {
            name: p.name.clone(),
            total: p.total_tasks,
            ok: p.tasks_finished_ok,
            failed: p.tasks_finished_failed,
            remaining: p.tasks_remaining,
            percent: p.percent_complete,
            finished: p.finished,
        }),
        status_line: j.status_line.clone(),
        reverts_job: (j.reverts_job != 0).then_some(j.reverts_job),
        stage_marks: j
            .stage_marks
            .iter()
            .map(|m| StageMarkView {
                stage: stage_name(m.stage),
                at_ms: m.at_ms,
            })
            .collect(),
        last_seq: j.last_seq,
        ready_deadline_ms: some_if(j.ready_deadline_ms),
        finished_by: j.finished_by.clone(),
        version: j.version,
    }
}

pub fn freeze(f: Option<&pb::Freeze>) -> FreezeView {
    match f {
        Some(f) => FreezeView {
            active: f.active,
            reason: f.reason.clone(),
            by: f.by.clone(),
            since_ms: f.since_ms,
            until_ms: some_if(f.until_ms),
        },
        None => FreezeView {
            active: false,
            reason: String::new(),
            by: String::new(),
            since_ms: 0,
            until_ms: None,
        },
    }
}

pub fn queue(q: &pb::QueueResponse) -> QueueView {
    QueueView {
        active: q.active.as_ref().map(job),
        queued: q.queued.iter().map(job).collect(),
        freeze: freeze(q.freeze.as_ref()),
    }
}

pub fn log_record(r: &pb::LogRecord) -> LogRecordView {
    LogRecordView {
        seq: r.seq,
        at_ms: r.at_ms,
        kind: log_kind_name(r.kind),
        text: r.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for name in [
            "queued",
            "awaiting_ready",
            "running",
            "awaiting_input",
            "awaiting_finish",
            "done",
            "cancelled",
            "expired",
            "failed_to_start",
            "interrupted",
        ] {
            let s = state_from_name(name).expect(name);
            assert_eq!(state_name(s as i32), name);
        }
        assert!(state_from_name("unspecified").is_none());
        assert!(state_from_name("bogus").is_none());
    }
}
