//! The deployment stage shown in the UI, derived from scap's output; trust level:
//! input is untrusted (a change's output could print a marker), so a stage only
//! ever moves forward and is used for display, never for a decision.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::machine::ScapMessage;
use crate::redact::strip_terminal_controls;

/// Where a deployment is, in order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Queued,
    Merge,
    Prepare,
    TestServers,
    Canaries,
    Production,
    Complete,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 7] = [
        Stage::Queued,
        Stage::Merge,
        Stage::Prepare,
        Stage::TestServers,
        Stage::Canaries,
        Stage::Production,
        Stage::Complete,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Merge => "merge",
            Stage::Prepare => "prepare",
            Stage::TestServers => "test_servers",
            Stage::Canaries => "canaries",
            Stage::Production => "production",
            Stage::Complete => "complete",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        Self::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or(PolicyError::UnknownStage)
    }
}

/// Follows scap's output and reports stage changes.
#[derive(Debug, Clone, Default)]
pub struct StageTracker {
    current: Stage,
    after_revert_prompt: bool,
}

impl StageTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The new stage when `msg` moves the deployment forward. Stages never go back,
    /// except that the first "Voting on" after a free-text prompt (the revert
    /// reason: scap then runs the whole flow again) restarts at `Merge`.
    pub fn observe(&mut self, msg: &ScapMessage) -> Option<Stage> {
        let text = match msg {
            ScapMessage::Line { text, .. } | ScapMessage::Text(text) => text,
            ScapMessage::Status(Some(status)) => status,
            ScapMessage::InputLine { .. } => {
                self.after_revert_prompt = true;
                return None;
            }
            _ => return None,
        };
        let stage = marker(&strip_terminal_controls(text))?;
        if stage > self.current || (stage == Stage::Merge && self.after_revert_prompt) {
            self.after_revert_prompt &= stage != Stage::Merge;
            let changed = stage != self.current;
            self.current = stage;
            return changed.then_some(stage);
        }
        None
    }

    /// The stage so far.
    pub fn current(&self) -> Stage {
        self.current
    }
}

/// The stage a line marks, if any. `text` has no escape sequences; a leading
/// `HH:MM:SS ` timestamp is skipped.
fn marker(text: &str) -> Option<Stage> {
    let text = text.trim_start();
    let text = strip_timestamp(text).unwrap_or(text);
    const MARKERS: [(&str, Stage); 8] = [
        ("Voting on", Stage::Merge),
        ("Waiting for changes to be merged", Stage::Merge),
        ("Started scap prep auto", Stage::Prepare),
        ("Started sync-testservers", Stage::TestServers),
        ("Started sync-canaries", Stage::Canaries),
        ("Started sync-prod", Stage::Production),
        ("Started sync-apaches", Stage::Production),
        ("Finished scap sync-world", Stage::Complete),
    ];
    MARKERS
        .iter()
        .find(|(prefix, _)| text.starts_with(prefix))
        .map(|(_, stage)| *stage)
}

/// `text` after a leading `HH:MM:SS ` timestamp, if it has one.
fn strip_timestamp(text: &str) -> Option<&str> {
    let (stamp, rest) = (text.get(..9)?, text.get(9..)?);
    let b = stamp.as_bytes();
    let digits = [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit());
    (digits && b[2] == b':' && b[5] == b':' && b[8] == b' ').then_some(rest)
}

#[cfg(test)]
mod tests;
