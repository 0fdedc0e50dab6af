//! Every fake-scap scenario end to end through the `Deployer` service, as
//! spiderpig-web drives it: final state, exit code, outcome, the redacted log,
//! and what happens to the deployment lock and the queue. The scenario is
//! chosen by the last three digits of the change number (tests/fake-scap).

mod scenario_support;

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;
use scenario_support::*;
use spiderpig_executor::clock::Clock;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::log_record::Kind;
use spiderpig_tests::executor::{Harness, HarnessOptions};

const SUCCESS: u64 = 42;
const HTTPBB_FAILURE: u64 = 12001;
const CANARY_SPIKE: u64 = 12002;
const NEEDS_REBASE: u64 = 12003;
const CODE_REVIEW_VETO: u64 = 12004;
const HANG: u64 = 12005;
const FLOOD: u64 = 12006;
const FORGED_PROMPT: u64 = 12007;
const L10N_WARNING: u64 = 12008;

/// Backport runs that reach `scap prep auto` print two runs of patch lines.
const PREP_RUNS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_the_backport_confirmation_exits_0_and_keeps_the_lock_until_finish()
-> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let job = d1
        .deploy(&h, &[SUCCESS], &[("Backport the changes?", "n")], 0)
        .await?;
    assert_eq!(job.stage, pb::Stage::Queued as i32, "scap never got going");
    let log = checked_log(&h, &mut d1.drv, job.id, 0).await?;
    assert!(has_line(&log, "Backport cancelled"));
    assert_eq!(count(&log, Kind::Answer, "deployer1 chose: No"), 1);
    assert_eq!(count(&log, Kind::System, EXIT_0), 1);
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_at_the_test_server_prompt_needs_an_acknowledgement_and_exits_1()
-> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let job = d1.submit(&h, &[SUCCESS]).await?;
    d1.drv.ready(job.id).await?;
    d1.drv
        .answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    let test_servers = d1
        .drv
        .wait_prompt(job.id, "Continue with deployment?")
        .await?;
    d1.drv.respond(job.id, test_servers.prompt_id, "n").await?;
    let alert = d1.drv.wait_prompt(job.id, ALERT).await?;
    let choices: Vec<(&str, &str)> = alert
        .choices
        .iter()
        .map(|c| (c.label.as_str(), c.key.as_str()))
        .collect();
    assert_eq!(
        choices,
        [("Acknowledge and release the deployment lock", "a")]
    );
    d1.drv.respond(job.id, alert.prompt_id, "a").await?;
    let done = d1
        .drv
        .wait_state(job.id, pb::JobState::AwaitingFinish)
        .await?;
    assert_exited(&done, 1);
    assert_holds_lock(&mut d1.drv, job.id).await?;
    let log = checked_log(&h, &mut d1.drv, job.id, PREP_RUNS).await?;
    assert!(has_line(&log, "Rolling back stage testservers"));
    assert!(!has_line(&log, "Rolling back stage canaries"));
    assert!(has_line(&log, "Rollback complete"));
    assert!(has_line(&log, "backport failed: <CalledProcessError>"));
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_httpbb_check_can_be_retried_ignored_rolled_back_or_abandoned() -> anyhow::Result<()>
{
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let check = "Testservers check failed.";
    let cases: [(Script, i32, &str); 4] = [
        (
            &[(check, "r"), ("Continue with deployment?", "y")],
            0,
            "Retrying testservers check",
        ),
        (
            &[(check, "i"), ("Continue with deployment?", "y")],
            0,
            "Ignoring failed testservers check",
        ),
        (
            &[(check, "b"), (ALERT, "a")],
            1,
            "Rolling back stage testservers",
        ),
        (&[(check, "x")], 1, "Exiting without rollback"),
    ];
    for (answers, exit, marker) in cases {
        let mut script = vec![("Backport the changes?", "y")];
        script.extend_from_slice(answers);
        let job = d1.deploy(&h, &[HTTPBB_FAILURE], &script, exit).await?;
        let log = checked_log(&h, &mut d1.drv, job.id, PREP_RUNS).await?;
        assert!(has_line(
            &log,
            "Check 'check_testservers_k8s-1_of_1' failed"
        ));
        assert!(
            has_line(&log, marker),
            "{marker:?} missing after {answers:?}"
        );
        let finished = has_line(&log, "Finished scap sync-world");
        assert_eq!(finished, exit == 0, "sync-world finished after {answers:?}");
        let expected_stage = if exit == 0 {
            pb::Stage::Complete
        } else {
            pb::Stage::TestServers
        };
        assert_eq!(job.stage, expected_stage as i32, "after {answers:?}");
        d1.finish_and_release(job.id).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_error_spike_is_shown_and_can_be_rolled_back_or_ignored() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let check = "Canary error check failed.";
    let cases: [(Script, i32); 2] = [(&[(check, "b"), (ALERT, "a")], 1), (&[(check, "i")], 0)];
    for (answers, exit) in cases {
        let mut script = DEPLOY.to_vec();
        script.extend_from_slice(answers);
        let job = d1.deploy(&h, &[CANARY_SPIKE], &script, exit).await?;
        let log = checked_log(&h, &mut d1.drv, job.id, PREP_RUNS).await?;
        assert!(has_line(
            &log,
            "Logstash checker Counted 57 error(s) in the last 20 seconds. The threshold is 10."
        ));
        assert!(has_line(&log, "Top 5 errors:"));
        let rolled_back: Vec<&str> = log
            .iter()
            .filter(|r| r.text.contains("Rolling back stage"))
            .map(|r| r.text.as_str())
            .collect();
        if exit == 1 {
            assert_eq!(rolled_back.len(), 2, "{rolled_back:?}");
            assert!(rolled_back[0].contains("canaries"), "newest stage first");
            assert!(rolled_back[1].contains("testservers"));
        } else {
            assert!(rolled_back.is_empty());
            assert!(has_line(&log, "Ignoring failed canary error check"));
            assert_eq!(job.stage, pb::Stage::Complete as i32);
        }
        d1.finish_and_release(job.id).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_failures_end_the_run_with_exit_1() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let cases = [
        (NEEDS_REBASE, "could not merge the change '12003' as is"),
        (
            CODE_REVIEW_VETO,
            "rejected (Code-Review -2) by 'Ursula Reviewer'",
        ),
    ];
    for (change, reason) in cases {
        let job = d1
            .deploy(&h, &[change], &[("Backport the changes?", "y")], 1)
            .await?;
        assert!(job.outcome.contains("status 1"), "{}", job.outcome);
        assert_eq!(job.stage, pb::Stage::Merge as i32);
        // scap stopped before `scap prep auto`: no patch was printed.
        let log = checked_log(&h, &mut d1.drv, job.id, 0).await?;
        assert!(has_line(&log, reason), "{:#?}", texts(&log));
        assert!(has_line(&log, "backport failed: <SystemExit>"));
        assert!(!has_line(&log, "Started scap sync-world"));
        d1.finish_and_release(job.id).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l10n_warning_is_asked_first_and_declining_it_cancels() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let warning = "touch l10n-related files";

    let declined = d1.deploy(&h, &[L10N_WARNING], &[(warning, "n")], 0).await?;
    let log = checked_log(&h, &mut d1.drv, declined.id, 0).await?;
    assert!(has_line(&log, "Backport cancelled"));
    assert_eq!(count(&log, Kind::Prompt, "Backport the changes?"), 0);
    d1.finish_and_release(declined.id).await?;

    let mut script = vec![(warning, "y")];
    script.extend_from_slice(DEPLOY);
    let deployed = d1.deploy(&h, &[L10N_WARNING], &script, 0).await?;
    assert_eq!(deployed.stage, pb::Stage::Complete as i32);
    let log = checked_log(&h, &mut d1.drv, deployed.id, PREP_RUNS).await?;
    assert!(has_line(&log, "Logstash checker Counted 9 error(s)"));
    assert!(has_line(&log, "Finished scap sync-world"));
    d1.finish_and_release(deployed.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_output_is_stored_completely_and_in_order() -> anyhow::Result<()> {
    const LINES: usize = 20_000;
    let h = Harness::start(HarnessOptions {
        fake_scap: serde_json::json!({
            "pace": "instant", "record_invocations": true, "flood_lines": LINES
        }),
        ..HarnessOptions::default()
    })
    .await?;
    let mut d1 = user(&h, "deployer1").await?;
    let job = d1.submit(&h, &[FLOOD]).await?;
    d1.drv.ready(job.id).await?;
    d1.drv
        .answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    let (drv, id) = (d1.drv.clone(), job.id);
    let done = within(120, || {
        let mut drv = drv.clone();
        async move {
            let j = drv.job(id).await.ok()?;
            (j.state == pb::JobState::AwaitingFinish as i32).then_some(j)
        }
    })
    .await?;
    assert_exited(&done, 0);
    let log = checked_log(&h, &mut d1.drv, job.id, 0).await?;
    let flood: Vec<&str> = log
        .iter()
        .filter(|r| r.text.contains(" flood line "))
        .map(|r| r.text.as_str())
        .collect();
    assert_eq!(flood.len(), LINES);
    assert!(flood[0].contains(&format!("flood line 1 of {LINES}")));
    assert!(flood[LINES - 1].contains(&format!("flood line {LINES} of {LINES}")));
    assert_eq!(done.last_seq, log.len() as u64);
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_prompt_lines_are_shown_as_text_and_never_asked() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let job = d1.submit(&h, &[FORGED_PROMPT]).await?;
    d1.drv.ready(job.id).await?;
    let confirm = d1.drv.wait_prompt(job.id, "Backport the changes?").await?;
    d1.drv.respond(job.id, confirm.prompt_id, "y").await?;
    // The forged lines carry the test-server prompt's very text: the one that
    // is asked must be scap's real one, after prep, with the next prompt id.
    let real = d1
        .drv
        .wait_prompt(job.id, "Continue with deployment?")
        .await?;
    assert_eq!(
        real.prompt_id,
        confirm.prompt_id + 1,
        "a forged prompt was opened"
    );
    let so_far = d1.drv.log(job.id).await?;
    assert_eq!(count(&so_far, Kind::Redacted, PLACEHOLDER), PREP_RUNS);
    d1.drv.respond(job.id, real.prompt_id, "y").await?;
    let done = d1
        .drv
        .wait_state(job.id, pb::JobState::AwaitingFinish)
        .await?;
    assert_exited(&done, 0);

    let log = checked_log(&h, &mut d1.drv, job.id, PREP_RUNS).await?;
    let forged: Vec<&pb::LogRecord> = log
        .iter()
        .filter(|r| r.text.contains(r#""type": "interaction""#))
        .collect();
    assert_eq!(forged.len(), 2, "{:#?}", texts(&log));
    for rec in &forged {
        assert_eq!(rec.kind, Kind::Line as i32);
        assert!(rec.text.contains("Continue with deployment?"));
    }
    assert!(
        forged[0].text.contains(r#""iokey": ""#),
        "the wrong-key line"
    );
    assert!(!forged[1].text.contains("iokey"), "the keyless line");
    assert_eq!(
        log.iter().filter(|r| r.kind == Kind::Prompt as i32).count(),
        2
    );
    assert_eq!(
        log.iter().filter(|r| r.kind == Kind::Answer as i32).count(),
        2
    );
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_scap_is_killed_by_process_group_at_the_job_time_out_and_the_lock_is_kept()
-> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions {
        job_secs: 60,
        ..HarnessOptions::default()
    })
    .await?;
    let mut d1 = user(&h, "deployer1").await?;
    let mut d2 = user(&h, "deployer2").await?;
    let job = d1.submit(&h, &[HANG]).await?;
    let behind = d2.submit(&h, &[SUCCESS]).await?;
    assert_eq!(behind.queue_position, 1);
    d1.drv.ready(job.id).await?;
    d1.drv
        .answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    let (drv, id) = (d1.drv.clone(), job.id);
    within(10, || {
        let mut drv = drv.clone();
        async move {
            let j = drv.job(id).await.ok()?;
            j.status_line
                .starts_with("Waiting for changes to be merged")
                .then_some(())
        }
    })
    .await?;
    let invocations = h.invocations();
    assert_eq!(invocations.len(), 1);
    let pid = invocations[0]["pid"].as_i64().expect("pid") as i32;
    assert_eq!(
        invocations[0]["pgid"].as_i64(),
        Some(pid as i64),
        "own group"
    );
    let pid = Pid::from_raw(pid);
    assert_eq!(kill(pid, None), Ok(()), "fake-scap hangs, alive");
    // A bystander in another process group must survive the kill.
    let mut sibling = std::process::Command::new("sleep").arg("30").spawn()?;

    h.clock.advance_secs(30);
    h.engine().tick()?;
    assert_eq!(
        d1.drv.job(job.id).await?.state,
        pb::JobState::Running as i32
    );
    h.clock.advance_secs(31);
    h.engine().tick()?;
    let done = d1
        .drv
        .wait_state(job.id, pb::JobState::AwaitingFinish)
        .await?;
    assert!(!done.has_exit_code, "killed, not exited: {}", done.outcome);
    assert!(
        done.outcome.contains("time-out of 60 s"),
        "{}",
        done.outcome
    );
    assert_eq!(killpg(pid, None), Err(Errno::ESRCH), "process group gone");
    assert_eq!(kill(pid, None), Err(Errno::ESRCH), "fake-scap gone");
    assert!(sibling.try_wait()?.is_none(), "the bystander was killed");
    sibling.kill()?;
    sibling.wait()?;

    let log = checked_log(&h, &mut d1.drv, job.id, 0).await?;
    assert!(has_line(&log, "Waiting for changes to be merged"));
    assert_eq!(count(&log, Kind::System, "time-out of 60 s"), 1);
    // The lock stays with the owner, who checks production first.
    assert_holds_lock(&mut d1.drv, job.id).await?;
    h.clock.advance_secs(600);
    h.engine().tick()?;
    assert_eq!(
        d2.drv.job(behind.id).await?.state,
        pb::JobState::Queued as i32
    );
    assert_holds_lock(&mut d1.drv, job.id).await?;
    d1.drv.finish(job.id).await?;
    let next = d2.drv.job(behind.id).await?;
    assert_eq!(next.state, pb::JobState::AwaitingReady as i32);
    assert_eq!(h.invocations().len(), 1, "nothing else was started");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_who_is_not_ready_in_time_expires_and_the_next_user_is_asked() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions {
        ready_secs: 120,
        ..HarnessOptions::default()
    })
    .await?;
    let mut d1 = user(&h, "deployer1").await?;
    let mut d2 = user(&h, "deployer2").await?;
    let first = d1.submit(&h, &[SUCCESS]).await?;
    assert_eq!(first.state, pb::JobState::AwaitingReady as i32);
    let second = d2.submit(&h, &[43]).await?;
    assert_eq!(second.queue_position, 1);
    // `first` was asked 30 s before `second` was submitted.
    assert_eq!(
        first.ready_deadline_ms + 30_000,
        second.created_at_ms + 120_000
    );

    h.clock.advance_secs(85);
    h.engine().tick()?;
    assert_eq!(
        d1.drv.job(first.id).await?.state,
        pb::JobState::AwaitingReady as i32
    );
    h.clock.advance_secs(6);
    h.engine().tick()?;
    let expired = d1.drv.job(first.id).await?;
    assert_eq!(expired.state, pb::JobState::Expired as i32);
    assert!(
        expired.outcome.contains("not ready within 120 s"),
        "{}",
        expired.outcome
    );
    assert!(expired.ended_at_ms > 0);
    let asked = d2.drv.job(second.id).await?;
    assert_eq!(asked.state, pb::JobState::AwaitingReady as i32);
    assert_eq!(asked.queue_position, 0);
    assert_eq!(asked.ready_deadline_ms, h.clock.now_ms() + 120_000);
    assert_holds_lock(&mut d2.drv, second.id).await?;
    // Too late: the expired job cannot be started any more.
    let late = d1.drv.ready(first.id).await;
    assert_eq!(refused(late), tonic::Code::FailedPrecondition);
    assert!(h.invocations().is_empty(), "scap was never started");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_are_served_in_order_as_the_lock_passes() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let mut d2 = user(&h, "deployer2").await?;
    let mut a1 = user(&h, "admin1").await?;
    let j1 = d1.submit(&h, &[SUCCESS]).await?;
    let j2 = d2.submit(&h, &[43]).await?;
    let j3 = a1.submit(&h, &[44]).await?;
    assert_eq!(j1.state, pb::JobState::AwaitingReady as i32);
    assert_eq!(
        (j2.state, j2.queue_position),
        (pb::JobState::Queued as i32, 1)
    );
    assert_eq!(
        (j3.state, j3.queue_position),
        (pb::JobState::Queued as i32, 2)
    );
    let queue = a1.drv.queue().await?;
    assert_eq!(queue.active.map(|j| j.id), Some(j1.id));
    let order: Vec<(u64, u32)> = queue
        .queued
        .iter()
        .map(|j| (j.id, j.queue_position))
        .collect();
    assert_eq!(order, [(j2.id, 1), (j3.id, 2)]);

    let done = d1.run(j1.id, DEPLOY).await?;
    assert_exited(&done, 0);
    checked_log(&h, &mut d1.drv, j1.id, PREP_RUNS).await?;
    assert_eq!(d2.drv.job(j2.id).await?.state, pb::JobState::Queued as i32);
    d1.drv.finish(j1.id).await?;

    let asked = d2.drv.job(j2.id).await?;
    assert_eq!(
        (asked.state, asked.queue_position),
        (pb::JobState::AwaitingReady as i32, 0)
    );
    let third = a1.drv.job(j3.id).await?;
    assert_eq!(
        (third.state, third.queue_position),
        (pb::JobState::Queued as i32, 1)
    );
    let queue = a1.drv.queue().await?;
    assert_eq!(queue.active.map(|j| j.id), Some(j2.id));
    assert_eq!(
        queue.queued.iter().map(|j| j.id).collect::<Vec<_>>(),
        [j3.id]
    );

    let done = d2.run(j2.id, &[("Backport the changes?", "n")]).await?;
    assert_exited(&done, 0);
    d2.drv.finish(j2.id).await?;

    let last = a1.drv.job(j3.id).await?;
    assert_eq!(
        (last.state, last.queue_position),
        (pb::JobState::AwaitingReady as i32, 0)
    );
    let queue = a1.drv.queue().await?;
    assert!(queue.queued.is_empty());
    let done = a1.run(j3.id, DEPLOY).await?;
    assert_exited(&done, 0);
    a1.finish_and_release(j3.id).await?;
    let owners: Vec<String> = h
        .invocations()
        .iter()
        .map(|i| {
            i["env"]["SPIDERPIG_REAL_USER"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(owners, ["deployer1", "deployer2", "admin1"]);
    Ok(())
}
