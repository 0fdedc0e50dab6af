//! `scap backport --revert N...`: asks for a reason, creates one revert change
//! per change (number + 100000), resets the workspace with `scap prep auto`, then
//! runs the whole backport of the reverts, prompts included (real scap runs
//! `scap backport <reverts>` as a child process sharing its stdin and stdout).

use std::cmp::Reverse;

use crate::outcome::Stop;
use crate::prompts;

use super::gerrit::FakeChange;
use super::{DEPLOY_HOST, Run, backport};

pub fn run(run: &mut Run, changes: &[FakeChange]) -> Result<(), Stop> {
    run.info("Checking whether requested changes are valid for backport...")?;
    run.info(&format!("Reverting {} change(s)", changes.len()))?;
    let deploy_user = format!("{}@{DEPLOY_HOST}", run.user);
    let default_reason = format!("Reverted by {deploy_user} via scap backport");
    let typed = run
        .io
        .input_line(&prompts::revert_reason(&default_reason))?;
    let reason = if typed.is_empty() {
        default_reason
    } else {
        format!("{deploy_user}: {typed}")
    };
    // Not printed by real scap (it goes into the revert's commit message); shown
    // so that tests can see the reason that reached scap.
    run.info(&format!("Reason for revert: {reason}"))?;

    let mut sorted = changes.to_vec();
    sorted.sort_by_key(|c| Reverse(c.number));
    let mut reverts = Vec::new();
    for change in &sorted {
        let revert = change.revert();
        // `git commit` output, then scap's own line.
        run.io.print(&format!(
            "[{} {}] {}",
            change.branch,
            revert.short_sha(),
            revert.subject
        ))?;
        run.io
            .print(" 1 file changed, 2 insertions(+), 9 deletions(-)")?;
        run.info(&format!("Change {} created", revert.number))?;
        reverts.push(revert);
    }
    run.info("Running scap prep to reset the workspace.")?;
    backport::prep_auto(run)?;
    backport::run(run, &reverts)
}
