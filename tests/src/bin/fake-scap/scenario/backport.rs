//! `scap backport N...`: validation, the prompts before the start, voting,
//! waiting for the merge, collecting the commits and `scap prep auto`, then
//! `scap sync-world` (see `sync`).

use crate::outcome::Stop;
use crate::progress::Reporter;
use crate::prompts;

use super::gerrit::{self, FakeChange};
use super::scripts::{PREP_END, PREP_START, PREP_VERSION, VERSIONS};
use super::{Run, Scenario, special, sync};

const CANCELLED: &str = "Backport cancelled";
/// scap polls Gerrit every 5 s; shortened.
const MERGE_POLL_SECS: f64 = 2.0;

pub fn run(run: &mut Run, changes: &[FakeChange]) -> Result<(), Stop> {
    run.info("Checking whether requested changes are valid for backport...")?;
    for c in changes {
        run.info(&format!(
            "Root change '{}' processed with 0 relevant dependencies",
            c.number
        ))?;
    }
    if run.scenario == Scenario::L10nWarning {
        let links: Vec<String> = changes.iter().map(FakeChange::link).collect();
        if run.choose(&prompts::l10n_warning(&links.join("\n")))? == "n" {
            return Err(Stop::Cancelled(CANCELLED.into()));
        }
    }
    if run.choose(&prompts::confirmation(&gerrit::table(changes)))? == "n" {
        return Err(Stop::Cancelled(CANCELLED.into()));
    }
    match run.scenario {
        Scenario::Flood => return special::flood(run),
        Scenario::ForgedPrompt => special::forged_prompts(run)?,
        _ => {}
    }
    vote(run, changes)?;
    wait_for_merge(run, changes)?;
    collect_commits(run, changes)?;
    prep_auto(run)?;
    if run.stop_before_sync {
        return run.info("Skipping sync since --stop-before-sync was specified");
    }
    sync::sync_world(run, changes)
}

fn vote(run: &mut Run, changes: &[FakeChange]) -> Result<(), Stop> {
    run.info(&format!("Voting on {} change(s)", changes.len()))?;
    for c in changes {
        run.info(&format!("Change {} approved", c.number))?;
    }
    Ok(())
}

/// scap's `_wait_for_changes_to_be_merged`. The change whose number chose a
/// merge-failure scenario fails the way Gerrit makes scap fail.
fn wait_for_merge(run: &mut Run, changes: &[FakeChange]) -> Result<(), Stop> {
    let waiting = "Waiting for changes to be merged. This may take some time if there are long running tests.";
    run.info(waiting)?;
    run.io.status(Some(waiting))?;
    let mut reporter = Reporter::new("awaiting-backport-merges", changes.len() as u64);
    reporter.start(run.io)?;
    let result = merge_outcome(run, changes, &mut reporter);
    // scap finishes the bar in a `finally:`, whatever happened.
    reporter.finish(run.io)?;
    result?;
    run.info("All changes have been merged")?;
    run.io.status(Some("All changes have been merged"))
}

fn merge_outcome(
    run: &mut Run,
    changes: &[FakeChange],
    reporter: &mut Reporter,
) -> Result<(), Stop> {
    let failing = changes
        .iter()
        .find(|c| Scenario::select(&[c.number]) == run.scenario);
    match (run.scenario, failing) {
        (Scenario::Hang, _) => special::hang(),
        (Scenario::NeedsRebase, Some(c)) => {
            run.pace.pause(MERGE_POLL_SECS);
            run.info(&format!(
                "Change {} is not currently mergeable, but may be being rebased. Attempt 1 of 2",
                c.number
            ))?;
            run.pace.pause(MERGE_POLL_SECS);
            Err(Stop::failed(
                "SystemExit",
                format!(
                    "Gerrit could not merge the change '{}' as is and could require a rebase",
                    c.number
                ),
            ))
        }
        (Scenario::CodeReviewVeto, Some(c)) => {
            run.pace.pause(MERGE_POLL_SECS);
            Err(Stop::failed(
                "SystemExit",
                format!(
                    "The change '{}' has been rejected (Code-Review -2) by 'Ursula Reviewer'",
                    c.number
                ),
            ))
        }
        _ => {
            run.pace.pause(MERGE_POLL_SECS);
            for _ in changes {
                run.pace.pause(MERGE_POLL_SECS / changes.len() as f64);
                reporter.add_success(run.io)?;
            }
            Ok(())
        }
    }
}

fn collect_commits(run: &mut Run, changes: &[FakeChange]) -> Result<(), Stop> {
    run.info("Collecting commits to deploy...")?;
    run.info("Fetching new changes...")?;
    run.pace.pause(1.0);
    for c in changes {
        let id = c.change_id();
        run.info(&format!("Collecting commit for {id}..."))?;
        run.pace.pause(0.5);
        run.info(&format!("Collecting merge commit for {id} if it exists..."))?;
        run.info("No merge commit found.")?;
    }
    Ok(())
}

/// `scap prep auto`, which re-applies the security patches of each live version.
pub fn prep_auto(run: &mut Run) -> Result<(), Stop> {
    run.play(PREP_START)?;
    for (version, sha) in VERSIONS {
        run.set("v", version);
        run.set("sha", sha);
        run.play(PREP_VERSION)?;
    }
    run.play(PREP_END)
}
