//! Resident memory from `/proc/<pid>/status` (`VmRSS`), and a sampler that
//! keeps the peak while a phase runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `VmRSS` of `pid` in KiB (`None` if the process or the line is gone).
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples the RSS of some processes every `every` until dropped; keeps the
/// highest value seen for each.
pub struct PeakSampler {
    peaks: Vec<Arc<AtomicU64>>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakSampler {
    pub fn start(pids: &[u32], every: Duration) -> PeakSampler {
        let peaks: Vec<Arc<AtomicU64>> = pids.iter().map(|_| Arc::default()).collect();
        let (pids, shared) = (pids.to_vec(), peaks.clone());
        let task = tokio::spawn(async move {
            loop {
                for (pid, peak) in pids.iter().zip(&shared) {
                    if let Some(kib) = vm_rss_kib(*pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(every).await;
            }
        });
        PeakSampler { peaks, task }
    }

    /// The peaks in KiB, in the order of the pids given.
    pub fn stop(self) -> Vec<u64> {
        self.task.abort();
        self.peaks
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect()
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_from_a_status_file() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn our_own_rss_is_readable() {
        assert!(vm_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
