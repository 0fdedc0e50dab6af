//! The job vocabulary: states, events, kinds, log-record kinds and roles,
//! each written once with its word, plus the words people read; trust
//! level: constants, no input.
//!
//! Every `match` here is exhaustive on purpose: a new state stops the build
//! until it has words, and `tests.rs` checks that the words are there.

use crate::vocab::vocabulary;

vocabulary! {
    /// Where a job is in its life.
    pub enum JobState as "job state" {
        Queued = "queued",
        AwaitingReady = "awaiting_ready",
        Running = "running",
        AwaitingInput = "awaiting_input",
        AwaitingFinish = "awaiting_finish",
        Done = "done",
        Cancelled = "cancelled",
        Expired = "expired",
        FailedToStart = "failed_to_start",
        Interrupted = "interrupted",
    }
}

vocabulary! {
    /// A person's role, from the identity provider's groups.
    pub enum Role as "role" {
        Deployer = "deployer",
        Admin = "admin",
    }
}

vocabulary! {
    /// What kind of scap command a job runs.
    pub enum JobKind as "job kind" {
        Backport = "backport",
        Revert = "revert",
    }
}

vocabulary! {
    /// Kinds of record in a job's log (the proto's `LogRecord.Kind`).
    pub enum LogKind as "log record kind" {
        /// A line scap (or something it ran) printed, already redacted.
        Line = "line",
        /// The placeholder for a run of sensitive lines.
        Redacted = "redacted",
        /// scap's current step changed.
        Status = "status",
        /// scap asked something.
        Prompt = "prompt",
        /// Someone answered.
        Answer = "answer",
        /// SpiderPig itself has something to say.
        System = "system",
    }
}

vocabulary! {
    /// Something that happens to a job.
    pub enum JobEvent as "job event" {
        /// System: `queued → awaiting_ready` (the caller has checked that the lock is
        /// free and no freeze is in force).
        Promote = "promote",
        /// Owner: `awaiting_ready → running` (the caller then starts scap).
        Ready = "ready",
        /// System: `awaiting_ready → expired`.
        ReadyTimedOut = "ready_timed_out",
        /// Owner or admin: `queued | awaiting_ready → cancelled`.
        Cancel = "cancel",
        /// Admin (`ctl queue remove`): `queued → cancelled`.
        Remove = "remove",
        /// System: `running → failed_to_start`.
        StartFailed = "start_failed",
        /// System: `running → awaiting_input`.
        PromptOpened = "prompt_opened",
        /// Owner or admin: `awaiting_input → running`.
        PromptAnswered = "prompt_answered",
        /// System: `running | awaiting_input → awaiting_finish`, whatever the exit code.
        ScapExited = "scap_exited",
        /// System: `running | awaiting_input → awaiting_finish`, after killing scap at
        /// the job time-out.
        TimedOut = "timed_out",
        /// Owner or admin: `awaiting_finish | interrupted → done`.
        Finish = "finish",
        /// System, at start-up, for every job that has not ended:
        /// `running | awaiting_input → interrupted` (nobody knows what production looks
        /// like); every other non-final state stays as it is (an `awaiting_ready` job is
        /// asked again and its ready time-out restarts).
        ExecutorRestarted = "executor_restarted",
        /// Admin (`ctl release`): forces the lock free. `awaiting_finish | interrupted →
        /// done`; `awaiting_ready → cancelled` (the job never ran). Refused while scap may
        /// be running (`running`, `awaiting_input`): interrupt it first.
        Release = "release",
        /// Owner or admin: `running | awaiting_input` stay as they are; the runner sends
        /// SIGINT and the state changes when scap exits.
        Interrupt = "interrupt",
    }
}

impl JobState {
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

    /// The state in words on the pages (a badge's text: never only a colour).
    pub fn words(self) -> &'static str {
        match self {
            JobState::Queued => "Queued",
            JobState::AwaitingReady => "Waiting for the owner to start",
            JobState::Running => "Running",
            JobState::AwaitingInput => "Waiting for an answer",
            JobState::AwaitingFinish => "Waiting for the owner to finish",
            JobState::Done => "Done",
            JobState::Cancelled => "Cancelled",
            JobState::Expired => "Expired (nobody said ready in time)",
            JobState::FailedToStart => "Failed to start",
            JobState::Interrupted => "Interrupted (the executor restarted)",
        }
    }

    /// Whether the job stopped short of a deployment that went through: the
    /// stage strip marks the stage it stopped at.
    pub fn ended_badly(self) -> bool {
        match self {
            JobState::Cancelled
            | JobState::Expired
            | JobState::FailedToStart
            | JobState::Interrupted => true,
            JobState::Queued
            | JobState::AwaitingReady
            | JobState::Running
            | JobState::AwaitingInput
            | JobState::AwaitingFinish
            | JobState::Done => false,
        }
    }
}

impl JobEvent {
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
