//! Parsing of every verb, as main.rs nests `CtlArgs` under `ctl`.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use super::*;

#[derive(Debug, Parser)]
#[command(name = "spiderpig-executor")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    Ctl(CtlArgs),
}

fn parse(line: &str) -> Result<CtlArgs, clap::Error> {
    let argv = std::iter::once("spiderpig-executor").chain(shlex(line));
    Cli::try_parse_from(argv).map(|cli| match cli.cmd {
        Cmd::Ctl(args) => args,
    })
}

/// Whitespace splitting with single quotes, enough for these tables.
fn shlex(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('\'') {
            let end = q.find('\'').expect("closing quote");
            out.push(&q[..end]);
            rest = q[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
    }
    out
}

fn reason(r: &str) -> ReasonArg {
    ReasonArg { reason: r.into() }
}
fn job(id: u64) -> JobArg {
    JobArg { job: id }
}
fn user(u: &str) -> UserArg {
    UserArg { user: u.into() }
}

#[test]
fn every_verb_parses() {
    let cases: Vec<(&str, Verb)> = vec![
        ("ctl status", Verb::Status),
        ("ctl queue", Verb::Queue { action: None }),
        (
            "ctl queue move 12 1 --reason 'urgent fix'",
            Verb::Queue {
                action: Some(QueueAction::Move {
                    job: job(12),
                    position: 1,
                    reason: reason("urgent fix"),
                }),
            },
        ),
        (
            "ctl queue remove 12 --reason dup",
            Verb::Queue {
                action: Some(QueueAction::Remove {
                    job: job(12),
                    reason: reason("dup"),
                }),
            },
        ),
        (
            "ctl freeze --reason 'train week'",
            Verb::Freeze {
                reason: reason("train week"),
                until: None,
            },
        ),
        (
            "ctl freeze --reason x --until 2099-01-01T00:00:00Z",
            Verb::Freeze {
                reason: reason("x"),
                until: Some(4_070_908_800_000),
            },
        ),
        (
            "ctl unfreeze --reason done",
            Verb::Unfreeze {
                reason: reason("done"),
            },
        ),
        (
            "ctl ban mallory --reason abuse",
            Verb::Ban {
                user: user("mallory"),
                reason: reason("abuse"),
            },
        ),
        (
            "ctl unban mallory --reason sorry",
            Verb::Unban {
                user: user("mallory"),
                reason: reason("sorry"),
            },
        ),
        (
            "ctl logout alice --reason 'lost laptop'",
            Verb::Logout {
                user: Some("alice".into()),
                all: false,
                reason: reason("lost laptop"),
            },
        ),
        (
            "ctl logout --all --reason rotate",
            Verb::Logout {
                user: None,
                all: true,
                reason: reason("rotate"),
            },
        ),
        ("ctl sessions", Verb::Sessions),
        (
            "ctl release 7 --reason stuck",
            Verb::Release {
                job: job(7),
                reason: reason("stuck"),
            },
        ),
        (
            "ctl interrupt 7 --reason bad",
            Verb::Interrupt {
                job: job(7),
                reason: reason("bad"),
            },
        ),
        (
            "ctl finish 7 --reason 'owner away'",
            Verb::Finish {
                job: job(7),
                reason: reason("owner away"),
            },
        ),
        (
            "ctl jobs",
            Verb::Jobs {
                user: None,
                states: vec![],
                limit: None,
                before: None,
            },
        ),
        (
            "ctl jobs --user alice --state queued --state awaiting_ready,failed_to_start --limit 10 --before 99",
            Verb::Jobs {
                user: Some("alice".into()),
                states: vec![
                    JobState::Queued,
                    JobState::AwaitingReady,
                    JobState::FailedToStart,
                ],
                limit: Some(10),
                before: Some(99),
            },
        ),
        (
            "ctl log 5",
            Verb::Log {
                job: job(5),
                include_sensitive: false,
                reason: None,
                after: 0,
            },
        ),
        (
            "ctl log 5 --include-sensitive --reason 'incident 7' --after 120",
            Verb::Log {
                job: job(5),
                include_sensitive: true,
                reason: Some("incident 7".into()),
                after: 120,
            },
        ),
        (
            "ctl totp reset bob --reason 'new phone'",
            Verb::Totp {
                action: TotpAction::Reset {
                    user: user("bob"),
                    reason: reason("new phone"),
                },
            },
        ),
        (
            "ctl audit",
            Verb::Audit {
                since: None,
                limit: None,
            },
        ),
        (
            "ctl audit --since 2025-03-29T06:36:50Z --limit 20",
            Verb::Audit {
                since: Some(1_743_230_210_000),
                limit: Some(20),
            },
        ),
    ];
    for (line, want) in cases {
        let args = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(args.verb, want, "{line}");
        assert!(!args.json, "{line}");
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let cases: &[(&str, ErrorKind)] = &[
        ("ctl", ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand),
        ("ctl frobnicate", ErrorKind::InvalidSubcommand),
        ("ctl freeze", ErrorKind::MissingRequiredArgument),
        ("ctl freeze --reason ''", ErrorKind::ValueValidation),
        ("ctl freeze --reason '  '", ErrorKind::ValueValidation),
        ("ctl unfreeze", ErrorKind::MissingRequiredArgument),
        (
            "ctl freeze --reason x --until 2020-01-01T00:00:00Z",
            ErrorKind::ValueValidation,
        ),
        (
            "ctl freeze --reason x --until soon",
            ErrorKind::ValueValidation,
        ),
        ("ctl ban --reason x", ErrorKind::MissingRequiredArgument),
        ("ctl ban mallory", ErrorKind::MissingRequiredArgument),
        ("ctl unban mallory", ErrorKind::MissingRequiredArgument),
        ("ctl logout --reason x", ErrorKind::MissingRequiredArgument),
        (
            "ctl logout alice --all --reason x",
            ErrorKind::ArgumentConflict,
        ),
        ("ctl logout alice", ErrorKind::MissingRequiredArgument),
        (
            "ctl queue move 12 --reason x",
            ErrorKind::MissingRequiredArgument,
        ),
        ("ctl queue move 12 0 --reason x", ErrorKind::ValueValidation),
        ("ctl queue move 12 1", ErrorKind::MissingRequiredArgument),
        ("ctl queue remove 12", ErrorKind::MissingRequiredArgument),
        (
            "ctl queue remove abc --reason x",
            ErrorKind::ValueValidation,
        ),
        ("ctl release 0 --reason x", ErrorKind::ValueValidation),
        ("ctl release -3 --reason x", ErrorKind::UnknownArgument),
        ("ctl interrupt 7", ErrorKind::MissingRequiredArgument),
        ("ctl finish --reason x", ErrorKind::MissingRequiredArgument),
        ("ctl jobs --state bogus", ErrorKind::InvalidValue),
        ("ctl jobs --limit 0", ErrorKind::ValueValidation),
        ("ctl jobs --limit 101", ErrorKind::ValueValidation),
        ("ctl log", ErrorKind::MissingRequiredArgument),
        ("ctl log 5 --after x", ErrorKind::ValueValidation),
        (
            "ctl totp",
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
        ),
        ("ctl totp reset bob", ErrorKind::MissingRequiredArgument),
        ("ctl audit --since whenever", ErrorKind::ValueValidation),
        ("ctl audit --limit 10001", ErrorKind::ValueValidation),
        ("ctl status extra", ErrorKind::UnknownArgument),
    ];
    for &(line, kind) in cases {
        match parse(line) {
            Ok(args) => panic!("{line}: accepted as {args:?}"),
            Err(e) => {
                assert_eq!(e.kind(), kind, "{line}: {e}");
                assert_eq!(e.exit_code(), 2, "{line}");
            }
        }
    }
}

#[test]
fn a_past_until_says_so() {
    let err = parse("ctl freeze --reason x --until 2020-01-01T00:00:00Z").unwrap_err();
    assert!(
        err.to_string()
            .contains("2020-01-01 00:00:00 UTC is in the past"),
        "{err}"
    );
}

#[test]
fn socket_and_json_are_global_with_a_default_and_an_env_var() {
    let args = parse("ctl status").unwrap();
    assert_eq!(args.socket, PathBuf::from(DEFAULT_SOCKET));
    for line in [
        "ctl --socket /tmp/a.sock --json status",
        "ctl status --json --socket /tmp/a.sock",
    ] {
        let args = parse(line).unwrap();
        assert_eq!(args.socket, PathBuf::from("/tmp/a.sock"), "{line}");
        assert!(args.json, "{line}");
    }
    let cmd = Cli::command();
    let ctl = cmd.find_subcommand("ctl").unwrap();
    let socket = ctl
        .get_arguments()
        .find(|a| a.get_id() == "socket")
        .unwrap();
    assert_eq!(
        socket.get_env(),
        Some(std::ffi::OsStr::new("SPIDERPIG_ADMIN_SOCKET"))
    );
}

#[test]
fn every_job_state_is_accepted_by_its_policy_name() {
    for state in JobState::ALL {
        let line = format!("ctl jobs --state {}", state.as_str());
        match parse(&line).map(|args| args.verb) {
            Ok(Verb::Jobs { states, .. }) => assert_eq!(states, [state], "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn the_command_definition_is_consistent() {
    Cli::command().debug_assert();
}
