//! The deployment stage shown in the UI, derived from scap's output; trust level:
//! input is untrusted (a change's output could print a marker), so a stage only
//! ever moves forward and is used for display, never for a decision.

use crate::machine::ScapMessage;
use crate::redact::strip_terminal_controls;
use crate::vocab::vocabulary;

vocabulary! {
    /// Where a deployment is, in order.
    #[derive(Default, PartialOrd, Ord)]
    pub enum Stage as "deployment stage" {
        #[default]
        Queued = "queued",
        Merge = "merge",
        Prepare = "prepare",
        TestServers = "test_servers",
        Canaries = "canaries",
        Production = "production",
        Complete = "complete",
    }
}

impl Stage {
    /// The stage in words on the pages.
    pub fn words(self) -> &'static str {
        match self {
            Stage::Queued => "Not started",
            Stage::Merge => "Merge",
            Stage::Prepare => "Prepare",
            Stage::TestServers => "Test servers",
            Stage::Canaries => "Canaries",
            Stage::Production => "Production",
            Stage::Complete => "Complete",
        }
    }

    /// Whether the job page's stage strip shows this stage: every stage a
    /// deployment passes through (`queued` is before the first).
    pub fn in_strip(self) -> bool {
        match self {
            Stage::Queued => false,
            Stage::Merge
            | Stage::Prepare
            | Stage::TestServers
            | Stage::Canaries
            | Stage::Production
            | Stage::Complete => true,
        }
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
