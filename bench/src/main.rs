//! spiderpig-bench: issue 7's benchmark. Starts the real `spiderpig-executor`
//! and `spiderpig-web` binaries (with the test harness's real OpenID
//! Provider, Gerrit stand-in and fake-scap's flood scenario) and prints:
//! WebSocket fan-out throughput (an unpaced flood) and latency (a paced one)
//! for W watchers against a bare tokio-tungstenite baseline, resident
//! memory, the deployer's steps through the web, the gRPC submit round trip
//! next to the disk's fsync floor, and cold starts, each next to its target.
//!
//! `cargo run --release -p spiderpig-bench -- [--watchers 1,100,1000]
//! [--lines N] [--rate R --paced-lines N] [--steps N] [--submits N]`
//! (or `scripts/bench`).

#![forbid(unsafe_code)]

mod baseline;
mod cpu;
mod fanout;
mod flood;
mod producer;
mod reader;
mod report;
mod rss;
mod stack;
mod stats;
mod steps;
mod submit;
mod watchers;

use std::time::{Duration, Instant};

use clap::Parser;

use crate::baseline::Producer;
use crate::fanout::Fanout;
use crate::flood::Flood;
use crate::report::Run;
use crate::rss::vm_rss_kib;
use crate::stack::{Stack, StackOptions};

#[derive(Parser, Debug)]
#[command(name = "spiderpig-bench", about = "SpiderPig's benchmark (issue 7)")]
struct Cli {
    /// Watcher counts, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    watchers: Vec<usize>,
    /// Lines of each unpaced flood (throughput), at least.
    #[arg(long, default_value_t = 5000)]
    lines: u64,
    /// Records each unpaced flood delivers over all its watchers, at least
    /// (so W=1 runs long enough to measure: lines = max(lines, this / W)).
    #[arg(long, default_value_t = 100_000)]
    deliveries: u64,
    /// Lines per second of the paced flood (latency).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    rate: u64,
    /// Lines of each paced flood (0: skip the paced runs).
    #[arg(long, default_value_t = 1000)]
    paced_lines: u64,
    /// Samples of the deployer's steps through the web (0: skip).
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Timed gRPC submissions (0: skip).
    #[arg(long, default_value_t = 1000)]
    submits: usize,
    /// Users the watchers' session cookies are shared among.
    #[arg(long, default_value_t = 4)]
    sessions: usize,
    /// Cold starts of each binary.
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// A watcher gives up after this long without a frame.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
}

/// Users, by what they do.
struct Users {
    watch: Vec<String>,
    flood: Vec<String>,
    steps: Vec<String>,
    submit: Vec<String>,
}

impl Users {
    fn for_run(cli: &Cli) -> Users {
        let named = |prefix: &str, n: usize| -> Vec<String> {
            (1..=n).map(|i| format!("{prefix}{i}")).collect()
        };
        Users {
            watch: named("watch", cli.sessions.max(1)),
            // One submitter per flood (instant and paced per W).
            flood: named("flood", cli.watchers.len() * 2),
            steps: steps::users(cli.steps),
            // Each user has about two TOTP steps per 30 s.
            submit: named("sub", cli.submits.div_ceil(2) + 10),
        }
    }

