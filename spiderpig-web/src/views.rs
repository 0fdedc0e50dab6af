//! JSON shapes of the API and the WebSocket (documented in docs/API.md),
//! converted from the executor's messages. Trust: the executor's data is
//! already redacted; here it is only reshaped. Browsers render every string
//! as text.

use serde::Serialize;
use spiderpig_policy::{Action, Actor, JobKind, JobState, LogKind, Stage, actions_for};
use spiderpig_proto::{v1 as pb, vocab};

use crate::error::WebError;

/// Who looks: the `actions` of a [`JobView`] are theirs, so the browser
/// offers buttons without knowing any rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub username: String,
    pub is_admin: bool,
}

impl Viewer {
    /// How the viewer stands to a job of `owner`.
    pub fn actor(&self, owner: &str) -> Actor {
        Actor::relative(&self.username, self.is_admin, owner)
    }
}

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
    pub stage: Stage,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobView {
    pub id: u64,
    pub owner: String,
    pub kind: JobKind,
    pub changes: Vec<u64>,
    pub state: JobState,
    pub stage: Stage,
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
    /// What the viewer may do now (`policy::actions_for`), in policy order.
    pub actions: Vec<Action>,
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
    pub kind: LogKind,
    pub text: String,
}

fn some_if(v: i64) -> Option<i64> {
    (v != 0).then_some(v)
}

/// A value the executor sent that this build does not know: the two
/// processes are out of step, which is an internal fault, never shown as a
/// guess.
fn unknown(what: &str, job: u64, v: i32) -> WebError {
    WebError::Internal(format!(
        "the executor sent job {job} with an unknown {what} {v}"
    ))
}

/// A log record's kind; one this build does not know is still a line to
/// show.
pub fn log_kind(v: i32) -> LogKind {
    vocab::log_kind(v).unwrap_or(LogKind::Line)
}

/// The stage marks this build knows, in the executor's order.
pub fn stage_marks(marks: &[pb::StageMark]) -> Vec<StageMarkView> {
    marks
        .iter()
        .filter_map(|m| {
            vocab::stage(m.stage).map(|stage| StageMarkView {
                stage,
                at_ms: m.at_ms,
            })
        })
        .collect()
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

/// A job as `viewer` sees it.
pub fn job(j: &pb::Job, viewer: &Viewer) -> Result<JobView, WebError> {
    let state = vocab::job_state(j.state).ok_or_else(|| unknown("state", j.id, j.state))?;
    let kind = vocab::job_kind(j.kind).ok_or_else(|| unknown("kind", j.id, j.kind))?;
    let stage = vocab::stage(j.stage).ok_or_else(|| unknown("stage", j.id, j.stage))?;
    Ok(JobView {
        id: j.id,
        owner: j.owner.clone(),
        kind,
        changes: j.changes.clone(),
        state,
        stage,
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
        stage_marks: stage_marks(&j.stage_marks),
        last_seq: j.last_seq,
        ready_deadline_ms: some_if(j.ready_deadline_ms),
        finished_by: j.finished_by.clone(),
        actions: actions_for(state, kind, viewer.actor(&j.owner)),
        version: j.version,
    })
}

/// Jobs as `viewer` sees them.
pub fn jobs(js: &[pb::Job], viewer: &Viewer) -> Result<Vec<JobView>, WebError> {
    js.iter().map(|j| job(j, viewer)).collect()
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

pub fn queue(q: &pb::QueueResponse, viewer: &Viewer) -> Result<QueueView, WebError> {
    Ok(QueueView {
        active: q.active.as_ref().map(|j| job(j, viewer)).transpose()?,
        queued: jobs(&q.queued, viewer)?,
        freeze: freeze(q.freeze.as_ref()),
    })
}

pub fn log_record(r: &pb::LogRecord) -> LogRecordView {
    LogRecordView {
        seq: r.seq,
        at_ms: r.at_ms,
        kind: log_kind(r.kind),
        text: r.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(name: &str, is_admin: bool) -> Viewer {
        Viewer {
            username: name.into(),
            is_admin,
        }
    }

    #[test]
    fn a_job_carries_the_actions_of_its_viewer() {
        let j = pb::Job {
            id: 3,
            owner: "ann".into(),
            kind: pb::JobKind::Backport as i32,
            state: pb::JobState::AwaitingReady as i32,
            stage: pb::Stage::Queued as i32,
            ..Default::default()
        };
        let seen = |v: &Viewer| job(&j, v).unwrap().actions;
        assert_eq!(seen(&viewer("ann", false)), [Action::Ready, Action::Cancel]);
        assert_eq!(seen(&viewer("root", true)), [Action::Cancel]);
        assert_eq!(seen(&viewer("bob", false)), []);
        let json = serde_json::to_value(job(&j, &viewer("ann", false)).unwrap()).unwrap();
        assert_eq!(json["state"], "awaiting_ready");
        assert_eq!(json["kind"], "backport");
        assert_eq!(json["stage"], "queued");
        assert_eq!(json["actions"], serde_json::json!(["ready", "cancel"]));
    }

    #[test]
    fn values_this_build_does_not_know_are_an_internal_fault() {
        let j = pb::Job {
            id: 3,
            kind: pb::JobKind::Backport as i32,
            state: 99,
            stage: pb::Stage::Queued as i32,
            ..Default::default()
        };
        assert!(matches!(
            job(&j, &viewer("ann", false)),
            Err(WebError::Internal(m)) if m.contains("unknown state 99")
        ));
        let r = log_record(&pb::LogRecord {
            kind: 42,
            ..Default::default()
        });
        assert_eq!(r.kind, LogKind::Line);
    }
}
