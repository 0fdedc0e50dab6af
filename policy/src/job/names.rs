//! Names of states, events and roles; trust level: constants, no input.

use super::{JobEvent, JobState, Role};

impl JobState {
    /// The snake_case name used in the store, the API and `ctl`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::AwaitingReady => "awaiting_ready",
            JobState::Running => "running",
            JobState::AwaitingInput => "awaiting_input",
            JobState::AwaitingFinish => "awaiting_finish",
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
            JobState::Expired => "expired",
            JobState::FailedToStart => "failed_to_start",
            JobState::Interrupted => "interrupted",
        }
    }

    /// Words for messages: "a job that is {describe}".
    pub fn describe(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::AwaitingReady => "waiting for its owner to be ready",
            JobState::Running => "running",
            JobState::AwaitingInput => "waiting for an answer",
            JobState::AwaitingFinish => "waiting to be finished",
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
            JobState::Expired => "expired",
            JobState::FailedToStart => "failed to start",
            JobState::Interrupted => "interrupted",
        }
    }
}

impl JobEvent {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobEvent::Promote => "promote",
            JobEvent::Ready => "ready",
            JobEvent::ReadyTimedOut => "ready_timed_out",
            JobEvent::Cancel => "cancel",
            JobEvent::Remove => "remove",
            JobEvent::StartFailed => "start_failed",
            JobEvent::PromptOpened => "prompt_opened",
            JobEvent::PromptAnswered => "prompt_answered",
            JobEvent::ScapExited => "scap_exited",
            JobEvent::TimedOut => "timed_out",
            JobEvent::Finish => "finish",
            JobEvent::ExecutorRestarted => "executor_restarted",
            JobEvent::Release => "release",
            JobEvent::Interrupt => "interrupt",
        }
    }

    /// Words for messages: "cannot {describe} a job".
    pub fn describe(self) -> &'static str {
        match self {
            JobEvent::Promote => "promote",
            JobEvent::Ready => "start",
            JobEvent::ReadyTimedOut => "expire",
            JobEvent::Cancel => "cancel",
            JobEvent::Remove => "remove",
            JobEvent::StartFailed => "mark as failed to start",
            JobEvent::PromptOpened => "open a prompt for",
            JobEvent::PromptAnswered => "answer a prompt of",
            JobEvent::ScapExited => "record scap's exit for",
            JobEvent::TimedOut => "time out",
            JobEvent::Finish => "finish",
            JobEvent::ExecutorRestarted => "recover after a restart",
            JobEvent::Release => "release the lock of",
            JobEvent::Interrupt => "interrupt",
        }
    }
}

impl Role {
    /// The snake_case name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
}
