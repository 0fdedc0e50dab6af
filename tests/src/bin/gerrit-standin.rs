//! A loopback Gerrit stand-in for the demo: answers Gerrit's REST shape for
//! the demo's change numbers. Prints `READY <url>` and serves until SIGTERM
//! or SIGINT.
#![forbid(unsafe_code)]

use spiderpig_tests::gerrit::{GerritStandIn, default_changes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let gerrit = GerritStandIn::start(default_changes()).await?;
    spiderpig_tests::bins::ready_until_stopped(&gerrit.url).await?;
    drop(gerrit);
    Ok(())
}
