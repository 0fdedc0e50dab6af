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

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::job_id::JobId;

mod names;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    AwaitingReady,
    Running,
    AwaitingInput,
    AwaitingFinish,
    Done,
    Cancelled,
    Expired,
    FailedToStart,
    Interrupted,
}

/// A person's role, from the identity provider's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Deployer,
    Admin,
}

/// Who is acting, relative to the job. An admin who owns the job acts as `Owner`
/// (the caller decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Owner,
    Admin,
    OtherUser,
    /// SpiderPig itself: the queue, the runner, timers, start-up.
    System,
}

/// Something that happens to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEvent {
    /// System: `queued → awaiting_ready` (the caller has checked that the lock is
    /// free and no freeze is in force).
    Promote,
    /// Owner: `awaiting_ready → running` (the caller then starts scap).
    Ready,
    /// System: `awaiting_ready → expired`.
    ReadyTimedOut,
    /// Owner or admin: `queued | awaiting_ready → cancelled`.
    Cancel,
    /// Admin (`ctl queue remove`): `queued → cancelled`.
    Remove,
    /// System: `running → failed_to_start`.
    StartFailed,
    /// System: `running → awaiting_input`.
    PromptOpened,
    /// Owner or admin: `awaiting_input → running`.
    PromptAnswered,
    /// System: `running | awaiting_input → awaiting_finish`, whatever the exit code.
    ScapExited,
    /// System: `running | awaiting_input → awaiting_finish`, after killing scap at
    /// the job time-out.
    TimedOut,
    /// Owner or admin: `awaiting_finish | interrupted → done`.
    Finish,
    /// System, at start-up, for every job that has not ended:
    /// `running | awaiting_input → interrupted` (nobody knows what production looks
    /// like); every other non-final state stays as it is (an `awaiting_ready` job is
    /// asked again and its ready time-out restarts).
    ExecutorRestarted,
    /// Admin (`ctl release`): forces the lock free. `awaiting_finish | interrupted →
    /// done`; `awaiting_ready → cancelled` (the job never ran). Refused while scap may
    /// be running (`running`, `awaiting_input`): interrupt it first.
    Release,
    /// Owner or admin: `running | awaiting_input` stay as they are; the runner sends
    /// SIGINT and the state changes when scap exits.
    Interrupt,
}

impl JobState {
    /// Every state, in the order of a job's life.
    pub const ALL: [JobState; 10] = [
        JobState::Queued,
        JobState::AwaitingReady,
        JobState::Running,
        JobState::AwaitingInput,
        JobState::AwaitingFinish,
        JobState::Done,
        JobState::Cancelled,
        JobState::Expired,
        JobState::FailedToStart,
        JobState::Interrupted,
    ];

    /// Whether a job in this state holds the deployment lock.
    pub fn holds_lock(self) -> bool {
        use JobState::*;
        matches!(
            self,
            AwaitingReady | Running | AwaitingInput | AwaitingFinish | Interrupted
        )
    }

    /// Whether the job has ended; no event applies any more.
    pub fn is_final(self) -> bool {
        use JobState::*;
        matches!(self, Done | Cancelled | Expired | FailedToStart)
    }

    /// Whether the job waits in the queue.
    pub fn is_queued(self) -> bool {
        self == JobState::Queued
    }
}

impl JobEvent {
    /// Every event.
    pub const ALL: [JobEvent; 14] = [
        JobEvent::Promote,
        JobEvent::Ready,
        JobEvent::ReadyTimedOut,
        JobEvent::Cancel,
        JobEvent::Remove,
        JobEvent::StartFailed,
        JobEvent::PromptOpened,
        JobEvent::PromptAnswered,
        JobEvent::ScapExited,
        JobEvent::TimedOut,
        JobEvent::Finish,
        JobEvent::ExecutorRestarted,
        JobEvent::Release,
        JobEvent::Interrupt,
    ];
}

impl Actor {
    /// Every actor.
    pub const ALL: [Actor; 4] = [Actor::Owner, Actor::Admin, Actor::OtherUser, Actor::System];
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

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JobEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or(PolicyError::UnknownJobState)
    }
}

impl FromStr for Role {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        [Role::Deployer, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(PolicyError::UnknownRole)
    }
}

#[cfg(test)]
mod tests;
