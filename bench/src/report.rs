//! The printed report: one table per measurement, each figure next to its
//! target from issue 7 and whether it was met.

use std::time::Duration;

use crate::fanout::{Fanout, fanout_header, fanout_row, latency_row, throughput_row};
use crate::flood::Flood;
use crate::rss::mib;
use crate::stats::{Summary, ms, nanos};
use crate::steps::{self, Steps};

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// One flood's figures, SpiderPig's and the baseline's.
pub struct Run {
    pub ours: Fanout,
    pub base: Fanout,
    /// The baseline server fed by fake-scap through a pipe.
    pub piped: Fanout,
    /// RSS (KiB) of the executor and the web with the sockets open, before
    /// the flood; and their peaks during it.
    pub open_rss: (u64, u64),
    pub peak_rss: (u64, u64),
    pub connect: Duration,
    /// CPU time of the executor, the web and the bench (clients).
    pub cpu: Vec<Duration>,
    /// CPU time of the bench process during the baseline.
    pub base_cpu: Duration,
}

pub struct Report<'a> {
    pub pids: (u32, u32),
    /// Lines per second fake-scap alone writes into a drained pipe.
    pub ceiling: Result<f64, String>,
    pub paced: Flood,
    pub sessions: usize,
    pub executor_starts: &'a [Duration],
    pub web_starts: &'a [Duration],
    pub runs: &'a [Run],
    pub paced_runs: &'a [Run],
    pub idle_rss: (u64, u64),
    pub bench_rss: u64,
}

impl Report<'_> {
    pub fn print(&self) {
        let (exec_pid, web_pid) = self.pids;
        println!();
        println!("SpiderPig benchmark (issue 7)");
        println!(
            "Processes: spiderpig-executor pid {exec_pid} and spiderpig-web pid {web_pid} (the real \
             release binaries); fake-scap's flood scenario, each line stamped with its emit time. \
             Watchers are real WebSocket clients over the web's TLS with signed-in session cookies \
             ({} users' sessions shared), all in the bench process. The baseline is a bare \
             tokio-tungstenite broadcast server in the bench process, plain TCP on loopback, same \
             clients and lines.",
            self.sessions
        );
        println!();
        println!("Cold start (process start → its sockets accept connections; the store exists)");
        cold_start_row("spiderpig-executor", self.executor_starts);
        cold_start_row("spiderpig-web", self.web_starts);
        self.fanout_tables();
        self.cpu_table();
        self.memory_table();
    }

    fn fanout_tables(&self) {
        println!();
        println!(
            "WebSocket fan-out, throughput: unpaced floods, max(--lines, --deliveries / W) lines (emit by fake-scap or the baseline's producer → arrival at a watcher)"
        );
        fanout_header();
        for r in self.runs {
            fanout_row("spiderpig", &r.ours);
            fanout_row("baseline", &r.base);
            fanout_row("base+scap", &r.piped);
        }
        println!(
            "  (baseline: its producer is a task in the bench; base+scap: the same server fed by fake-scap through a pipe, each stdout line passed on unread)"
        );
        println!(
            "  (lost(k.up): lines missing over all watchers (among watchers never told they skipped); skipped: watchers told `skipped`; ended: watchers whose socket ended or went quiet before the last line)"
        );
        for r in self.runs {
            throughput_row(&r.ours, &r.base, &r.piped);
        }
        match &self.ceiling {
            Ok(c) => {
                println!(
                    "  fake-scap alone (the same flood into a pipe the bench drains, nothing else): {c:.0} lines/s"
                );
                for r in self.runs {
                    println!(
                        "  W={:<5} SpiderPig's lines/s = {:.2} × fake-scap alone's",
                        r.ours.watchers,
                        r.ours.lines_per_sec / c.max(1e-9)
                    );
                }
            }
            Err(e) => println!("  fake-scap alone: FAILED: {e}"),
        }
        if self.paced_runs.is_empty() {
            return;
        }
        println!();
        println!(
            "WebSocket fan-out, latency: {} (a steady stream, as scap writes)",
            self.paced.describe()
        );
        fanout_header();
        for r in self.paced_runs {
            fanout_row("spiderpig", &r.ours);
            fanout_row("baseline", &r.base);
            fanout_row("base+scap", &r.piped);
        }
        for r in self.paced_runs {
            latency_row(&r.ours, &r.base);
        }
    }

    fn cpu_table(&self) {
        println!();
        println!("CPU time during each flood (user + system, /proc/<pid>/stat), seconds");
        let paced = self.paced_runs.iter().map(|r| ("paced", r));
        for (kind, r) in self.runs.iter().map(|r| ("unpaced", r)).chain(paced) {
            println!(
                "  {kind:<7} W={:<5} spiderpig: executor {:>6.2}  web {:>6.2}  bench (clients) {:>6.2}   baseline: bench (server + clients) {:>6.2}",
                r.ours.watchers,
                r.cpu[0].as_secs_f64(),
                r.cpu[1].as_secs_f64(),
                r.cpu[2].as_secs_f64(),
                r.base_cpu.as_secs_f64()
            );
        }
    }

    fn memory_table(&self) {
        println!();
        println!("Resident memory (VmRSS from /proc/<pid>/status)");
        rss_row(
            &format!("idle ({} sessions, no socket)", self.sessions),
            self.idle_rss.0,
            self.idle_rss.1,
        );
        for r in self.runs {
            let w = r.ours.watchers;
            rss_row(
                &format!(
                    "W={w} sockets open ({:.1?} to open), before the flood",
                    r.connect
                ),
                r.open_rss.0,
                r.open_rss.1,
            );
            rss_row(
                &format!("W={w} peak during the flood"),
                r.peak_rss.0,
                r.peak_rss.1,
            );
        }
        println!(
            "  idle targets: executor ≤ 15 MiB: {}; web ≤ 20 MiB: {}",
            verdict(self.idle_rss.0 <= 15 * 1024),
            verdict(self.idle_rss.1 <= 20 * 1024)
        );
        let lo = self.runs.iter().min_by_key(|r| r.ours.watchers);
        let hi = self.runs.iter().max_by_key(|r| r.ours.watchers);
        if let (Some(lo), Some(hi)) = (lo, hi)
            && hi.ours.watchers > lo.ours.watchers
        {
            let extra = (hi.ours.watchers - lo.ours.watchers) as f64;
            let per = (hi.open_rss.1 as f64 - lo.open_rss.1 as f64) / extra;
            let exec_per = (hi.open_rss.0 as f64 - lo.open_rss.0 as f64) / extra;
            println!(
                "  web memory per extra watcher (sockets open, W={} → W={}): {per:.1} KiB; target ≤ 50 KiB: {}   (executor: {exec_per:.1} KiB)",
                lo.ours.watchers,
                hi.ours.watchers,
                verdict(per <= 50.0)
            );
        }
        println!(
            "  bench process (watchers' and baseline's clients, baseline server) at the end: {} MiB",
            mib(self.bench_rss)
        );
    }
}

