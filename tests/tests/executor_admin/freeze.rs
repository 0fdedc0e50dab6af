//! `ctl freeze`, `ctl freeze --until`, `ctl unfreeze`.

use spiderpig_executor::clock::{Clock, SystemClock};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::event::Kind;
use spiderpig_tests::executor::Harness;

use crate::support::*;

/// The next FreezeChanged event on a stream.
async fn freeze_event(tab: &mut Watch) -> anyhow::Result<pb::Freeze> {
    tab.expect(PROMPTLY, |k| match k {
        Kind::Freeze(pb::FreezeChanged { freeze: Some(f) }) => Some(f.clone()),
        _ => None,
    })
    .await
}

/// deployer1's job is done with scap and holds the lock (awaiting_finish);
/// deployer2's job waits behind it.
async fn lock_held_and_one_waiting(h: &Harness) -> anyhow::Result<(Person, Person, u64, u64)> {
    let mut d1 = sign_in(h, "deployer1").await?;
    let mut d2 = sign_in(h, "deployer2").await?;
    let j1 = d1.submit(h, &[42]).await?.id;
    d1.deploy(j1).await?;
    let j2 = d2.submit(h, &[43]).await?.id;
    assert_eq!(d2.state(j2).await?, pb::JobState::Queued);
    Ok((d1, d2, j1, j2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_holds_the_queue_and_unfreeze_resumes_it() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let (mut d1, mut d2, j1, j2) = lock_held_and_one_waiting(&h).await?;
    let mut tab = Watch::open(&h, &d2.user.token).await?;

    let out = ctl
        .ok(&["freeze", "--reason", "train deploy at 18:00"])
        .await;
    assert_eq!(field(&out, "freeze"), "ACTIVE: no deployment starts");
    assert_eq!(field(&out, "reason"), "train deploy at 18:00");
    assert_eq!(field(&out, "by"), "root");
    assert_eq!(field(&out, "until"), "unfrozen");
    let f = freeze_event(&mut tab).await?;
    assert!(f.active);
    assert_eq!(f.reason, "train deploy at 18:00");
    assert_eq!(f.by, "root");
    assert_eq!(f.until_ms, 0);
    let status = ctl.ok(&["status"]).await;
    assert_eq!(field(&status, "freeze"), "ACTIVE: no deployment starts");

    // The lock is freed, and still nobody is promoted.
    d1.driver.finish(j1).await?;
    assert_eq!(d1.state(j1).await?, pb::JobState::Done);
    h.engine().tick()?;
    assert_eq!(d2.state(j2).await?, pb::JobState::Queued);
    let q = ctl.json(&["queue"]).await;
    assert!(q["active"].is_null(), "{q}");
    assert_eq!(q["freeze"]["active"], true);
    assert_eq!(text(&q["freeze"]["reason"]), "train deploy at 18:00");

    let f = ctl.json(&["unfreeze", "--reason", "train is out"]).await;
    assert_eq!(f["active"], false);
    assert!(!freeze_event(&mut tab).await?.active);
    let promoted = tab
        .expect(PROMPTLY, |k| match k {
            Kind::Job(pb::JobChanged { job: Some(j) }) if j.id == j2 => Some(j.state),
            _ => None,
        })
        .await?;
    assert_eq!(promoted, pb::JobState::AwaitingReady as i32);
    assert_eq!(field(&ctl.ok(&["status"]).await, "freeze"), "none");

    let audit = audit(&h).await?;
    let admin: Vec<(&str, &str, &str)> = audit
        .iter()
        .filter(|r| r.action.starts_with("admin."))
        .map(|r| (r.actor.as_str(), r.action.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        admin,
        vec![
            ("admin:root", "admin.freeze", "train deploy at 18:00"),
            ("admin:root", "admin.unfreeze", "train is out"),
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_until_ends_by_itself_once_the_clock_passes_it() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let (mut d1, mut d2, j1, j2) = lock_held_and_one_waiting(&h).await?;
    let mut tab = Watch::open(&h, &d2.user.token).await?;

    // ctl turns the duration into a time on the host's clock.
    let before = SystemClock.now_ms();
    let f = ctl
        .json(&["freeze", "--reason", "lunch", "--until", "30m"])
        .await;
    let after = SystemClock.now_ms();
    let until = f["until_ms"].as_i64().expect("until_ms");
    let half_hour = 30 * 60 * 1000;
    assert!(
        (before + half_hour..=after + half_hour).contains(&until),
        "{f}"
    );
    assert_eq!(f["active"], true);
    assert_eq!(freeze_event(&mut tab).await?.until_ms, until);
    let table = ctl.ok(&["status"]).await;
    assert_ne!(field(&table, "until"), "unfrozen");

    d1.driver.finish(j1).await?;
    h.clock.set_ms(until - 1000);
    h.engine().tick()?;
    assert_eq!(d2.state(j2).await?, pb::JobState::Queued);
    assert_eq!(ctl.json(&["status"]).await["freeze"]["active"], true);

    h.clock.set_ms(until + 1000);
    h.engine().tick()?;
    assert!(!freeze_event(&mut tab).await?.active);
    assert_eq!(d2.state(j2).await?, pb::JobState::AwaitingReady);
    assert_eq!(field(&ctl.ok(&["status"]).await, "freeze"), "none");
    let ended = audited(&h, "freeze.end").await?;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].actor, "system");

    // A time in the past is a usage error: nothing is sent, nothing changes.
    let past = ctl
        .run(&["freeze", "--reason", "x", "--until", "2001-01-01T00:00:00Z"])
        .await;
    assert_eq!(past.code, Some(2), "{past:?}");
    assert!(past.stderr.contains("is in the past"), "{past:?}");
    assert_eq!(ctl.json(&["status"]).await["freeze"]["active"], false);
    Ok(())
}
