//! spiderpig-executor: `serve` runs the monitor; `ctl` is the admin CLI, a thin
//! entry into the `spiderpig-ctl` crate (which cannot reach the database).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use spiderpig_executor::clock::SystemClock;
use spiderpig_executor::config::Config;
use spiderpig_executor::daemon;

#[derive(Parser)]
#[command(
    name = "spiderpig-executor",
    version,
    about = "SpiderPig's privileged monitor and its admin CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the executor.
    Serve {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    CheckConfig {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Administer a running executor through its admin socket.
    Ctl(spiderpig_ctl::CtlArgs),
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("SPIDERPIG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn serve(path: PathBuf) -> anyhow::Result<()> {
    let config = Arc::new(Config::load(&path)?);
    let engine = daemon::build_engine(config, Arc::new(SystemClock))
        .await
        .context("cannot start")?;
    daemon::run(engine, shutdown_signal()).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ctl(args) => match spiderpig_ctl::run(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(_) => {
                println!("{}: OK", config.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", config.display());
                ExitCode::FAILURE
            }
        },
        Command::Serve { config } => {
            init_logging();
            match serve(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("spiderpig-executor: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