/// The deployer's steps through the web, with their targets.
pub fn print_steps(steps: Option<anyhow::Result<Steps>>) {
    let Some(steps) = steps else { return };
    println!();
    let mut s = match steps {
        Ok(s) => s,
        Err(e) => {
            println!("Deployer's steps: FAILED: {e:#}");
            return;
        }
    };
    println!(
        "Deployer's steps through the web, lock free (HTTPS posts with the session cookie and CSRF token; events on the page's /ws)"
    );
    let (refused, signin) = (s.refused, s.signin);
    for (label, sum, target) in steps::summaries(&mut s) {
        let target = target.map_or(String::new(), |t| {
            format!("; target ≤ {t} ms: {}", verdict(sum.p99 <= t * 1_000_000))
        });
        println!(
            "  {label:<36} n={:<4} p50 {:>8} ms  p99 {:>8} ms  max {:>8} ms{target}",
            sum.count,
            ms(sum.p50),
            ms(sum.p99),
            ms(sum.max)
        );
    }
    println!("  ({refused} submissions refused and skipped; users signed in first, in {signin:?})");
}

/// The gRPC submit round trip, next to the disk's fsync floor.
pub fn print_submit(
    submit: Option<anyhow::Result<(Vec<u64>, Duration)>>,
    fsync: anyhow::Result<Vec<u64>>,
    users: usize,
) {
    if let Some(submit) = submit {
        println!();
        match submit {
            Err(e) => println!("Submit round trip: FAILED: {e:#}"),
            Ok((mut times, signin)) => {
                let s = Summary::of(&mut times);
                println!(
                    "Submit round trip (gRPC SubmitJob on the executor's Deployer socket, TOTP code, durable commit; each job cancelled afterwards, untimed)"
                );
                println!(
                    "  {} submissions: p50 {} ms  p99 {} ms  max {} ms; target p99 ≤ 10 ms: {}   ({users} users signed in first, in {signin:?})",
                    s.count,
                    ms(s.p50),
                    ms(s.p99),
                    ms(s.max),
                    verdict(s.p99 <= 10_000_000),
                );
            }
        }
    }
    match fsync {
        Ok(mut times) => {
            let s = Summary::of(&mut times);
            println!(
                "  the disk's floor: 4 KiB write + fdatasync in the store's directory, {} times: p50 {} ms  p99 {} ms  max {} ms",
                s.count,
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            );
        }
        Err(e) => println!("  the disk's fsync floor: FAILED: {e:#}"),
    }
}

/// `p50 / max` of cold starts, with the ≤ 100 ms target.
pub fn cold_start_row(name: &str, starts: &[Duration]) {
    let mut v: Vec<u64> = starts.iter().map(|d| nanos(*d)).collect();
    let s = Summary::of(&mut v);
    let each: Vec<String> = starts.iter().map(|d| ms(nanos(*d))).collect();
    println!(
        "  {name:<20} p50 {:>8} ms  max {:>8} ms  (runs: {})  target ≤ 100 ms: {}",
        ms(s.p50),
        ms(s.max),
        each.join(", "),
        verdict(s.p50 <= 100_000_000)
    );
}

pub fn rss_row(label: &str, exec_kib: u64, web_kib: u64) {
    println!(
        "  {label:<34} executor {:>7} MiB   web {:>7} MiB",
        mib(exec_kib),
        mib(web_kib)
    );
}
