//! `ctl release`, `ctl interrupt`, `ctl finish`, `ctl jobs`, `ctl log`.

use spiderpig_proto::v1 as pb;

use crate::support::*;

/// What the redaction must never let out of the executor for users.
const PATCH_DIR: &str = "/srv/patches/";
const PLACEHOLDER: &str = "<sensitive information hidden>";

fn ids(v: &serde_json::Value) -> Vec<u64> {
    v["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| int(&j["id"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_frees_the_lock_of_a_job_awaiting_finish() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?.id;
    d1.deploy(j1).await?;
    let j2 = d2.submit(&h, &[43]).await?.id;

    let job = ctl
        .json(&["release", &j1.to_string(), "--reason", "owner went home"])
        .await;
    assert_eq!(int(&job["id"]), j1);
    assert_eq!(text(&job["state"]), "done");
    assert_eq!(text(&job["finished_by"]), "admin:root");
    assert!(text(&job["outcome"]).contains("owner went home"), "{job}");
    assert_eq!(d2.state(j2).await?, pb::JobState::AwaitingReady);
    let status = ctl.ok(&["status"]).await;
    assert!(
        field(&status, "lock").starts_with(&format!("job {j2} of deployer2")),
        "{status}"
    );

    let released = audited(&h, "admin.release").await?;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].actor, "admin:root");
    assert_eq!(released[0].target, format!("job {j1}"));
    assert_eq!(released[0].reason, "owner went home");
    assert!(released[0].success);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_is_refused_while_scap_runs_and_nothing_changes() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[12005]).await?.id;
    d1.start_hanging(j1).await?;
    let j2 = d2.submit(&h, &[43]).await?.id;
    let before = audit(&h).await?.len();

    let refused = ctl
        .fails(&["release", &j1.to_string(), "--reason", "impatient"])
        .await;
    assert!(refused.stderr.starts_with("error: "), "{refused:?}");
    assert!(refused.stderr.contains("running"), "{refused:?}");
    assert_eq!(d1.state(j1).await?, pb::JobState::Running);
    assert_eq!(d2.state(j2).await?, pb::JobState::Queued);
    let status = ctl.json(&["status"]).await;
    assert_eq!(int(&status["active"]["id"]), j1);
    assert!(
        audit(&h).await?.iter().skip(before).all(|r| !r.success),
        "a refusal records no successful action"
    );

    // Stop the hanging scap so the test leaves no process behind.
    ctl.ok(&["interrupt", &j1.to_string(), "--reason", "test over"])
        .await;
    d1.driver
        .wait_state(j1, pb::JobState::AwaitingFinish)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_makes_a_hanging_scap_exit_130_and_admin_finish_frees_the_lock()
-> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[12005]).await?.id;
    d1.start_hanging(j1).await?;
    let j2 = d2.submit(&h, &[43]).await?.id;
    let id = j1.to_string();

    let job = ctl
        .json(&["interrupt", &id, "--reason", "stuck waiting for Gerrit"])
        .await;
    assert_eq!(int(&job["id"]), j1);
    let ended = d1
        .driver
        .wait_state(j1, pb::JobState::AwaitingFinish)
        .await?;
    assert!(ended.has_exit_code);
    assert_eq!(ended.exit_code, 130);
    assert_eq!(
        d2.state(j2).await?,
        pb::JobState::Queued,
        "the lock is held"
    );
    let log = ctl.ok(&["log", &id]).await;
    assert!(
        log.contains("admin:root interrupted scap (SIGINT)"),
        "{log}"
    );
    assert!(log.contains("stuck waiting for Gerrit"), "{log}");

    let out = ctl
        .ok(&["finish", &id, "--reason", "production checked"])
        .await;
    let cells = row(&out, &id, "deployer1");
    assert_eq!(cells[4], "done", "{out}");
    assert_eq!(field(&out, "finished by"), "admin:root");
    assert_eq!(d1.state(j1).await?, pb::JobState::Done);
    assert_eq!(d2.state(j2).await?, pb::JobState::AwaitingReady);

    let records = audit(&h).await?;
    let by_admin: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.actor == "admin:root")
        .map(|r| (r.action.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        by_admin,
        vec![
            ("job.interrupt", "stuck waiting for Gerrit"),
            ("job.finish", "production checked"),
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_lists_history_newest_first_with_user_state_and_page_filters() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?.id;
    d1.deploy(j1).await?;
    d1.driver.finish(j1).await?;
    let j2 = d2.submit(&h, &[43]).await?.id; // promoted: awaiting_ready
    let j3 = d2.submit(&h, &[44]).await?.id; // queued
    let j4 = d1.submit(&h, &[45]).await?.id;
    d1.driver.cancel(j4).await?;

    let all = ctl.json(&["jobs"]).await;
    assert_eq!(ids(&all), vec![j4, j3, j2, j1]);
    assert_eq!(int(&all["next_before_job_id"]), 0);
    let states: Vec<&str> = all["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| text(&j["state"]))
        .collect();
    assert_eq!(states, ["cancelled", "queued", "awaiting_ready", "done"]);

    assert_eq!(
        ids(&ctl.json(&["jobs", "--user", "deployer2"]).await),
        vec![j3, j2]
    );
    assert_eq!(
        ids(&ctl
            .json(&["jobs", "--state", "queued,awaiting_ready"])
            .await),
        vec![j3, j2]
    );
    assert_eq!(
        ids(&ctl
            .json(&["jobs", "--state", "done", "--state", "cancelled"])
            .await),
        vec![j4, j1]
    );
    assert_eq!(
        ids(&ctl
            .json(&["jobs", "--user", "deployer1", "--state", "done"])
            .await),
        vec![j1]
    );

    let page = ctl.json(&["jobs", "--limit", "2"]).await;
    assert_eq!(ids(&page), vec![j4, j3]);
    let next = int(&page["next_before_job_id"]);
    assert_eq!(next, j3);
    assert_eq!(
        ids(&ctl.json(&["jobs", "--before", &next.to_string()]).await),
        vec![j2, j1]
    );

    let table = ctl.ok(&["jobs", "--limit", "2"]).await;
    assert!(
        table.ends_with(&format!("More: --before {j3}\n")),
        "{table}"
    );
    let done = ctl.ok(&["jobs", "--state", "done"]).await;
    let cells = row(&done, &j1.to_string(), "deployer1");
    assert_eq!(cells[2..5], ["backport", "42", "done"]);
    assert_eq!(ctl.ok(&["jobs", "--user", "admin1"]).await, "No jobs.\n");

    // Bad filters: clap refuses an unknown state, the executor a bad name.
    assert_eq!(ctl.run(&["jobs", "--state", "bogus"]).await.code, Some(2));
    let bad = ctl.fails(&["jobs", "--user", "Not A User"]).await;
    assert!(bad.stderr.contains("invalid user name"), "{bad:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_hides_patch_lines_unless_include_sensitive_which_is_marked_and_audited()
-> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let j1 = d1.submit(&h, &[42]).await?.id;
    d1.deploy(j1).await?;
    let id = j1.to_string();

    let plain = ctl.ok(&["log", &id]).await;
    assert!(!plain.contains(PATCH_DIR), "leaked:\n{plain}");
    assert!(plain.contains(PLACEHOLDER), "{plain}");
    assert!(!plain.contains("[sensitive]"), "{plain}");
    assert!(plain.contains("[prompt] Backport the changes?"), "{plain}");

    let lines = ctl.ok(&["--json", "log", &id]).await;
    assert!(!lines.contains(PATCH_DIR), "leaked:\n{lines}");
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(int(&r["seq"]), i as u64 + 1, "gap or duplicate");
        assert!(r.get("sensitive_lines").is_none(), "{r}");
    }
    assert!(records.iter().any(|r| r["kind"] == "redacted"));
    assert!(audited(&h, "admin.log_sensitive").await?.is_empty());

    // A reason is required, and a refusal shows nothing.
    let refused = ctl.run(&["log", &id, "--include-sensitive"]).await;
    assert_eq!(refused.code, Some(2), "a usage error: {refused:?}");
    assert!(refused.stderr.contains("--reason"), "{refused:?}");
    assert!(!refused.stdout.contains(PATCH_DIR));
    assert!(audited(&h, "admin.log_sensitive").await?.is_empty());

    let why = ["--reason", "incident 7: what did the patch touch"];
    let full = ctl
        .ok(&["log", &id, "--include-sensitive", why[0], why[1]])
        .await;
    assert!(full.contains(PLACEHOLDER), "{full}");
    let hidden: Vec<&str> = full.lines().filter(|l| l.contains(PATCH_DIR)).collect();
    assert!(!hidden.is_empty(), "the hidden lines are shown:\n{full}");
    for line in &hidden {
        assert!(line.starts_with("[sensitive] "), "unmarked: {line}");
    }
    let opened = audited(&h, "admin.log_sensitive").await?;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].actor, "admin:root");
    assert!(
        opened[0]
            .target
            .starts_with(&format!("job {j1} records 1-")),
        "{:?}",
        opened[0]
    );
    assert_eq!(opened[0].reason, why[1]);

    let json = ["--json", "log", &id, "--include-sensitive", why[0], why[1]];
    let lines = ctl.ok(&json).await;
    let with_hidden = lines
        .lines()
        .map(serde_json::from_str::<serde_json::Value>)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|r| r["kind"] == "redacted")
        .flat_map(|r| r["sensitive_lines"].as_array().cloned().unwrap_or_default())
        .filter(|l| text(l).contains(PATCH_DIR))
        .count();
    assert_eq!(with_hidden, hidden.len());
    assert_eq!(audited(&h, "admin.log_sensitive").await?.len(), 2);

    // F5: a read that starts after the first record is audited too, with
    // the records it returned.
    let from_two = [
        "log",
        &id,
        "--include-sensitive",
        why[0],
        why[1],
        "--after",
        "1",
    ];
    let later = ctl.ok(&from_two).await;
    assert_eq!(
        later.lines().filter(|l| l.contains(PATCH_DIR)).count(),
        hidden.len(),
        "the hidden lines are shown:\n{later}"
    );
    let opened = audited(&h, "admin.log_sensitive").await?;
    assert_eq!(opened.len(), 3);
    assert!(
        opened[2]
            .target
            .starts_with(&format!("job {j1} records 2-")),
        "{:?}",
        opened[2]
    );

    // The executor requires the reason itself: without one, a refusal is
    // audited and no record is returned.
    let bare = h
        .admin()
        .admin_get_log(pb::AdminGetLogRequest {
            job_id: j1,
            include_sensitive: true,
            ..Default::default()
        })
        .await
        .expect_err("a sensitive read without a reason");
    assert_eq!(bare.code(), tonic::Code::InvalidArgument, "{bare:?}");
    let opened = audited(&h, "admin.log_sensitive").await?;
    assert_eq!(opened.len(), 4);
    assert!(!opened[3].success, "{:?}", opened[3]);

    // What users get is still redacted after an admin looked.
    let for_users = d1.driver.log(j1).await?;
    assert!(
        for_users
            .iter()
            .all(|r| !r.text.contains(PATCH_DIR) && r.sensitive_lines.is_empty())
    );
    Ok(())
}
