//! Refusals that anyone on the internet can cause, counted in memory and
//! audited as one summary per kind a minute, never one durable write each
//! (a flood of them must not take the store's writer from a deployment, nor
//! fill the disk). Trust: internal; the reasons come from the engine.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// At most one audit summary of each kind per this period.
pub(crate) const SUMMARY_MS: i64 = 60_000;

#[derive(Default)]
struct Counts {
    /// By audit action: how many since the last summary, and the last reason.
    pending: BTreeMap<&'static str, (u64, String)>,
    last_summary_ms: Option<i64>,
}

/// The counts since the last summary.
#[derive(Default)]
pub(crate) struct RefusalTally {
    counts: Mutex<Counts>,
}

/// One summary to audit: the action, how many, the last reason.
pub(crate) type Summary = (&'static str, u64, String);

impl RefusalTally {
    /// One more refusal of `action`, for `reason`.
    pub fn count(&self, action: &'static str, reason: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = c.pending.entry(action).or_default();
        entry.0 += 1;
        entry.1 = reason.to_string();
    }

    /// The summaries due at `now` (something counted, and the last
    /// summaries a period old), taking their counts.
    pub fn due(&self, now: i64) -> Vec<Summary> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let recent = c
            .last_summary_ms
            .is_some_and(|last| now.saturating_sub(last) < SUMMARY_MS);
        if c.pending.is_empty() || recent {
            return Vec::new();
        }
        c.last_summary_ms = Some(now);
        std::mem::take(&mut c.pending)
            .into_iter()
            .map(|(action, (n, reason))| (action, n, reason))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_summarised_once_a_period_per_kind() {
        let t = RefusalTally::default();
        assert!(t.due(0).is_empty());
        t.count("login.state_invalid", "no login");
        t.count("login.state_invalid", "no login");
        t.count("login.failure", "bad code");
        let due = t.due(1_000);
        assert_eq!(
            due,
            [
                ("login.failure", 1, "bad code".to_string()),
                ("login.state_invalid", 2, "no login".to_string())
            ]
        );
        t.count("login.failure", "expired code");
        assert!(
            t.due(1_000 + SUMMARY_MS - 1).is_empty(),
            "not within a period"
        );
        assert_eq!(
            t.due(1_000 + SUMMARY_MS),
            [("login.failure", 1, "expired code".to_string())]
        );
        assert!(t.due(10 * SUMMARY_MS).is_empty(), "nothing counted since");
    }
}
