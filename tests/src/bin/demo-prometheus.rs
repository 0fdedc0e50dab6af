//! The demo's Prometheus: writes MediaWiki error data around now (calm, or
//! with a spike that began ten minutes ago), backfills it with promtool into
//! `--dir`, starts the real Prometheus on a loopback port over it, prints
//! `READY <url>` and serves until SIGTERM or SIGINT (then stops Prometheus).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use spiderpig_tests::prometheus::{Profile, Prometheus, mediawiki_errors};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shape {
    Calm,
    Spike,
}

#[derive(Debug, Parser)]
struct Args {
    /// An empty or absent directory for the data and Prometheus's log.
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, value_enum, default_value = "calm")]
    profile: Shape,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let profile = match args.profile {
        Shape::Calm => Profile::Calm,
        Shape::Spike => Profile::Spike,
    };
    let prometheus = Prometheus::start_in(&args.dir, &mediawiki_errors(now_s, profile))?;
    spiderpig_tests::bins::ready_until_stopped(&prometheus.url).await?;
    drop(prometheus);
    Ok(())
}
