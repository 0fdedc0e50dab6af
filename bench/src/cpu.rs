//! CPU time of a process (user + system, all threads) from `/proc/<pid>/stat`:
//! a first, per-process profile of where a run's work went.

use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: u64 = 100;

/// User + system CPU time of `pid` so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<Duration> {
    // Fields after the `(comm)`, which may hold spaces: state is field 3,
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// CPU time of some processes, taken at the start of a phase.
pub struct CpuMark(Vec<(u32, Duration)>);

impl CpuMark {
    pub fn take(pids: &[u32]) -> CpuMark {
        CpuMark(
            pids.iter()
                .map(|&p| (p, cpu_time(p).unwrap_or_default()))
                .collect(),
        )
    }

    /// CPU time each used since the mark, in the order given.
    pub fn since(&self) -> Vec<Duration> {
        self.0
            .iter()
            .map(|&(p, t)| cpu_time(p).unwrap_or_default().saturating_sub(t))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime() {
        let stat = "123 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_stat(stat), Some(Duration::from_millis(3000)));
    }
}
