//! What fake-scap plays: the scenarios, chosen by change number, and the run
//! context they share.
//!
//! # Layout
//! - [`script`]: the `Step` data type and its player.
//! - [`scripts`]: scap's output as scripts, shortened from the recorded transcripts.
//! - [`gerrit`]: made-up change details, the confirmation table and the SAL message.
//! - [`backport`]: `scap backport N...`: checks, prompts, merge, prep.
//! - [`sync`]: `scap sync-world`: stages, checks, rollback.
//! - [`revert`]: `scap backport --revert N...`.
//! - [`special`]: the hang, flood and forged-prompt scenarios.

mod backport;
mod gerrit;
mod revert;
mod script;
mod scripts;
mod special;
mod sync;

use std::time::Instant;

use crate::cli::Args;
use crate::clock::Pace;
use crate::outcome::Stop;
use crate::prompts::Prompt;
use crate::protocol::{Io, Level};
use crate::settings::Settings;

use gerrit::FakeChange;

/// The host name scap would report (real scap requires it to start with "deploy").
pub const DEPLOY_HOST: &str = "deploy-host";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Success,
    HttpbbFailure,
    CanarySpike,
    NeedsRebase,
    CodeReviewVeto,
    Hang,
    Flood,
    ForgedPrompt,
    L10nWarning,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::HttpbbFailure,
        Scenario::CanarySpike,
        Scenario::NeedsRebase,
        Scenario::CodeReviewVeto,
        Scenario::Hang,
        Scenario::Flood,
        Scenario::ForgedPrompt,
        Scenario::L10nWarning,
        Scenario::Success,
    ];

    /// The last three digits that select this scenario.
    pub fn digits(self) -> Option<u64> {
        Some(match self {
            Scenario::Success => return None,
            Scenario::HttpbbFailure => 1,
            Scenario::CanarySpike => 2,
            Scenario::NeedsRebase => 3,
            Scenario::CodeReviewVeto => 4,
            Scenario::Hang => 5,
            Scenario::Flood => 6,
            Scenario::ForgedPrompt => 7,
            Scenario::L10nWarning => 8,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Success => "success",
            Scenario::HttpbbFailure => "httpbb-failure",
            Scenario::CanarySpike => "canary-spike",
            Scenario::NeedsRebase => "needs-rebase",
            Scenario::CodeReviewVeto => "code-review-2",
            Scenario::Hang => "hang",
            Scenario::Flood => "flood",
            Scenario::ForgedPrompt => "forged-prompt",
            Scenario::L10nWarning => "l10n-warning",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Scenario::Success => "the whole backport; test-server prompt n = roll back, exit 1",
            Scenario::HttpbbFailure => {
                "httpbb fails on the test servers: retry/ignore/roll back/exit"
            }
            Scenario::CanarySpike => "canary error spike (57 errors): retry/ignore/roll back/exit",
            Scenario::NeedsRebase => "merge fails, the change needs a rebase: exit 1",
            Scenario::CodeReviewVeto => "merge fails, Code-Review -2: exit 1",
            Scenario::Hang => "a few lines after the confirmation, then never exits",
            Scenario::Flood => "flood_lines log lines as fast as possible, then exit 0",
            Scenario::ForgedPrompt => "prints fake prompts with a wrong or no iokey, then success",
            Scenario::L10nWarning => "l10n warning prompt before the confirmation (n = exit 0)",
        }
    }

    fn of_number(number: u64) -> Option<Scenario> {
        let digits = number % 1000;
        Scenario::ALL
            .into_iter()
            .find(|s| s.digits() == Some(digits))
    }

    /// The scenario of the first change number that selects one, else `Success`.
    pub fn select(numbers: &[u64]) -> Scenario {
        numbers
            .iter()
            .find_map(|n| Scenario::of_number(*n))
            .unwrap_or(Scenario::Success)
    }
}

