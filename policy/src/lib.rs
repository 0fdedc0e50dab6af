//! Pure decision logic shared by SpiderPig's two processes.
//!
//! Nothing here does I/O, spawns threads or awaits: every function takes values and
//! returns values, so the rules that guard a deployment can be read and tested on
//! their own. Untrusted input is validated once, here, into newtypes that inner code
//! can rely on.
//!
//! # Layout
//!
//! - [`error`]: [`PolicyError`], the one error type of the crate; its messages are
//!   safe to show to users (hostile input is cut short and escaped).
//! - [`limits`]: the numeric limits (changes per job, line and answer lengths).
//! - [`change`]: Gerrit change numbers and URLs pasted by deployers, parsed to
//!   [`ChangeNumber`]s.
//! - [`command`]: the allowlist — the only scap invocations the executor can build,
//!   with their exact argv and environment.
//! - [`username`], [`totp_code`], [`job_id`], [`prompt_id`]: small validated
//!   newtypes.
//! - [`machine`]: scap's machine-mode protocol: splitting output into bounded lines
//!   and decoding them into [`ScapMessage`]s.
//! - [`redact`]: decides which log lines users may see.
//! - [`job`]: the job vocabulary (states, events, kinds, log-record kinds,
//!   roles, actions, and the words people read), the state machine, the
//!   single-lock-holder invariant, and [`may`]/[`actions_for`]: which action a
//!   person may take now.
//! - [`answer`]: checks answers to scap's prompts and admin reasons.
//! - [`stage`]: the deployment stages and their words, derived from scap's output.
//! - `vocab`: the `vocabulary!` macro that writes each closed list of words
//!   once (private).
//! - [`time`]: UTC calendar arithmetic for timestamps (formatting for people and
//!   as RFC 3339, days from a date, days in a month).
//! - [`seq`]: the one cursor over a job's log sequence numbers (what to do with
//!   a batch of records, given what a reader has sent), used by both processes.
//! - `text`: character classes and the escaping used in error messages (private).
//! - [`constant_time`]: a constant-time byte comparison (for both processes).
//! - [`config_key`]: which configuration key a TOML error is about.
#![forbid(unsafe_code)]

pub mod answer;
pub mod change;
pub mod command;
pub mod config_key;
pub mod constant_time;
pub mod error;
pub mod job;
pub mod job_id;
pub mod limits;
pub mod machine;
pub mod prompt_id;
pub mod redact;
pub mod seq;
pub mod stage;
mod text;
pub mod time;
pub mod totp_code;
pub mod username;
mod vocab;

pub use answer::{InputLine, Reason, validate_choice, validate_input_line, validate_reason};
pub use change::{
    ChangeNumber, GerritBase, parse_change_list, parse_change_ref, validate_change_list,
};
pub use command::{Invocation, IoKey, ScapCommand, ScapEnvironment, ScapPath};
pub use error::PolicyError;
pub use job::{
    Action, Actor, JobEvent, JobKind, JobState, LogKind, Role, actions_for,
    check_single_lock_holder, may, may_revert, transition,
};
pub use job_id::JobId;
pub use machine::{Choice, LineAssembler, Progress, RawLine, ScapMessage, decode_line};
pub use prompt_id::PromptId;
pub use redact::{
    DEFAULT_PATTERN, PLACEHOLDER, RedactionPatterns, Redactor, Verdict, sanitize_for_display,
    strip_terminal_controls,
};
pub use stage::{Stage, StageTracker};
pub use totp_code::TotpCode;
pub use username::Username;
