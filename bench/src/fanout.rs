//! The figures of one fan-out run and their table rows, each next to its
//! target from issue 7.

use crate::reader::Seen;
use crate::report::verdict;
use crate::stats::{Summary, ms};

/// The figures of one fan-out run (SpiderPig or the baseline).
#[derive(Debug, Clone, Copy)]
pub struct Fanout {
    pub watchers: usize,
    pub latency: Summary,
    /// Flood lines per second reaching one watcher (lines / span).
    pub lines_per_sec: f64,
    /// Records delivered per second over all watchers.
    pub deliveries_per_sec: f64,
    /// Lines missing in all; and among watchers never told they skipped.
    pub lost: u64,
    pub lost_keeping_up: u64,
    pub skipped_watchers: usize,
    /// Watchers whose socket ended or went quiet before the last line.
    pub ended_early: usize,
}

impl Fanout {
    pub fn of(watchers: usize, lines: u64, seen: &[Seen]) -> Fanout {
        let mut all: Vec<u64> = seen
            .iter()
            .flat_map(|s| s.latencies.iter().copied())
            .collect();
        let first = seen.iter().filter_map(|s| s.first_emit).min().unwrap_or(0);
        let last = seen
            .iter()
            .filter_map(|s| s.last_arrival)
            .max()
            .unwrap_or(0);
        let span = (last.saturating_sub(first) as f64 / 1e9).max(1e-9);
        let received: u64 = seen.iter().map(|s| s.lines).sum();
        let lost_of = |s: &Seen| lines.saturating_sub(s.lines);
        Fanout {
            watchers,
            latency: Summary::of(&mut all),
            lines_per_sec: lines as f64 / span,
            deliveries_per_sec: received as f64 / span,
            lost: seen.iter().map(lost_of).sum(),
            lost_keeping_up: seen.iter().filter(|s| s.skipped == 0).map(lost_of).sum(),
            skipped_watchers: seen.iter().filter(|s| s.skipped > 0).count(),
            ended_early: seen.iter().filter(|s| s.ended.is_some()).count(),
        }
    }
}

pub fn fanout_header() {
    println!(
        "{:<10} {:>6} {:>9} {:>9} {:>9} {:>11} {:>13} {:>10} {:>8} {:>6}",
        "server",
        "W",
        "p50 ms",
        "p99 ms",
        "max ms",
        "lines/s",
        "deliveries/s",
        "lost(k.up)",
        "skipped",
        "ended"
    );
}

pub fn fanout_row(server: &str, f: &Fanout) {
    println!(
        "{:<10} {:>6} {:>9} {:>9} {:>9} {:>11.0} {:>13.0} {:>10} {:>8} {:>6}",
        server,
        f.watchers,
        ms(f.latency.p50),
        ms(f.latency.p99),
        ms(f.latency.max),
        f.lines_per_sec,
        f.deliveries_per_sec,
        format!("{}({})", f.lost, f.lost_keeping_up),
        f.skipped_watchers,
        f.ended_early
    );
}

/// The latency target of issue 7 for W watchers: p99 in ms.
pub fn p99_target_ms(watchers: usize) -> Option<u64> {
    match watchers {
        100 => Some(10),
        1000 => Some(50),
        _ => None,
    }
}

/// Throughput against the baselines (an unpaced flood's figures).
pub fn throughput_row(ours: &Fanout, base: &Fanout, piped: &Fanout) {
    let ratio = ours.deliveries_per_sec / base.deliveries_per_sec.max(1e-9);
    let piped_ratio = ours.deliveries_per_sec / piped.deliveries_per_sec.max(1e-9);
    println!(
        "  W={:<5} throughput {:.2} × baseline (target ≥ 0.5: {}), {:.2} × base+scap; lost {} (keeping up: {}); skipped {}",
        ours.watchers,
        ratio,
        verdict(ratio >= 0.5),
        piped_ratio,
        ours.lost,
        ours.lost_keeping_up,
        ours.skipped_watchers
    );
}

/// Latency against its target (a paced flood's figures).
pub fn latency_row(ours: &Fanout, base: &Fanout) {
    let p99_ratio = ours.latency.p99 as f64 / (base.latency.p99.max(1)) as f64;
    let target = match p99_target_ms(ours.watchers) {
        Some(t) => {
            let ok = ours.latency.p99 <= t * 1_000_000 && (ours.watchers < 1000 || ours.lost == 0);
            let lost = if ours.watchers >= 1000 {
                " with 0 lost"
            } else {
                ""
            };
            format!("p99 ≤ {t} ms{lost}: {}", verdict(ok))
        }
        None => "no target at this W".to_string(),
    };
    println!(
        "  W={:<5} p99 {} ms = {:.1} × baseline's; {target}",
        ours.watchers,
        ms(ours.latency.p99),
        p99_ratio
    );
}
