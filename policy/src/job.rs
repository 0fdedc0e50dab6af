//! The job state machine of DESIGN.md as a pure function; trust level: events come
//! from checked callers (the executor's handlers), but actors are untrusted people.
//!
//! The happy path is `queued → awaiting_ready → running ⇄ awaiting_input →
//! awaiting_finish → done`; the other ends are `cancelled`, `expired`,
//! `failed_to_start` and `interrupted` (which a person must still finish). Each
//! [`JobEvent`] documents its transitions; the table test in `job/tests.rs` is the
//! full specification.
//!
//! The lock is held from `awaiting_ready` until the job ends; an `interrupted` job
//! keeps it until a person finishes or releases it.

use crate::error::PolicyError;
use crate::job_id::JobId;

mod actions;
mod names;

pub use actions::{Action, actions_for, may, may_revert};
pub use names::{JobEvent, JobKind, JobState, LogKind, Role};

/// Who is acting, relative to the job. An admin who owns the job acts as `Owner`
/// ([`Actor::relative`] decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Owner,
    Admin,
    OtherUser,
    /// SpiderPig itself: the queue, the runner, timers, start-up.
    System,
}

impl JobState {
    /// Whether a job in this state holds the deployment lock (an `interrupted`
    /// job does: a person must look at production and finish it first).
    pub fn holds_lock(self) -> bool {
        use JobState::*;
        match self {
            AwaitingReady | Running | AwaitingInput | AwaitingFinish | Interrupted => true,
            Queued | Done | Cancelled | Expired | FailedToStart => false,
        }
    }

    /// Whether the job has ended; no event applies any more.
    pub fn is_final(self) -> bool {
        use JobState::*;
        match self {
            Done | Cancelled | Expired | FailedToStart => true,
            Queued | AwaitingReady | Running | AwaitingInput | AwaitingFinish | Interrupted => {
                false
            }
        }
    }

    /// Whether the job waits in the queue.
    pub fn is_queued(self) -> bool {
        self == JobState::Queued
    }
}

impl Actor {
    /// Every actor.
    pub const ALL: [Actor; 4] = [Actor::Owner, Actor::Admin, Actor::OtherUser, Actor::System];

    /// How the person `username` (an admin or not) stands to a job of `owner`:
    /// the owner acts as `Owner` even when they are an admin too.
    pub fn relative(username: &str, is_admin: bool, owner: &str) -> Actor {
        if username == owner {
            Actor::Owner
        } else if is_admin {
            Actor::Admin
        } else {
            Actor::OtherUser
        }
    }
}

/// Who may cause an event.
enum Allowed {
    System,
    Owner,
    OwnerOrAdmin,
    Admin,
}

fn allowed(event: JobEvent) -> Allowed {
    use JobEvent::*;
    match event {
        Promote | ReadyTimedOut | StartFailed | PromptOpened | ScapExited | TimedOut
        | ExecutorRestarted => Allowed::System,
        Ready => Allowed::Owner,
        Cancel | PromptAnswered | Finish | Interrupt => Allowed::OwnerOrAdmin,
        Remove | Release => Allowed::Admin,
    }
}

fn check_actor(event: JobEvent, actor: Actor) -> Result<(), PolicyError> {
    let ok = match allowed(event) {
        Allowed::System => actor == Actor::System,
        Allowed::Owner => actor == Actor::Owner,
        Allowed::OwnerOrAdmin => matches!(actor, Actor::Owner | Actor::Admin),
        Allowed::Admin => actor == Actor::Admin,
    };
    match (ok, allowed(event)) {
        (true, _) => Ok(()),
        (false, Allowed::System) => Err(PolicyError::SystemOnly { event }),
        (false, Allowed::Admin) => Err(PolicyError::AdminOnly { event }),
        (false, _) => Err(PolicyError::NotYourJob),
    }
}

/// The state after `event`, or why it is refused: the actor is checked first
/// (`SystemOnly`, `AdminOnly`, `NotYourJob`), then the state (`NotAllowed`).
pub fn transition(state: JobState, event: JobEvent, actor: Actor) -> Result<JobState, PolicyError> {
    use JobEvent as E;
    use JobState as S;
    check_actor(event, actor)?;
    let next = match (event, state) {
        (E::Promote, S::Queued) => S::AwaitingReady,
        (E::Ready, S::AwaitingReady) => S::Running,
        (E::ReadyTimedOut, S::AwaitingReady) => S::Expired,
        (E::Cancel, S::Queued | S::AwaitingReady) => S::Cancelled,
        (E::Remove, S::Queued) => S::Cancelled,
        (E::StartFailed, S::Running) => S::FailedToStart,
        (E::PromptOpened, S::Running) => S::AwaitingInput,
        (E::PromptAnswered, S::AwaitingInput) => S::Running,
        (E::ScapExited | E::TimedOut, S::Running | S::AwaitingInput) => S::AwaitingFinish,
        (E::Finish, S::AwaitingFinish | S::Interrupted) => S::Done,
        (E::ExecutorRestarted, S::Running | S::AwaitingInput) => S::Interrupted,
        (E::ExecutorRestarted, s) if !s.is_final() => s,
        (E::Release, S::AwaitingFinish | S::Interrupted) => S::Done,
        (E::Release, S::AwaitingReady) => S::Cancelled,
        (E::Interrupt, s @ (S::Running | S::AwaitingInput)) => s,
        _ => return Err(PolicyError::NotAllowed { event, state }),
    };
    Ok(next)
}

/// The one job holding the lock, if any; two holders mean the store broke the
/// invariant that at most one job is active.
pub fn check_single_lock_holder<I: IntoIterator<Item = (JobId, JobState)>>(
    jobs: I,
) -> Result<Option<JobId>, PolicyError> {
    let mut holder = None;
    for (id, state) in jobs {
        if state.holds_lock() {
            if let Some(first) = holder {
                return Err(PolicyError::TwoLockHolders(first, id));
            }
            holder = Some(id);
        }
    }
    Ok(holder)
}

#[cfg(test)]
mod tests;
