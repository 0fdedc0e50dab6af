//! fake-scap: the stand-in for `scap backport` used by SpiderPig's tests and demo.
//! It speaks scap's machine-mode protocol exactly as the design's SCAP.md
//! describes it (and scap's terminal prompts without `SPIDERPIG_IO_KEY`), and plays
//! a scenario chosen by the change numbers. See `tests/fake-scap/README.md`.
//!
//! Trust: test tooling. Its input (argv, environment, stdin) comes from the
//! executor under test and is treated the way scap treats it.
//!
//! # Layout
//! - `cli`: argv, usage errors, `--help`.
//! - `settings`: `$HOME/fake-scap.json` (pace, flood size, invocation records).
//! - `invocation`: the record of how it was started.
//! - `signals`: SIGINT → exit 130, even while blocked.
//! - `protocol`: every write and read, machine mode and terminal mode.
//! - `pyjson`: JSON exactly as Python's `json.dumps` writes it.
//! - `prompts`: scap's prompt texts and choices.
//! - `progress`: scap's progress reporter.
//! - `clock`: timestamps, durations, pace.
//! - `outcome`: how a run ends and its exit status.
//! - `scenario`: the scenarios and scap's output as scripts.
#![forbid(unsafe_code)]

mod cli;
mod clock;
mod invocation;
mod outcome;
mod progress;
mod prompts;
mod protocol;
mod pyjson;
mod scenario;
mod settings;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status of a usage or settings error (argparse's).
const USAGE_EXIT: u8 = 2;

fn main() -> ExitCode {
    // First, before any other thread exists (they must inherit the blocked mask).
    if let Err(e) = signals::exit_130_on_sigint() {
        eprintln!("fake-scap: cannot watch for SIGINT: {e}");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let settings = match settings::load(home.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("fake-scap: bad settings file {e}");
            return ExitCode::from(USAGE_EXIT);
        }
    };
    if let (true, Some(home)) = (settings.record_invocations, &home)
        && let Err(e) = invocation::record(home)
    {
        eprintln!("fake-scap: cannot record the invocation: {e}");
    }
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Command::Backport(args)) => args,
        Ok(cli::Command::Help) => {
            print!("{}", cli::help());
            return ExitCode::SUCCESS;
        }
        Err(cli::UsageError(text)) => {
            eprintln!("{text}");
            return ExitCode::from(USAGE_EXIT);
        }
    };
    let mut io = protocol::Io::from_env();
    let result = scenario::run(&args, &settings, &mut io);
    let code = io.finish(result);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
