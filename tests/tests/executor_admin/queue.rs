//! `ctl status`, `ctl queue`, `ctl queue move`, `ctl queue remove`.

use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::event::Kind;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_version_lock_queue_sessions_watchers_and_state_file() -> anyhow::Result<()>
{
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let db = h.config.database_path().display().to_string();

    let idle = ctl.ok(&["status"]).await;
    assert_eq!(field(&idle, "version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(field(&idle, "state file"), db);
    assert_eq!(field(&idle, "lock"), "free");
    assert_eq!(field(&idle, "queued"), "0");
    assert_eq!(field(&idle, "sessions"), "0");
    assert_eq!(field(&idle, "watchers"), "0");
    assert_eq!(field(&idle, "freeze"), "none");

    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?;
    let j2 = d2.submit(&h, &[43]).await?;
    let _tab = Watch::open(&h, &d2.user.token).await?;

    let busy = ctl.ok(&["status"]).await;
    assert!(
        field(&busy, "lock").starts_with(&format!("job {} of deployer1 (awaiting_ready", j1.id)),
        "{busy}"
    );
    assert_eq!(field(&busy, "queued"), "1");
    assert_eq!(field(&busy, "sessions"), "2");
    assert_eq!(field(&busy, "watchers"), "1");

    let s = ctl.json(&["status"]).await;
    assert_eq!(text(&s["version"]), env!("CARGO_PKG_VERSION"));
    assert_eq!(text(&s["state_file"]), db);
    assert_eq!(int(&s["active"]["id"]), j1.id);
    assert_eq!(text(&s["active"]["owner"]), "deployer1");
    assert_eq!(text(&s["active"]["state"]), "awaiting_ready");
    assert_eq!(int(&s["queued"]), 1);
    assert_eq!(int(&s["sessions"]), 2);
    assert_eq!(int(&s["watchers"]), 1);
    assert_eq!(s["freeze"]["active"], false);
    assert_eq!(queued_ids(&queue(&h).await?), vec![j2.id]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_lists_the_lock_holder_then_each_queued_job_with_its_position() -> anyhow::Result<()>
{
    let h = start().await?;
    let ctl = Ctl::new(&h);
    assert!(
        ctl.ok(&["queue"])
            .await
            .contains("The lock is free and the queue is empty.")
    );

    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42, 43]).await?;
    let j2 = d2.submit(&h, &[44]).await?;
    let j3 = d1.submit(&h, &[45]).await?;

    let table = ctl.ok(&["queue"]).await;
    assert_eq!(field(&table, "freeze"), "none");
    let lock = row(&table, "lock", &j1.id.to_string());
    assert_eq!(lock[2..6], ["deployer1", "backport", "42,", "43"]);
    assert_eq!(lock[6], "awaiting_ready");
    let first = row(&table, "1", &j2.id.to_string());
    assert_eq!(first[2..6], ["deployer2", "backport", "44", "queued"]);
    let second = row(&table, "2", &j3.id.to_string());
    assert_eq!(second[2..6], ["deployer1", "backport", "45", "queued"]);

    let q = ctl.json(&["queue"]).await;
    assert_eq!(int(&q["active"]["id"]), j1.id);
    assert_eq!(q["active"]["changes"], serde_json::json!([42, 43]));
    let queued: Vec<(u64, u64)> = q["queued"]
        .as_array()
        .expect("queued")
        .iter()
        .map(|j| (int(&j["id"]), int(&j["queue_position"])))
        .collect();
    assert_eq!(queued, vec![(j2.id, 1), (j3.id, 2)]);
    assert_eq!(q["freeze"]["active"], false);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_move_reorders_the_queue_and_open_watch_streams_see_the_new_order()
-> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?;
    let j2 = d2.submit(&h, &[43]).await?;
    let j3 = d1.submit(&h, &[44]).await?;
    let j4 = d2.submit(&h, &[45]).await?;
    assert_eq!(queued_ids(&queue(&h).await?), vec![j2.id, j3.id, j4.id]);
    let mut tab = Watch::open(&h, &d2.user.token).await?;

    let (id4, id2) = (j4.id.to_string(), j2.id.to_string());
    let out = ctl
        .ok(&["queue", "move", &id4, "1", "--reason", "security fix first"])
        .await;
    row(&out, "1", &id4);
    row(&out, "2", &id2);
    row(&out, "3", &j3.id.to_string());
    let want = vec![j4.id, j2.id, j3.id];
    let seen = tab.queue_where(PROMPTLY, |q| queued_ids(q) == want).await?;
    let positions: Vec<u32> = seen.queued.iter().map(|j| j.queue_position).collect();
    assert_eq!(positions, vec![1, 2, 3]);
    assert_eq!(d2.driver.job(j4.id).await?.queue_position, 1);

    // A place past the end means last; the JSON answer is the new queue.
    let q = ctl
        .json(&["queue", "move", &id2, "99", "--reason", "owner asked"])
        .await;
    let ids: Vec<u64> = q["queued"]
        .as_array()
        .expect("queued")
        .iter()
        .map(|j| int(&j["id"]))
        .collect();
    assert_eq!(ids, vec![j4.id, j3.id, j2.id]);
    tab.queue_where(PROMPTLY, |q| queued_ids(q) == ids).await?;

    // The lock holder is not in the queue: refused, nothing moves.
    let refused = ctl
        .fails(&["queue", "move", &j1.id.to_string(), "1", "--reason", "x"])
        .await;
    assert!(refused.stderr.contains("is not queued"), "{refused:?}");
    assert_eq!(queued_ids(&queue(&h).await?), vec![j4.id, j3.id, j2.id]);

    let moves = audited(&h, "admin.queue_move").await?;
    let moves: Vec<(&str, &str, &str)> = moves
        .iter()
        .filter(|r| r.success)
        .map(|r| (r.actor.as_str(), r.target.as_str(), r.reason.as_str()))
        .collect();
    let (t1, t2) = (
        format!("job {id4} to place 1"),
        format!("job {id2} to place 3"),
    );
    assert_eq!(
        moves,
        vec![
            ("admin:root", t1.as_str(), "security fix first"),
            ("admin:root", t2.as_str(), "owner asked"),
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_remove_cancels_the_job_and_its_owner_sees_it_at_once() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?;
    let j2 = d2.submit(&h, &[43]).await?;
    let j3 = d1.submit(&h, &[44]).await?;
    let mut owner_tab = Watch::open(&h, &d2.user.token).await?;

    let q = ctl
        .json(&[
            "queue",
            "remove",
            &j2.id.to_string(),
            "--reason",
            "wrong branch",
        ])
        .await;
    assert_eq!(int(&q["active"]["id"]), j1.id);
    let ids: Vec<u64> = q["queued"]
        .as_array()
        .expect("queued")
        .iter()
        .map(|j| int(&j["id"]))
        .collect();
    assert_eq!(ids, vec![j3.id]);

    let seen = owner_tab
        .expect(PROMPTLY, |k| match k {
            Kind::Job(pb::JobChanged { job: Some(j) }) if j.id == j2.id => Some(j.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(seen.state, pb::JobState::Cancelled as i32);
    let job = d2.driver.job(j2.id).await?;
    assert_eq!(job.state, pb::JobState::Cancelled as i32);
    assert!(job.outcome.contains("wrong branch"), "{}", job.outcome);
    assert_eq!(job.queue_position, 0);
    assert_eq!(d1.state(j1.id).await?, pb::JobState::AwaitingReady);

    // Removing it again is refused and changes nothing.
    let again = ctl
        .fails(&["queue", "remove", &j2.id.to_string(), "--reason", "x"])
        .await;
    assert!(again.stderr.starts_with("error: "), "{again:?}");
    assert_eq!(queued_ids(&queue(&h).await?), vec![j3.id]);

    let removals: Vec<_> = audited(&h, "admin.queue_remove")
        .await?
        .into_iter()
        .filter(|r| r.success)
        .collect();
    assert_eq!(removals.len(), 1);
    assert_eq!(removals[0].actor, "admin:root");
    assert_eq!(removals[0].target, format!("job {}", j2.id));
    assert_eq!(removals[0].reason, "wrong branch");
    Ok(())
}
