//! "May this person do this to this job now?", answered once, for the
//! executor (which enforces it) and the pages (which only offer what would
//! be accepted); trust level: pure, over checked values.
//!
//! [`may`] is [`transition`] without the reason; [`actions_for`] lists the
//! buttons a viewer is offered, from the same rule, so the web and the
//! browser never keep their own table of which action fits which state.

use super::{Actor, JobEvent, JobKind, JobState, transition};
use crate::vocab::vocabulary;

vocabulary! {
    /// What a person can ask for from a job's page or its row on the
    /// dashboard: the person-initiated job events that take nothing but the
    /// job, and `revert` (which queues a new job).
    pub enum Action as "action" {
        Ready = "ready",
        Cancel = "cancel",
        Interrupt = "interrupt",
        Finish = "finish",
        Revert = "revert",
    }
}

impl Action {
    /// The job event the action asks for; `None` for `revert`, which leaves
    /// the job as it is and queues another.
    pub fn event(self) -> Option<JobEvent> {
        match self {
            Action::Ready => Some(JobEvent::Ready),
            Action::Cancel => Some(JobEvent::Cancel),
            Action::Interrupt => Some(JobEvent::Interrupt),
            Action::Finish => Some(JobEvent::Finish),
            Action::Revert => None,
        }
    }

    /// Whether `actor` may take this action on a `kind` job in `state`.
    pub fn allowed(self, state: JobState, kind: JobKind, actor: Actor) -> bool {
        match self.event() {
            Some(event) => may(state, event, actor),
            None => may_revert(state, kind),
        }
    }

    /// Whether `actor` could take this action on a `kind` job in some state
    /// (the job page renders a form for each, shown when it applies).
    pub fn ever_allowed(self, kind: JobKind, actor: Actor) -> bool {
        JobState::ALL
            .into_iter()
            .any(|state| self.allowed(state, kind, actor))
    }
}

/// Whether `actor` may cause `event` on a job in `state`: the one answer to
/// "may", the same rule the executor applies ([`transition`]).
pub fn may(state: JobState, event: JobEvent, actor: Actor) -> bool {
    transition(state, event, actor).is_ok()
}

/// Whether a job may be reverted: only a backport that is done (anyone
/// signed in may ask; a fresh TOTP code is required as for a backport).
pub fn may_revert(state: JobState, kind: JobKind) -> bool {
    let kind_reverts = match kind {
        JobKind::Backport => true,
        JobKind::Revert => false,
    };
    kind_reverts && state == JobState::Done
}

/// The actions `actor` may take now on a `kind` job in `state`, in the order
/// of [`Action::ALL`].
pub fn actions_for(state: JobState, kind: JobKind, actor: Actor) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| a.allowed(state, kind, actor))
        .collect()
}

impl JobState {
    /// Whether the job waits for a person (its owner, or an admin) to move
    /// it on: to say ready, answer scap or finish. The job page's title is
    /// marked then.
    pub fn waits_for_person(self) -> bool {
        [JobEvent::Ready, JobEvent::PromptAnswered, JobEvent::Finish]
            .into_iter()
            .any(|event| may(self, event, Actor::Owner))
    }
}
