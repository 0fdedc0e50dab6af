//! Answers to scap's prompts and the races around them, through the
//! `Deployer` service (SECURITY-TESTS.md cases 32 and 34), and the revert
//! flow with its free-text reason. "Nothing was written to scap's stdin" is
//! checked by what fake-scap does next: it logs `Invalid choice: ...` for a
//! bad key, takes a stray line as the answer to its next prompt, and logs the
//! revert reason it read.

mod scenario_support;

use scenario_support::*;
use spiderpig_client::ErrorKind;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::log_record::Kind;
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::{Harness, HarnessOptions};
use tonic::Code;

const CONFIRM: &str = "Backport the changes?";
const TEST_SERVERS: &str = "Continue with deployment?";
const REASON: &str = "Please supply a reason for revert";

/// The job still waits on exactly `prompt`.
async fn still_waiting(drv: &mut Driver, id: u64, prompt: &pb::Prompt) -> anyhow::Result<()> {
    let job = drv.job(id).await?;
    assert_eq!(job.state, pb::JobState::AwaitingInput as i32);
    assert_eq!(job.pending_prompt.as_ref(), Some(prompt));
    Ok(())
}

async fn revert(user: &mut User, job: u64, code: &str) -> Result<pb::Job, tonic::Status> {
    user.drv.revert(job, code).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_answers_at_once_to_one_prompt_let_exactly_one_through() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let job = d1.submit(&h, &[42]).await?;
    d1.drv.ready(job.id).await?;
    let confirm = d1.drv.wait_prompt(job.id, CONFIRM).await?;
    let mut yes = Driver::new(h.client(), &d1.signed.token);
    let mut no = Driver::new(h.client(), &d1.signed.token);
    let (a, b) = tokio::join!(
        yes.respond(job.id, confirm.prompt_id, "y"),
        no.respond(job.id, confirm.prompt_id, "n"),
    );
    let codes = [
        a.as_ref().err().map(|s| s.code()),
        b.as_ref().err().map(|s| s.code()),
    ];
    assert!(
        codes == [None, Some(Code::FailedPrecondition)]
            || codes == [Some(Code::FailedPrecondition), None],
        "exactly one answer wins: {a:?} / {b:?}"
    );
    let backported = a.is_ok();
    if backported {
        // Had "n" been written too, scap would read it here and roll back.
        d1.drv.answer_all(job.id, &[(TEST_SERVERS, "y")]).await?;
    }
    let done = d1
        .drv
        .wait_state(job.id, pb::JobState::AwaitingFinish)
        .await?;
    assert_exited(&done, 0);
    let log = checked_log(&h, &mut d1.drv, job.id, if backported { 2 } else { 0 }).await?;
    assert_eq!(
        count(&log, Kind::Answer, "chose"),
        if backported { 2 } else { 1 }
    );
    assert_eq!(has_line(&log, "Backport cancelled"), !backported);
    assert!(!has_line(&log, "Invalid choice"));
    assert!(!has_line(&log, "Rolling back"));
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_offered_or_name_another_prompt_are_refused() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let job = d1.submit(&h, &[42]).await?;
    d1.drv.ready(job.id).await?;
    let confirm = d1.drv.wait_prompt(job.id, CONFIRM).await?;
    for key in ["q", "Y", "yes", "y\n", " y", "", "y\nn"] {
        let r = d1.drv.respond(job.id, confirm.prompt_id, key).await;
        assert_eq!(refused(r), Code::InvalidArgument, "key {key:?}");
        still_waiting(&mut d1.drv, job.id, &confirm).await?;
    }
    let r = d1.drv.respond_line(job.id, confirm.prompt_id, "y").await;
    assert_eq!(
        refused(r),
        Code::InvalidArgument,
        "a line to a choices prompt"
    );
    let r = d1.drv.respond(job.id, confirm.prompt_id + 1, "y").await;
    assert_eq!(
        refused(r),
        Code::FailedPrecondition,
        "a prompt not yet opened"
    );
    still_waiting(&mut d1.drv, job.id, &confirm).await?;

    d1.drv.respond(job.id, confirm.prompt_id, "y").await?;
    let test_servers = d1.drv.wait_prompt(job.id, TEST_SERVERS).await?;
    assert!(test_servers.prompt_id > confirm.prompt_id);
    for key in ["y", "n"] {
        let r = d1.drv.respond(job.id, confirm.prompt_id, key).await;
        assert_eq!(
            refused(r),
            Code::FailedPrecondition,
            "the answered prompt, {key:?}"
        );
        still_waiting(&mut d1.drv, job.id, &test_servers).await?;
    }
    let r = d1.drv.respond(9_999, test_servers.prompt_id, "y").await;
    assert_eq!(refused(r), Code::NotFound, "another job id");
    d1.drv.respond(job.id, test_servers.prompt_id, "y").await?;
    let done = d1
        .drv
        .wait_state(job.id, pb::JobState::AwaitingFinish)
        .await?;
    assert_exited(&done, 0);
    let r = d1.drv.respond(job.id, test_servers.prompt_id, "y").await;
    assert_eq!(refused(r), Code::FailedPrecondition, "scap has exited");

    let log = checked_log(&h, &mut d1.drv, job.id, 2).await?;
    assert!(
        !has_line(&log, "Invalid choice"),
        "a refused key reached scap"
    );
    assert!(
        !has_line(&log, "Rolling back"),
        "a stray \"n\" reached scap"
    );
    assert_eq!(count(&log, Kind::Answer, "chose"), 2);
    assert_eq!(count(&log, Kind::Prompt, ""), 2);
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_or_an_admin_may_answer_a_prompt() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let mut d2 = user(&h, "deployer2").await?;
    let mut a1 = user(&h, "admin1").await?;
    let job = d1.submit(&h, &[42]).await?;
    d1.drv.ready(job.id).await?;
    let confirm = d1.drv.wait_prompt(job.id, CONFIRM).await?;
    for key in ["y", "n", "q"] {
        let r = d2.drv.respond(job.id, confirm.prompt_id, key).await;
        assert_eq!(
            refused(r),
            Code::PermissionDenied,
            "deployer2 answers {key:?}"
        );
        still_waiting(&mut d1.drv, job.id, &confirm).await?;
    }
    let answered = a1.drv.respond(job.id, confirm.prompt_id, "y").await?;
    assert_eq!(answered.owner, "deployer1");
    let test_servers = d1.drv.wait_prompt(job.id, TEST_SERVERS).await?;
    let r = d2.drv.respond(job.id, test_servers.prompt_id, "n").await;
    assert_eq!(refused(r), Code::PermissionDenied);
    d1.drv.respond(job.id, test_servers.prompt_id, "y").await?;
    let done = d1
        .drv
        .wait_state(job.id, pb::JobState::AwaitingFinish)
        .await?;
    assert_exited(&done, 0);
    let log = checked_log(&h, &mut d1.drv, job.id, 2).await?;
    assert_eq!(count(&log, Kind::Answer, "admin1 chose: Yes"), 1);
    assert_eq!(
        count(&log, Kind::Answer, "deployer1 chose: Yes, continue"),
        1
    );
    assert_eq!(count(&log, Kind::Answer, "deployer2"), 0);
    let r = d2.drv.finish(job.id).await;
    assert_eq!(refused(r), Code::PermissionDenied, "deployer2 finishes");
    d1.finish_and_release(job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_submits_and_ready_clicks_never_start_scap_twice() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let mut d2 = user(&h, "deployer2").await?;
    h.clock.advance_secs(30);
    let (c1, c2) = (h.totp(&d1.signed.secret, 0), h.totp(&d2.signed.secret, 0));
    let (s1, s2) = tokio::join!(d1.drv.submit(&[42], &c1), d2.drv.submit(&[43], &c2));
    let (j1, j2) = (s1?, s2?);
    let (first, second) = if j1.state == pb::JobState::AwaitingReady as i32 {
        (j1, j2)
    } else {
        (j2, j1)
    };
    assert_eq!(first.state, pb::JobState::AwaitingReady as i32);
    let second = d1.drv.job(second.id).await?;
    assert_eq!(
        (second.state, second.queue_position),
        (pb::JobState::Queued as i32, 1)
    );
    let queue = d1.drv.queue().await?;
    assert_eq!(queue.active.map(|j| j.id), Some(first.id));

    let owner = if first.owner == "deployer1" { &d1 } else { &d2 };
    let mut one = Driver::new(h.client(), &owner.signed.token);
    let mut two = Driver::new(h.client(), &owner.signed.token);
    let (a, b) = tokio::join!(one.ready(first.id), two.ready(first.id));
    let codes = [
        a.as_ref().err().map(|s| s.code()),
        b.as_ref().err().map(|s| s.code()),
    ];
    assert!(
        codes == [None, Some(Code::FailedPrecondition)]
            || codes == [Some(Code::FailedPrecondition), None],
        "exactly one Ready wins: {a:?} / {b:?}"
    );
    one.wait_prompt(first.id, CONFIRM).await?;
    assert_eq!(h.invocations().len(), 1, "scap started twice");
    one.answer_all(first.id, &[(CONFIRM, "n")]).await?;
    let done = one
        .wait_state(first.id, pb::JobState::AwaitingFinish)
        .await?;
    assert_exited(&done, 0);
    let log = checked_log(&h, &mut one, first.id, 0).await?;
    assert_eq!(
        count(&log, Kind::System, "SpiderPig started scap backport"),
        1
    );
    assert_eq!(h.invocations().len(), 1);
    assert_eq!(one.job(second.id).await?.state, pb::JobState::Queued as i32);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_of_a_finished_backport_asks_for_a_reason_and_refuses_bad_lines()
-> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let mut d1 = user(&h, "deployer1").await?;
    let backport = d1.deploy(&h, &[42], DEPLOY, 0).await?;
    // A code already used (by the submit) is refused, and nothing is queued.
    let used = d1.used_code(&h);
    // Only a finished (done) backport can be reverted.
    let code = d1.fresh_code(&h);
    assert_eq!(
        refused(revert(&mut d1, backport.id, &code).await),
        Code::FailedPrecondition
    );
    d1.finish_and_release(backport.id).await?;

    let replayed = revert(&mut d1, backport.id, &used)
        .await
        .expect_err("replay");
    assert_eq!(ErrorKind::of(&replayed), Some(ErrorKind::TotpReplayed));
    assert!(d1.drv.queue().await?.active.is_none());

    let code = d1.fresh_code(&h);
    let job = revert(&mut d1, backport.id, &code).await?;
    assert_eq!(job.kind, pb::JobKind::Revert as i32);
    assert_eq!(job.reverts_job, backport.id);
    assert_eq!(job.changes, [42]);
    assert_eq!(job.state, pb::JobState::AwaitingReady as i32);
    d1.drv.ready(job.id).await?;
    let prompt = d1.drv.wait_prompt(job.id, REASON).await?;
    assert_eq!(prompt.kind, pb::prompt::Kind::InputLine as i32);
    assert!(prompt.choices.is_empty());
    assert!(
        prompt
            .text
            .contains("Reverted by deployer1@deploy-host via scap backport")
    );
    let too_long = "x".repeat(201);
    for bad in [
        "first\nsecond",
        "carriage\rreturn",
        "bell\u{7}",
        "tab\there",
        "esc\u{1b}[31m",
        &too_long,
    ] {
        let r = d1.drv.respond_line(job.id, prompt.prompt_id, bad).await;
        assert_eq!(refused(r), Code::InvalidArgument, "line {bad:?}");
        still_waiting(&mut d1.drv, job.id, &prompt).await?;
    }
    let r = d1.drv.respond(job.id, prompt.prompt_id, "y").await;
    assert_eq!(
        refused(r),
        Code::InvalidArgument,
        "a choice to a free-text prompt"
    );
    still_waiting(&mut d1.drv, job.id, &prompt).await?;
    let reason = "Broke the main page, see T123456";
    d1.drv
        .respond_line(job.id, prompt.prompt_id, reason)
        .await?;
    let done = d1.answer_to_exit(job.id, DEPLOY).await?;
    assert_exited(&done, 0);
    // The workspace reset and the backport of the revert each run scap prep.
    let log = checked_log(&h, &mut d1.drv, job.id, 4).await?;
    let reasons: Vec<&str> = texts(&log)
        .into_iter()
        .filter(|t| t.contains("Reason for revert:"))
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains(&format!(
        "Reason for revert: deployer1@deploy-host: {reason}"
    )));
    assert!(has_line(&log, "Change 100042 created"));
    assert_eq!(
        count(
            &log,
            Kind::Answer,
            &format!("deployer1 chose: \"{reason}\"")
        ),
        1
    );
    assert!(!has_line(&log, "Invalid choice"));
    let argv = &h.invocations()[1]["argv"];
    assert_eq!(
        argv.as_array().map(|a| a[1..].to_vec()),
        Some(vec!["backport".into(), "--revert".into(), "42".into()])
    );
    d1.finish_and_release(job.id).await?;

    // A revert itself cannot be reverted.
    let code = d1.fresh_code(&h);
    assert_eq!(
        refused(revert(&mut d1, job.id, &code).await),
        Code::FailedPrecondition
    );

    // An empty line is scap's default reason.
    let code = d1.fresh_code(&h);
    let again = revert(&mut d1, backport.id, &code).await?;
    d1.drv.ready(again.id).await?;
    let prompt = d1.drv.wait_prompt(again.id, REASON).await?;
    d1.drv.respond_line(again.id, prompt.prompt_id, "").await?;
    let done = d1.answer_to_exit(again.id, &[(CONFIRM, "n")]).await?;
    assert_exited(&done, 0);
    let log = checked_log(&h, &mut d1.drv, again.id, 2).await?;
    assert!(has_line(
        &log,
        "Reason for revert: Reverted by deployer1@deploy-host via scap backport"
    ));
    assert_eq!(
        count(&log, Kind::Answer, "deployer1 chose: (scap's default)"),
        1
    );
    assert!(has_line(&log, "Backport cancelled"));
    d1.finish_and_release(again.id).await
}
