//! spiderpig-bench: issue 7's benchmark. Starts the real `spiderpig-executor`
//! and `spiderpig-web` binaries (with the test harness's real OpenID
//! Provider, Gerrit stand-in and fake-scap's flood scenario) and prints:
//! WebSocket fan-out latency and throughput for W watchers against a bare
//! tokio-tungstenite baseline, resident memory, the gRPC submit round trip
//! and cold starts, each next to its target.
//!
//! `cargo run --release -p spiderpig-bench -- [--watchers 1,100,1000]
//! [--lines N] [--submits N]` (or `scripts/bench`).

#![forbid(unsafe_code)]

mod baseline;
mod cpu;
mod reader;
mod report;
mod rss;
mod stack;
mod stats;
mod submit;
mod watchers;

use std::time::{Duration, Instant};

use clap::Parser;

use crate::report::{
    Fanout, cold_start_row, fanout_header, fanout_row, rss_row, targets_row, verdict,
};
use crate::rss::vm_rss_kib;
use crate::stack::{Stack, StackOptions};
use crate::stats::{Summary, ms};

#[derive(Parser, Debug)]
#[command(name = "spiderpig-bench", about = "SpiderPig's benchmark (issue 7)")]
struct Cli {
    /// Watcher counts, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    watchers: Vec<usize>,
    /// Lines of each flood.
    #[arg(long, default_value_t = 5000)]
    lines: u64,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let idle = Duration::from_secs(cli.idle_secs);
    let max_w = cli.watchers.iter().copied().max().unwrap_or(1);
    // Users: watchers' sessions, one flood submitter per run, and enough for
    // the submissions (each user has about two TOTP steps per 30 s).
    let watch_users: Vec<String> = (1..=cli.sessions.max(1))
        .map(|i| format!("watch{i}"))
        .collect();
    let flood_users: Vec<String> = (1..=cli.watchers.len())
        .map(|i| format!("flood{i}"))
        .collect();
    let submit_users: Vec<String> = (1..=cli.submits.div_ceil(2) + 10)
        .map(|i| format!("sub{i}"))
        .collect();
    let all_users: Vec<String> = watch_users
        .iter()
        .chain(&flood_users)
        .chain(&submit_users)
        .cloned()
        .collect();