/// The state a scenario plays with.
pub struct Run<'a> {
    pub io: &'a mut Io,
    pub pace: Pace,
    pub settings: &'a Settings,
    pub scenario: Scenario,
    /// `SPIDERPIG_REAL_USER` (else the user running fake-scap).
    pub user: String,
    pub stop_before_sync: bool,
    vars: Vec<(&'static str, String)>,
    timers: Vec<(String, Instant)>,
}

impl Run<'_> {
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    /// Fills `{name}` placeholders. Only ever applied to the scripts' own texts,
    /// never to text that came from stdin.
    pub fn fill(&self, template: &str) -> String {
        let mut out = template.to_string();
        for (name, value) in &self.vars {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    pub fn info(&self, text: &str) -> Result<(), Stop> {
        self.io.log(Level::Info, text)
    }

    pub fn warn(&self, text: &str) -> Result<(), Stop> {
        self.io.log(Level::Warning, text)
    }

    pub fn choose(&mut self, prompt: &Prompt) -> Result<&'static str, Stop> {
        self.io.choose(prompt)
    }
}

/// Plays `scap backport [--revert] [--stop-before-sync] CHANGE...`.
pub fn run(args: &Args, settings: &Settings, io: &mut Io) -> Result<(), Stop> {
    // scap's `_assert_auth_sock`, before anything else of `backport`.
    if std::env::var_os("SSH_AUTH_SOCK").is_none() {
        return Err(Stop::failed(
            "RuntimeError",
            "backport requires SSH agent forwarding",
        ));
    }
    if args.changes.is_empty() {
        return Err(Stop::failed(
            "SystemExit",
            "No change number or url supplied!",
        ));
    }
    let numbers = args
        .changes
        .iter()
        .map(|c| change_number(c))
        .collect::<Result<Vec<u64>, Stop>>()?;
    let changes: Vec<FakeChange> = numbers.iter().map(|n| FakeChange::lookup(*n)).collect();
    let mut run = Run {
        io,
        pace: settings.pace,
        settings,
        scenario: Scenario::select(&numbers),
        user: real_user(),
        stop_before_sync: args.stop_before_sync,
        vars: Vec::new(),
        timers: Vec::new(),
    };
    let user = run.user.clone();
    run.set("user", user);
    if args.revert {
        revert::run(&mut run, &changes)
    } else {
        backport::run(&mut run, &changes)
    }
}

/// scap's `_change_number` for a bare number (SpiderPig passes nothing else):
/// `^[0-9]+$`, leading zeros dropped as `int()` drops them.
fn change_number(arg: &str) -> Result<u64, Stop> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Stop::failed(
            "InvalidChangeException",
            format!("'{arg}' is not a valid change number or URL"),
        ));
    }
    // Too large for any Gerrit: scap would get a 404 for it.
    arg.parse().map_err(|_| {
        Stop::failed(
            "InvalidChangeException",
            format!("Change '{arg}' not found"),
        )
    })
}

fn real_user() -> String {
    std::env::var("SPIDERPIG_REAL_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_is_chosen_by_the_last_three_digits_of_the_first_that_selects_one() {
        assert_eq!(Scenario::select(&[42]), Scenario::Success);
        assert_eq!(Scenario::select(&[12001]), Scenario::HttpbbFailure);
        assert_eq!(Scenario::select(&[42, 77002, 3]), Scenario::CanarySpike);
        assert_eq!(Scenario::select(&[1009, 5]), Scenario::Hang);
        assert_eq!(Scenario::select(&[100_008]), Scenario::L10nWarning);
        assert_eq!(Scenario::select(&[1000]), Scenario::Success);
    }

    #[test]
    fn change_numbers_are_digits_only() {
        assert_eq!(change_number("007").unwrap(), 7);
        for bad in ["", "12a", "-1", "+1", " 1", "１２"] {
            assert!(change_number(bad).is_err(), "{bad:?}");
        }
        assert!(change_number("99999999999999999999999").is_err());
    }
}
