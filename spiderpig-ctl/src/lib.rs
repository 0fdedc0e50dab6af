//! spiderpig-ctl: the operators' admin client. Trust: runs as an operator on
//! the host; everything it sends is checked again by the executor, and
//! everything it prints that came from users is escaped.
//!
//! `ctl` only talks to the executor's `Admin` service on `admin.sock`
//! (`--socket`, or `SPIDERPIG_ADMIN_SOCKET`, default
//! `/run/spiderpig/admin.sock`). It never opens the redb database file, not
//! even to read it (security test 42): the executor is the only owner of the
//! state, every admin action is audited there, and access is decided there
//! (SO_PEERCRED: root or the admin group). That is true by construction: this
//! crate depends on neither `redb` nor `spiderpig-executor`, only on the
//! contract (`spiderpig-proto`), its client (`spiderpig-client`, for the
//! channel) and `spiderpig-policy` (job states, time arithmetic).
//!
//! It ships inside the `spiderpig-executor` binary as the `ctl` subcommand
//! (`spiderpig-executor ctl status`): the executor's `main` parses
//! [`CtlArgs`] and calls [`run`], and nothing else of the executor is linked
//! into this code. One binary keeps the systemd units, the packaging and the
//! operators' habits unchanged.
//!
//! # Layout
//!
//! - `args`: the command line ([`CtlArgs`], [`Verb`]); job states are
//!   `spiderpig_policy::JobState`'s names.
//! - `time`: `--until`/`--since` (RFC 3339 or a duration) to epoch ms.
//! - `verbs`: one RPC per verb, and its output.
//! - `log`: `ctl log`, paged; colours only to a terminal.
//! - `view`: serializable mirrors of the responses (`--json`).
//! - `render`, `table`: aligned human output.
//! - `escape`: control characters and ANSI escapes made harmless (case 47).
//! - `errors`: every failure mapped to one clear line, exit code 1.
//!
//! Exit codes: 0 done, 1 the verb failed (not running, not allowed, refused
//! by the executor), 2 bad arguments (clap, before `run`).
#![forbid(unsafe_code)]

mod args;
mod errors;
mod escape;
mod log;
mod render;
mod table;
mod time;
mod verbs;
mod view;

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use spiderpig_proto::v1::admin_client::AdminClient;

pub use args::{
    CtlArgs, DEFAULT_SOCKET, JobArg, QueueAction, ReasonArg, TotpAction, UserArg, Verb,
};

/// The largest answer `ctl` accepts: the top of the executor's own
/// `limits.grpc_message_bytes` range, so a valid answer always fits.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Runs one verb against the executor and prints the result on stdout;
/// failures are printed on stderr, one line, and give exit code 1.
///
/// The `Err` case is only for an output failure other than a closed pipe
/// (`ctl log 7 | head` ends quietly).
pub async fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let channel = spiderpig_client::unix_channel(args.socket.clone());
    let mut client = AdminClient::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES);
    let stdout = io::stdout();
    let mut out = verbs::Output {
        tty: stdout.is_terminal(),
        out: stdout,
        json: args.json,
    };
    match verbs::execute(&mut client, args.verb, &mut out).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(errors::VerbError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(errors::VerbError::Output(e)) => {
            Err(anyhow::Error::new(e).context("writing the output"))
        }
        Err(e) => {
            eprintln!("{}", errors::explain(&e, &args.socket));
            Ok(ExitCode::FAILURE)
        }
    }
}