    fn all(&self) -> Vec<String> {
        [&self.watch, &self.flood, &self.steps, &self.submit]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// One flood with `w` watchers on SpiderPig, then on the baseline.
async fn fanout(
    stack: &Stack,
    submitter: Option<&String>,
    sessions: &[String],
    w: usize,
    flood: Flood,
    idle: Duration,
) -> anyhow::Result<Run> {
    let submitter = submitter.ok_or_else(|| anyhow::anyhow!("no submitter left"))?;
    eprintln!("bench: SpiderPig with {w} watchers, {}", flood.describe());
    let t = Instant::now();
    let run = watchers::run(stack, submitter, sessions, w, flood, idle).await?;
    let ours = Fanout::of(w, flood.lines, &run.seen);
    for (k, s) in run
        .seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.ended.is_some())
        .take(3)
    {
        eprintln!("bench: watcher {k} ended early: {:?}", s.ended);
    }
    eprintln!(
        "bench:   done in {:?} (sockets opened in {:?})",
        t.elapsed(),
        run.connect
    );
    eprintln!("bench: baseline with {w} clients");
    let mark = cpu::CpuMark::take(&[std::process::id()]);
    let base_seen = baseline::run(w, flood, Producer::InProcess, idle).await?;
    let base_cpu = mark.since()[0];
    let base = Fanout::of(w, flood.lines, &base_seen);
    drop(base_seen);
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!("bench: baseline fed by fake-scap with {w} clients");
    let piped_seen = baseline::run(w, flood, Producer::FakeScap, idle).await?;
    let piped = Fanout::of(w, flood.lines, &piped_seen);
    drop(piped_seen);
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Run {
        ours,
        base,
        piped,
        open_rss: run.open_rss,
        peak_rss: run.peak_rss,
        connect: run.connect,
        cpu: run.cpu,
        base_cpu,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let idle = Duration::from_secs(cli.idle_secs);
    let max_w = cli.watchers.iter().copied().max().unwrap_or(1);
    let users = Users::for_run(&cli);

    let t = Instant::now();
    let stack = Stack::start(&StackOptions {
        users: users.all(),
        flood_lines: cli.lines,
        max_watchers: max_w,
        queued_per_user: 3,
        starts: cli.starts,
    })
    .await?;
    eprintln!("bench: stack up in {:?}", t.elapsed());
    let pids = (stack.executor.pid(), stack.web_proc.pid());
    let mut sessions = Vec::new();
    for u in &users.watch {
        let b = stack.browser(u).await?;
        sessions.push(
            b.session()
                .ok_or_else(|| anyhow::anyhow!("no session for {u}"))?,
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = (
        vm_rss_kib(pids.0).unwrap_or(0),
        vm_rss_kib(pids.1).unwrap_or(0),
    );

    let instant = |w: usize| Flood {
        lines: cli.lines.max(cli.deliveries / w.max(1) as u64),
        rate: None,
    };
    let most_lines = cli.watchers.iter().map(|&w| instant(w).lines).max();
    let ceiling = producer::ceiling(most_lines.unwrap_or(cli.lines));
    let paced = Flood {
        lines: cli.paced_lines,
        rate: Some(cli.rate),
    };
    let mut runs = Vec::new();
    let mut paced_runs = Vec::new();
    let mut submitter = users.flood.iter();
    for &w in &cli.watchers {
        runs.push(fanout(&stack, submitter.next(), &sessions, w, instant(w), idle).await?);
        if cli.paced_lines > 0 {
            paced_runs.push(fanout(&stack, submitter.next(), &sessions, w, paced, idle).await?);
        }
    }

    let steps = if cli.steps > 0 {
        eprintln!("bench: {} samples of the deployer's steps", cli.steps);
        Some(steps::run(&stack, &users.steps, cli.steps).await)
    } else {
        None
    };
    let submit = if cli.submits > 0 {
        eprintln!("bench: {} submissions over gRPC", cli.submits);
        Some(submit::run(&stack.web.exec, &users.submit, cli.submits).await)
    } else {
        None
    };
    let fsync = submit::fsync_floor(stack.web.exec.dir.path(), 200);
    let bench_rss = vm_rss_kib(std::process::id()).unwrap_or(0);

    let r = report::Report {
        pids,
        ceiling: ceiling.map_err(|e| format!("{e:#}")),
        paced,
        sessions: sessions.len(),
        executor_starts: &stack.executor_starts,
        web_starts: &stack.web_starts,
        runs: &runs,
        paced_runs: &paced_runs,
        idle_rss,
        bench_rss,
    };
    r.print();
    report::print_steps(steps);
    report::print_submit(submit, fsync, users.submit.len());
    drop(stack);
    Ok(())
}
