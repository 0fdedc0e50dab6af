//! A loopback Gerrit stand-in for the demo: answers Gerrit's REST shape for
//! the demo's change numbers. Prints `READY <url>` and serves until SIGTERM
//! or SIGINT.
#![forbid(unsafe_code)]

use spiderpig_tests::gerrit::{GerritStandIn, default_changes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let gerrit = GerritStandIn::start(default_changes()).await?;
    println!("READY {}", gerrit.url);
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    drop(gerrit);
    Ok(())
}
