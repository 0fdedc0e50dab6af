//! Command-line arguments, parsed the way scap's argparse set-up treats them.
//!
//! scap parses with `parse_known_args` and then rejects leftovers with
//! `parser.error("extra arguments found: ...")`, which prints the usage and exits
//! 2. fake-scap does the same for unknown options. It also refuses `--yes` and
//! `--list`, which real scap accepts but SpiderPig must never pass (every decision
//! is the deployer's), so a test that passes them fails loudly.

use std::ffi::OsString;

use crate::scenario::Scenario;

pub const USAGE: &str =
    "usage: scap backport [-h] [--stop-before-sync] [--revert] [change_numbers ...]";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Args {
    pub revert: bool,
    pub stop_before_sync: bool,
    /// As given; validated later, as scap does (after its SSH agent check).
    pub changes: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Help,
    Backport(Args),
}

/// A usage error: the text for stderr (exit status 2).
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl UsageError {
    fn new(message: &str) -> UsageError {
        UsageError(format!("{USAGE}\nscap: error: {message}"))
    }
}

/// Parses `argv` without the program name.
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let argv: Vec<String> = argv
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|_| UsageError::new("arguments must be UTF-8"))
        })
        .collect::<Result<_, _>>()?;
    let mut rest = argv.iter();
    match rest.next().map(String::as_str) {
        Some("backport") => {}
        Some("-h" | "--help") => return Ok(Command::Help),
        Some(other) => {
            return Err(UsageError::new(&format!(
                "argument command: invalid choice: '{other}' (fake-scap only knows 'backport')"
            )));
        }
        None => {
            return Err(UsageError::new(
                "the following arguments are required: command",
            ));
        }
    }
    let mut args = Args::default();
    let mut extra = Vec::new();
    let mut only_positionals = false;
    for arg in rest {
        match arg.as_str() {
            _ if only_positionals => args.changes.push(arg.clone()),
            "--" => only_positionals = true,
            "-h" | "--help" => return Ok(Command::Help),
            "--revert" => args.revert = true,
            "--stop-before-sync" => args.stop_before_sync = true,
            "--yes" | "--list" => {
                return Err(UsageError::new(&format!(
                    "{arg} is refused by fake-scap: SpiderPig must never pass it"
                )));
            }
            a if a.starts_with('-') && a.len() > 1 => extra.push(arg.clone()),
            _ => args.changes.push(arg.clone()),
        }
    }
    if !extra.is_empty() {
        return Err(UsageError::new(&format!(
            "extra arguments found: {}",
            extra.join(" ")
        )));
    }
    Ok(Command::Backport(args))
}

pub fn help() -> String {
    let mut out = format!(
        "{USAGE}\n\nfake-scap: a stand-in for `scap backport` that speaks scap's machine-mode \
         protocol\n(SPIDERPIG_IO_KEY set) or its terminal prompts, and plays a scenario.\n\n\
         positional arguments:\n  change_numbers      Gerrit change numbers (^[0-9]+$)\n\n\
         options:\n  -h, --help          show this help message and exit\n  \
         --stop-before-sync  stop after `scap prep auto`, before syncing\n  \
         --revert            revert the changes, then backport the reverts\n\n\
         Scenarios: the last three digits of the first change number that selects one\n\
         (with --revert, of the changes being reverted):\n\n"
    );
    for s in Scenario::ALL {
        let digits = s
            .digits()
            .map_or("any other".to_string(), |d| format!("...{d:03}"));
        out.push_str(&format!(
            "  {digits:<10} {:<14} {}\n",
            s.name(),
            s.summary()
        ));
    }
    out.push_str(
        "\nSettings: $HOME/fake-scap.json, e.g. {\"pace\": \"realistic\", \"flood_lines\": 1000, \
         \"record_invocations\": true}\n(pace: \"instant\" (default), \"realistic\", or a \
         multiplier of the realistic pauses).\nSee tests/fake-scap/README.md.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn parses_backport_and_revert() {
        assert_eq!(
            parse_strs(&["backport", "--revert", "1", "2"]),
            Ok(Command::Backport(Args {
                revert: true,
                stop_before_sync: false,
                changes: vec!["1".into(), "2".into()],
            }))
        );
        assert_eq!(parse_strs(&["backport", "--help"]), Ok(Command::Help));
        assert_eq!(
            parse_strs(&["backport", "--", "-5"]).map(|c| match c {
                Command::Backport(a) => a.changes,
                Command::Help => vec![],
            }),
            Ok(vec!["-5".to_string()])
        );
    }

    #[test]
    fn rejects_what_argparse_rejects_and_what_spiderpig_must_not_pass() {
        for bad in [
            &["backport", "--bogus", "1"][..],
            &["backport", "--yes", "1"],
            &["backport", "--list"],
            &["deploy"],
            &[],
        ] {
            let err = parse_strs(bad).unwrap_err();
            assert!(err.0.starts_with(USAGE), "{bad:?}: {}", err.0);
        }
    }
}