    let t = Instant::now();
    let stack = Stack::start(&StackOptions {
        users: all_users,
        flood_lines: cli.lines,
        max_watchers: max_w,
        queued_per_user: 3,
        starts: cli.starts,
    })
    .await?;
    eprintln!("bench: stack up in {:?}", t.elapsed());
    let exec_pid = stack.executor.pid();
    let web_pid = stack.web_proc.pid();
    let mut sessions = Vec::new();
    for u in &watch_users {
        let b = stack.browser(u).await?;
        sessions.push(
            b.session()
                .ok_or_else(|| anyhow::anyhow!("no session for {u}"))?,
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = (
        vm_rss_kib(exec_pid).unwrap_or(0),
        vm_rss_kib(web_pid).unwrap_or(0),
    );

    let mut runs = Vec::new();
    let mut cpu_rows = Vec::new();
    for (i, &w) in cli.watchers.iter().enumerate() {
        eprintln!("bench: SpiderPig with {w} watchers, {} lines", cli.lines);
        let t = Instant::now();
        let run = watchers::run(&stack, &flood_users[i], &sessions, w, cli.lines, idle).await?;
        let ours = Fanout::of(w, cli.lines, &run.seen);
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
        let base_seen = baseline::run(w, cli.lines, idle).await?;
        let base_cpu = mark.since()[0];
        let base = Fanout::of(w, cli.lines, &base_seen);
        drop(base_seen);
        cpu_rows.push((w, run.cpu.clone(), base_cpu));
        runs.push((ours, base, run.open_rss, run.peak_rss, run.connect));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let submit = if cli.submits > 0 {
        eprintln!("bench: {} submissions over gRPC", cli.submits);
        match submit::run(&stack.web.exec, &submit_users, cli.submits).await {
            Ok((mut times, signin)) => Some(Ok((Summary::of(&mut times), signin))),
            Err(e) => Some(Err(e)),
        }
    } else {
        None
    };
    let bench_rss = vm_rss_kib(std::process::id()).unwrap_or(0);

    println!();
    println!("SpiderPig benchmark (issue 7)");
    println!(
        "Processes: spiderpig-executor pid {exec_pid} and spiderpig-web pid {web_pid} (the real release \
         binaries); fake-scap's flood scenario at instant pace, {} lines per run, each stamped with its \
         emit time. Watchers are real WebSocket clients over the web's TLS with signed-in session \
         cookies ({} users' sessions shared), all in the bench process. The baseline is a bare \
         tokio-tungstenite broadcast server in the bench process, plain TCP on loopback, same \
         clients and line count.",
        cli.lines,
        sessions.len()
    );
    println!();
    println!("Cold start (process start → its sockets accept connections; the store exists)");
    cold_start_row("spiderpig-executor", &stack.executor_starts);
    cold_start_row("spiderpig-web", &stack.web_starts);
    println!();
    println!(
        "WebSocket fan-out: emit by fake-scap (or the baseline's producer) → arrival at a watcher"
    );
    fanout_header();
    for (ours, base, ..) in &runs {
        fanout_row("spiderpig", ours);
        fanout_row("baseline", base);
    }
    println!(
        "  (lost(k.up): lines missing over all watchers (among watchers never told they skipped); skipped: watchers told `skipped`; ended: watchers whose socket ended or went quiet before the last line)"
    );
    for (ours, base, ..) in &runs {
        targets_row(ours, base);
    }
    println!();
    println!("CPU time during each flood (user + system, /proc/<pid>/stat), seconds");
    for (w, ours, base) in &cpu_rows {
        println!(
            "  W={w:<5} spiderpig: executor {:>6.2}  web {:>6.2}  bench (clients) {:>6.2}   baseline: bench (server + clients) {:>6.2}",
            ours[0].as_secs_f64(),
            ours[1].as_secs_f64(),
            ours[2].as_secs_f64(),
            base.as_secs_f64()
        );
    }
    println!();
    println!("Resident memory (VmRSS from /proc/<pid>/status)");
    rss_row("idle (4 sessions, no socket)", idle_rss.0, idle_rss.1);
    for (ours, _, open, peak, connect) in &runs {
        rss_row(
            &format!("W={} sockets open, before the flood", ours.watchers),
            open.0,
            open.1,
        );
        rss_row(
            &format!("W={} peak during the flood", ours.watchers),
            peak.0,
            peak.1,
        );
        eprintln!("bench: W={} sockets opened in {connect:?}", ours.watchers);
    }
    println!(
        "  idle targets: executor ≤ 15 MiB: {}; web ≤ 20 MiB: {}",
        verdict(idle_rss.0 <= 15 * 1024),
        verdict(idle_rss.1 <= 20 * 1024)
    );
    let by_w = |w: usize| runs.iter().find(|r| r.0.watchers == w).map(|r| r.2.1);
    let lo = cli.watchers.iter().copied().min().unwrap_or(1);
    if let (Some(a), Some(b)) = (by_w(lo), by_w(max_w))
        && max_w > lo
    {
        let per = (b as f64 - a as f64) / (max_w - lo) as f64;
        println!(
            "  web memory per extra watcher (sockets open, W={lo} → W={max_w}): {per:.1} KiB; target ≤ 50 KiB: {}",
            verdict(per <= 50.0)
        );
    }
    println!(
        "  bench process (watchers' and baseline's clients, baseline server) at the end: {} MiB",
        rss::mib(bench_rss)
    );
    if let Some(Err(e)) = &submit {
        println!();
        println!("Submit round trip: FAILED: {e:#}");
    }
    if let Some(Ok((s, signin))) = submit {
        println!();
        println!(
            "Submit round trip (gRPC SubmitJob on the executor's Deployer socket, TOTP code, durable commit; each job cancelled afterwards, untimed)"
        );
        println!(
            "  {} submissions: p50 {} ms  p99 {} ms  max {} ms; target p99 ≤ 10 ms: {}   ({} users signed in first, in {signin:?})",
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            verdict(s.p99 <= 10_000_000),
            submit_users.len()
        );
    }
    println!();
    println!("Not measured yet: submit → scap running; prompt answer → scap's stdin (issue 7).");
    drop(stack);
    Ok(())
}
