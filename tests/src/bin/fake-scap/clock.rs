//! Wall-clock timestamps in scap's log format, and the pace at which a scenario plays.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `HH:MM:SS` of the current UTC wall clock (scap's `TIMESTAMP_FORMAT`).
pub fn hms_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    hms(secs)
}

fn hms(epoch_secs: u64) -> String {
    let s = epoch_secs % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// scap's `utils.human_duration`: `02m 15s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}m {:02}s", s / 60, s % 60)
}

/// How long the pauses written into a scenario really last: a multiplier of the
/// "realistic" durations. `0` is instant (the default, for tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace(f64);

impl Pace {
    pub const INSTANT: Pace = Pace(0.0);
    pub const REALISTIC: Pace = Pace(1.0);
    /// No demo needs to be slower than this; it also keeps `Duration` arithmetic finite.
    pub const MAX_FACTOR: f64 = 100.0;

    pub fn factor(factor: f64) -> Option<Pace> {
        (factor.is_finite() && (0.0..=Self::MAX_FACTOR).contains(&factor)).then_some(Pace(factor))
    }

    pub fn is_instant(self) -> bool {
        self.0 == 0.0
    }

    /// Sleeps for `realistic_secs` scaled by the pace. SIGINT is handled by its own
    /// thread (see `signals`), so a plain sleep never delays the exit.
    pub fn pause(self, realistic_secs: f64) {
        if !self.is_instant() && realistic_secs > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(realistic_secs * self.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_scap() {
        assert_eq!(hms(1_743_230_210), "06:36:50");
        assert_eq!(human_duration(Duration::from_secs(135)), "02m 15s");
        assert_eq!(human_duration(Duration::from_millis(400)), "00m 00s");
    }

    #[test]
    fn pace_factor_is_bounded() {
        assert_eq!(Pace::factor(0.5), Some(Pace(0.5)));
        assert_eq!(Pace::factor(-1.0), None);
        assert_eq!(Pace::factor(f64::NAN), None);
        assert_eq!(Pace::factor(1e9), None);
    }
}
