//! What one flood is: how many lines, and how fast. The same pacing drives
//! fake-scap (through its settings file) and the baseline's producer.

use std::path::Path;
use std::time::Duration;

/// A flood of `lines` lines, as fast as possible (`rate: None`) or `rate`
/// lines per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    pub lines: u64,
    pub rate: Option<u64>,
}

impl Flood {
    /// fake-scap's settings (`$HOME/fake-scap.json`) for this flood.
    pub fn settings(self) -> serde_json::Value {
        let mut v = serde_json::json!({"pace": "instant", "flood_lines": self.lines});
        if let Some(rate) = self.rate {
            v["flood_rate"] = rate.into();
        }
        v
    }

    /// Write the settings fake-scap reads when it next starts.
    pub fn configure(self, home: &Path) -> anyhow::Result<()> {
        std::fs::write(home.join("fake-scap.json"), self.settings().to_string())?;
        Ok(())
    }

    /// When line `i` (from 1) is due after the first: (i−1)/rate, as fake-scap
    /// paces it; zero when unpaced.
    pub fn due(self, i: u64) -> Duration {
        match self.rate {
            Some(rate) if rate > 0 => {
                Duration::from_nanos(i.saturating_sub(1).saturating_mul(1_000_000_000) / rate)
            }
            _ => Duration::ZERO,
        }
    }

    /// "5000 lines as fast as possible" / "500 lines at 100/s".
    pub fn describe(self) -> String {
        match self.rate {
            Some(r) => format!("{} lines at {r} lines/s", self.lines),
            None => format!("{} lines as fast as possible", self.lines),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_lines_are_due_at_i_minus_one_over_rate() {
        let f = Flood {
            lines: 10,
            rate: Some(200),
        };
        assert_eq!(f.due(1), Duration::ZERO);
        assert_eq!(f.due(2), Duration::from_millis(5));
        assert_eq!(f.due(201), Duration::from_secs(1));
        assert_eq!(f.settings()["flood_rate"], 200);
        let fast = Flood {
            lines: 10,
            rate: None,
        };
        assert_eq!(fast.due(500), Duration::ZERO);
        assert!(fast.settings().get("flood_rate").is_none());
    }
}
