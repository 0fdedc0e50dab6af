//! Starting and supervising scap: the only code in SpiderPig that starts it.
//! Trust: privileged. The command comes from the policy allowlist; scap's output is
//! untrusted (it carries the output of the code being deployed) and is decoded,
//! redacted and bounded here before anything else sees it.
//!
//! # Layout
//!
//! - `spawn`: builds the process (absolute path, exact argv, cleared environment,
//!   fixed working directory, own process group, piped stdio) and starts the pump.
//! - `child_guard`: `PR_SET_PDEATHSIG` in the child (the executor's only `unsafe`).
//! - `pump`: reads stdout and stderr concurrently, reaps scap, ends the run (and
//!   kills stragglers that keep its output open).
//! - `output`: decodes machine mode, redacts, tracks the stage and the pending
//!   prompt, and sends [`RunnerEvent`]s.
//! - `control`: [`RunControl`]: answers to prompts, SIGINT, SIGKILL.
//! - `orphan`: [`reap_orphan`], for scap left over by a previous executor.
//!
//! The machine-mode key is in [`RunSpec::env`] only; it is never logged, put in an
//! error or shown by `Debug`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use spiderpig_policy::job_id::JobId;
use spiderpig_policy::machine::{Choice, Progress};
use spiderpig_policy::{RedactionPatterns, ScapCommand, ScapEnvironment, ScapPath, Stage};

use crate::clock::SharedClock;

mod child_guard;
mod control;
mod orphan;
mod output;
mod pump;
mod spawn;

pub use control::{Answer, RunControl};
pub use orphan::{OrphanOutcome, reap_orphan};
pub use spawn::spawn;

/// Events queued towards the engine before reading scap's pipes pauses.
pub const EVENT_CHANNEL_CAPACITY: usize = 1024;
/// Bytes read from one of scap's pipes at a time.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;
/// How long scap's pipes may stay open after scap itself exited (a grandchild that
/// kept stdout) before the whole process group is killed and the run ends.
pub const EXIT_GRACE: Duration = Duration::from_secs(2);
/// After that kill, how long to read what is still in the pipes before giving up
/// on them (a process that left the group could keep them open forever).
pub const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);

/// Everything needed to run scap once.
pub struct RunSpec {
    pub job_id: JobId,
    pub command: ScapCommand,
    pub scap: ScapPath,
    /// Built by the engine with a fresh [`spiderpig_policy::IoKey`] for every run.
    pub env: ScapEnvironment,
    pub working_dir: PathBuf,
    pub patterns: RedactionPatterns,
    pub clock: SharedClock,
}

impl fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `ScapEnvironment`'s Debug hides the key already; the clock has no Debug.
        f.debug_struct("RunSpec")
            .field("job_id", &self.job_id)
            .field("command", &self.command)
            .field("scap", &self.scap)
            .field("env", &self.env)
            .field("working_dir", &self.working_dir)
            .finish_non_exhaustive()
    }
}

/// What kind of log record a [`RunnerEvent::Log`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// A line scap (or something it ran) printed.
    Line,
    /// scap's current step changed (the text of a `status` message).
    Status,
    /// Something the runner itself has to say (e.g. it killed stragglers).
    System,
}

/// What happened in a run, in order. [`RunnerEvent::Exited`] is always the last.
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerEvent {
    /// A line users may see (already redacted), or a status change shown in the log.
    Log {
        at_ms: i64,
        kind: LogKind,
        text: String,
    },
    /// A sensitive line. `starts_run` is true for the first line of a run of
    /// sensitive lines: the engine then stores ONE placeholder record
    /// ([`spiderpig_policy::PLACEHOLDER`]) for users, and keeps `hidden` (the
    /// original text) only for `ctl log --include-sensitive`. Live watchers see only
    /// the placeholder.
    Sensitive {
        at_ms: i64,
        starts_run: bool,
        hidden: String,
    },
    /// scap's current step (`None`: no step).
    Status(Option<String>),
    /// A progress bar.
    Progress(Progress),
    /// The deployment moved to another stage.
    Stage { at_ms: i64, stage: Stage },
    /// scap now blocks on stdin until [`RunControl::answer`] is called.
    Prompt(PromptSpec),
    /// scap exited and its pipes are closed; always the last event.
    Exited(ExitInfo),
}

/// Which kind of answer a prompt takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// One of `choices`' keys.
    Choices,
    /// One free-text line (the revert reason).
    InputLine,
}

/// A prompt scap is waiting on.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSpec {
    pub kind: PromptKind,
    pub text: String,
    /// Empty for [`PromptKind::InputLine`].
    pub choices: Vec<Choice>,
    /// One of `choices`' keys, when scap named one.
    pub default: Option<String>,
}

/// How scap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit status, when scap exited by itself.
    pub code: Option<i32>,
    /// The signal that ended scap, when one did.
    pub signal: Option<i32>,
    pub at_ms: i64,
}

/// A running scap: its events, and what may be done to it.
#[derive(Debug)]
pub struct RunHandle {
    /// Bounded: while the engine does not read, reading scap's output pauses.
    /// Dropping the receiver does not stop scap; events are then discarded
    /// (use [`RunControl::kill`] to stop it).
    pub events: tokio::sync::mpsc::Receiver<RunnerEvent>,
    pub control: RunControl,
    pub pid: u32,
    /// scap's process group (scap leads it: equal to `pid`). Record it, for
    /// [`reap_orphan`] after a restart.
    pub pgid: i32,
}
