//! `spiderpig-executor ctl`'s command line. Trust: typed by an operator; the
//! executor checks every value again (reasons, usernames, job states).

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use spiderpig_policy::JobState;

use super::time::{since_arg, until_arg};

/// Where `ctl` finds the executor unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/spiderpig/admin.sock";

/// `spiderpig-executor ctl [--socket PATH] [--json] VERB ...`
#[derive(Debug, Clone, Args)]
#[command(
    about = "Administer a running spiderpig-executor over its admin socket",
    long_about = "Administer a running spiderpig-executor over its admin socket.\n\n\
        Only root and members of the configured admin group may connect. Every \
        verb that changes something needs --reason and is written to the audit trail."
)]
pub struct CtlArgs {
    /// The executor's admin socket.
    #[arg(long, global = true, value_name = "PATH", env = "SPIDERPIG_ADMIN_SOCKET",
          default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print the response as JSON instead of a table (`log`: one record per line).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub verb: Verb,
}

/// The admin verbs; each is one `Admin` RPC (`log` pages through several).
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum Verb {
    /// Version, lock holder, queue length, freeze, sessions.
    Status,
    /// Show the queue, or move or remove a queued job.
    Queue {
        #[command(subcommand)]
        action: Option<QueueAction>,
    },
    /// Stop new deployments from starting (a running one goes on).
    Freeze {
        #[command(flatten)]
        reason: ReasonArg,
        /// When the freeze ends by itself: RFC 3339 (2026-11-25T18:00:00Z) or a
        /// duration from now (2h, 30m, 1h30m). Without it: until `unfreeze`.
        #[arg(long, value_name = "TIME", value_parser = until_arg)]
        until: Option<i64>,
    },
    /// End the freeze.
    Unfreeze {
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// Ban a user: ends their sessions and cancels their queued jobs.
    Ban {
        #[command(flatten)]
        user: UserArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// Lift a ban.
    Unban {
        #[command(flatten)]
        user: UserArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// End a user's sessions (or everyone's, with --all).
    Logout {
        /// The user whose sessions end.
        #[arg(
            value_name = "USER",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        user: Option<String>,
        /// End every session.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// List live sessions (never their tokens).
    Sessions,
    /// Force the deployment lock free from a job that is not running scap.
    Release {
        #[command(flatten)]
        job: JobArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// Send SIGINT to a job's running scap (scap exits 130).
    Interrupt {
        #[command(flatten)]
        job: JobArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// Finish a job for its owner (frees the lock after scap exited).
    Finish {
        #[command(flatten)]
        job: JobArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// Job history, newest first.
    Jobs {
        /// Only jobs of this user.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Only jobs in these states (repeat, or separate with commas).
        #[arg(long = "state", value_name = "STATE", value_delimiter = ',', value_parser = state_arg())]
        states: Vec<JobState>,
        /// At most this many jobs (default 50).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// Only jobs older than this job id (the next page).
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u64).range(1..))]
        before: Option<u64>,
    },
    /// Print a job's log.
    Log {
        #[command(flatten)]
        job: JobArg,
        /// Also print the hidden security-patch lines (audited, with
        /// --reason, which it requires).
        #[arg(long, requires = "reason")]
        include_sensitive: bool,
        /// Why the hidden lines are read (recorded in the audit trail).
        #[arg(long, value_name = "REASON", requires = "include_sensitive", value_parser = reason_arg)]
        reason: Option<String>,
        /// Start after this log sequence number.
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        after: u64,
    },
    /// TOTP administration.
    Totp {
        #[command(subcommand)]
        action: TotpAction,
    },
    /// The audit trail, oldest first.
    Audit {
        /// From this time: RFC 3339, or a duration ago (2h, 1d).
        #[arg(long, value_name = "TIME", value_parser = since_arg)]
        since: Option<i64>,
        /// At most this many records (default 1000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum QueueAction {
    /// Move a queued job to POSITION (1 = next; past the end = last).
    Move {
        #[command(flatten)]
        job: JobArg,
        /// The new 1-based place in the queue.
        #[arg(value_name = "POSITION", value_parser = clap::value_parser!(u32).range(1..))]
        position: u32,
        #[command(flatten)]
        reason: ReasonArg,
    },
    /// Remove (cancel) a queued or awaiting-ready job.
    Remove {
        #[command(flatten)]
        job: JobArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum TotpAction {
    /// Delete a user's TOTP secret and end their sessions; they enrol again.
    Reset {
        #[command(flatten)]
        user: UserArg,
        #[command(flatten)]
        reason: ReasonArg,
    },
}

/// Why; recorded in the audit trail (1..=500 characters, one line; the
/// executor checks it again).
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ReasonArg {
    /// Why (recorded in the audit trail).
    #[arg(long, value_name = "REASON", required = true, value_parser = reason_arg)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct JobArg {
    /// The job id.
    #[arg(value_name = "JOB", value_parser = clap::value_parser!(u64).range(1..))]
    pub job: u64,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct UserArg {
    /// The username, as the IDP reports it.
    #[arg(value_name = "USER")]
    pub user: String,
}

/// `--state`: a job state by its `policy` name (`awaiting_ready` ...); the
/// list of names in `--help` and in errors comes from [`JobState::ALL`].
fn state_arg() -> impl TypedValueParser<Value = JobState> {
    PossibleValuesParser::new(JobState::ALL.map(JobState::as_str))
        .try_map(|name| name.parse::<JobState>())
}

/// A reason must say something; its other rules (length, no control
/// characters) are the executor's, so there is one authority.
fn reason_arg(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("a reason must not be empty".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
