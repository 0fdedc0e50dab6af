//! The whole deployment flow through the executor with no web process: a
//! test client calls `Deployer` as spiderpig-web would.

use spiderpig_proto::v1 as pb;
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::{Harness, HarnessOptions};

const SECRET_FRAGMENT: &str = "/srv/patches/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployers_queue_deploy_and_hand_over_the_lock() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let d2 = h.login("deployer2", "deployer2-pass").await?;
    let mut c1 = Driver::new(h.client(), &d1.token);
    let mut c2 = Driver::new(h.client(), &d2.token);

    // deployer1 queues two changes: the lock is free, so they are asked at once.
    let job1 = c1.submit(&[42, 43], &h.totp(&d1.secret, 1)).await?;
    assert_eq!(job1.owner, "deployer1");
    assert_eq!(job1.changes, vec![42, 43]);
    assert_eq!(job1.state, pb::JobState::AwaitingReady as i32);

    // deployer2 queues behind and sees their place.
    let job2 = c2.submit(&[44], &h.totp(&d2.secret, 1)).await?;
    assert_eq!(job2.state, pb::JobState::Queued as i32);
    assert_eq!(job2.queue_position, 1);
    let queue = c2.queue().await?;
    assert_eq!(queue.active.as_ref().map(|j| j.id), Some(job1.id));

    // deployer2 cannot press Ready or answer for deployer1.
    let refused = c2.ready(job1.id).await.expect_err("not their job");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        c1.job(job1.id).await?.state,
        pb::JobState::AwaitingReady as i32
    );

    c1.ready(job1.id).await?;
    c1.answer_all(
        job1.id,
        &[
            ("Backport the changes?", "y"),
            ("Continue with deployment?", "y"),
        ],
    )
    .await?;
    let done = c1.wait_state(job1.id, pb::JobState::AwaitingFinish).await?;
    assert!(done.has_exit_code);
    assert_eq!(done.exit_code, 0);
    assert_eq!(done.stage, pb::Stage::Complete as i32);
    let stages: Vec<i32> = done.stage_marks.iter().map(|m| m.stage).collect();
    for s in [
        pb::Stage::Merge,
        pb::Stage::TestServers,
        pb::Stage::Canaries,
        pb::Stage::Production,
    ] {
        assert!(
            stages.contains(&(s as i32)),
            "stage {s:?} missing from {stages:?}"
        );
    }

    // The redacted log: placeholders, never the patch paths, seq without gaps.
    let log = c2.log(job1.id).await?;
    assert!(!log.is_empty());
    for (i, rec) in log.iter().enumerate() {
        assert_eq!(rec.seq, i as u64 + 1, "gap or duplicate in the log");
        assert!(!rec.text.contains(SECRET_FRAGMENT), "leaked: {}", rec.text);
        assert!(rec.sensitive_lines.is_empty());
    }
    let placeholders = log
        .iter()
        .filter(|r| r.kind == pb::log_record::Kind::Redacted as i32)
        .count();
    assert!(placeholders >= 1);

    // The lock stays with deployer1 until Finish; then deployer2 is asked.
    assert_eq!(c2.job(job2.id).await?.state, pb::JobState::Queued as i32);
    c1.finish(job1.id).await?;
    assert_eq!(c1.job(job1.id).await?.state, pb::JobState::Done as i32);
    let next = c2.job(job2.id).await?;
    assert_eq!(next.state, pb::JobState::AwaitingReady as i32);
    Ok(())
}
