//! `scap sync-world --backport --pause-after-testserver-sync <SAL>`, which
//! `scap backport` runs after prep: the stages testservers, canaries and
//! production, their checks, the prompts between them, and rollback.

use std::time::Instant;

use crate::clock::human_duration;
use crate::outcome::Stop;
use crate::prompts::{self, Prompt};
use crate::protocol::py_repr;

use super::gerrit::{self, FakeChange};
use super::scripts::*;
use super::{Run, Scenario};

/// What has been deployed so far, so that a rollback undoes exactly that.
struct World {
    deployed: Vec<&'static str>,
    /// The argv `scap backport` ran sync-world with (shown when it fails).
    argv: Vec<String>,
}

pub fn sync_world(run: &mut Run, changes: &[FakeChange]) -> Result<(), Stop> {
    let sal = gerrit::sal(changes);
    run.set("sal", sal.clone());
    let started = Instant::now();
    let mut world = World {
        deployed: Vec::new(),
        argv: [
            "/usr/bin/scap",
            "sync-world",
            "--backport",
            "--pause-after-testserver-sync",
            &sal,
        ]
        .map(String::from)
        .to_vec(),
    };
    run.play(LOGO)?;
    run.play(SYNC_START)?;
    for (version, _) in VERSIONS {
        run.set("v", version);
        run.play(L10N_VERSION)?;
    }
    run.play(SYNC_IMAGES)?;

    world.deploy_k8s(run, "testservers")?;
    run.play(TESTSERVERS_BAREMETAL)?;
    run.play(CHECK_TESTSERVERS)?;
    if run.scenario == Scenario::HttpbbFailure {
        run.play(CHECK_TESTSERVERS_FAILED)?;
        let prompt = prompts::failed_check("Testservers check", "Retry testservers check");
        world.after_failed_check(
            run,
            &prompt,
            "testservers check",
            &[CHECK_TESTSERVERS, CHECK_TESTSERVERS_PASSED],
        )?;
    } else {
        run.play(CHECK_TESTSERVERS_PASSED)?;
    }
    run.play(TESTSERVERS_SYNCED)?;
    if run.choose(&prompts::testservers())? != "y" {
        return Err(world.roll_back(run));
    }
    run.play(CONTINUING)?;

    world.deploy_k8s(run, "canaries")?;
    run.play(CANARY_WAIT)?;
    if run.scenario == Scenario::CanarySpike {
        run.play(CANARY_SPIKE)?;
        let prompt = prompts::failed_check("Canary error check", "Retry canary error check");
        world.after_failed_check(
            run,
            &prompt,
            "canary error check",
            &[CANARY_WAIT, CANARY_OK],
        )?;
    } else {
        run.play(CANARY_OK)?;
    }

    world.deploy_k8s(run, "production")?;
    run.play(PRODUCTION_BAREMETAL)?;
    let took = human_duration(started.elapsed());
    run.info(&format!(
        "Finished scap sync-world: {sal} (duration: {took})"
    ))
}

impl World {
    fn deploy_k8s(&mut self, run: &mut Run, stage: &'static str) -> Result<(), Stop> {
        self.deployed.push(stage);
        run.set("stage", stage);
        let timer = if stage == "production" {
            "sync-prod-k8s".to_string()
        } else {
            format!("sync-{stage}-k8s")
        };
        run.set("k8s_timer", timer);
        run.play(K8S_STAGE)
    }

    /// Step 6 of SCAP.md. A retry passes (the scenarios fail once).
    fn after_failed_check(
        &mut self,
        run: &mut Run,
        prompt: &Prompt,
        what: &str,
        retry: &[&[super::script::Step]],
    ) -> Result<(), Stop> {
        match run.choose(prompt)? {
            "r" => {
                run.info(&format!("Retrying {what}"))?;
                for script in retry {
                    run.play(script)?;
                }
                Ok(())
            }
            "i" => run.warn(&format!("Ignoring failed {what} and continuing deployment")),
            "b" => Err(self.roll_back(run)),
            _ => {
                run.warn("Exiting without rollback")?;
                Err(self.failure())
            }
        }
    }

    /// Rolls back every deployed stage, newest first, then asks the deployer to
    /// acknowledge (step 9). Always ends the run as a failure.
    fn roll_back(&mut self, run: &mut Run) -> Stop {
        let rolled_back = (|| {
            for stage in self.deployed.iter().rev() {
                run.set("stage", *stage);
                run.play(ROLLBACK_STAGE)?;
            }
            run.info("Rollback complete")?;
            run.choose(&prompts::rollback_alert()).map(drop)
        })();
        match rolled_back {
            Ok(()) => self.failure(),
            Err(stop) => stop,
        }
    }

    /// How `scap backport` reports that sync-world exited non-zero.
    fn failure(&self) -> Stop {
        let argv: Vec<String> = self.argv.iter().map(|a| py_repr(a)).collect();
        Stop::failed(
            "CalledProcessError",
            format!(
                "Command '[{}]' returned non-zero exit status 1.",
                argv.join(", ")
            ),
        )
    }
}
