//! Catalogue cases 30, 31, 33, 34 and the watch-stream guarantees, through
//! the executor's real sockets. Every refusal also checks that nothing
//! happened: no job, no scap process.

use std::collections::BTreeSet;
use std::time::Duration;

use spiderpig_proto::v1 as pb;
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::{Harness, HarnessOptions, SignedIn};
use tokio_stream::StreamExt;

async fn queue_is_empty(h: &Harness) -> bool {
    let q = h
        .admin()
        .list_queue(pb::ListQueueRequest {})
        .await
        .unwrap()
        .into_inner();
    q.active.is_none() && q.queued.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_change_lists_are_refused_and_nothing_is_spawned() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let hundred: Vec<u64> = (1..=100).collect();
    let cases: Vec<(&str, Vec<u64>)> = vec![
        ("empty list", vec![]),
        ("zero", vec![0]),
        ("eleven changes", (1..=11).collect()),
        ("a hundred changes", hundred),
        ("duplicates", vec![42, 42]),
    ];
    for (what, changes) in cases {
        let err = c
            .submit_unchecked(&changes, &h.totp(&d1.secret, 1))
            .await
            .expect_err(what);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{what}: {err:?}");
    }
    // Strings like `123; rm -rf /`, `$(id)`, `-h` never reach the executor as
    // numbers: the proto has no string field for changes. The policy crate's
    // parser refuses them (its own tests); here the wire types make sure.
    assert!(queue_is_empty(&h).await, "a job was queued");
    assert!(h.invocations().is_empty(), "scap was spawned");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scap_is_spawned_with_exactly_the_allowlisted_argv_and_environment() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[42, 1043], &h.totp(&d1.secret, 1)).await?;
    c.ready(job.id).await?;
    c.answer_all(job.id, &[("Backport the changes?", "n")])
        .await?;
    c.wait_state(job.id, pb::JobState::AwaitingFinish).await?;

    let calls = h.invocations();
    assert_eq!(calls.len(), 1, "exactly one scap process");
    let call = &calls[0];
    let scap = h.config.scap.path.clone();
    assert_eq!(
        call["argv"],
        serde_json::json!([scap, "backport", "42", "1043"])
    );
    let env = call["env"].as_object().expect("env object");
    let names: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let allowed: BTreeSet<&str> = [
        "FORCE_COLOR",
        "HOME",
        "LANG",
        "PATH",
        "SPIDERPIG_IO_KEY",
        "SPIDERPIG_REAL_USER",
        "SSH_AUTH_SOCK",
    ]
    .into_iter()
    .collect();
    assert_eq!(names, allowed, "environment is not exactly the allowlist");
    assert_eq!(env["SPIDERPIG_REAL_USER"], "deployer1");
    assert_eq!(env["FORCE_COLOR"], "1");
    assert_eq!(env["HOME"], h.config.scap.home.as_str());
    let key = env["SPIDERPIG_IO_KEY"].as_str().unwrap();
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(call["cwd"], h.config.scap.working_dir.display().to_string());
    assert_eq!(
        call["pid"], call["pgid"],
        "scap must lead its own process group"
    );
    assert_eq!(call["stdin_is_pipe"], true);
    assert_eq!(call["stdin_is_tty"], false);

    // The I/O key never shows in the log users see.
    let log = c.log(job.id).await?;
    assert!(log.iter().all(|r| !r.text.contains(key)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_and_unknown_enum_values_are_refused() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut client = h.deployer();
    // A request larger than the 1 MiB limit.
    let huge = pb::SubmitJobRequest {
        ctx: Some(pb::RequestContext {
            client_addr: "x".repeat(2 * 1024 * 1024),
            ..Default::default()
        }),
        session: d1.session(),
        changes: vec![42],
        totp_code: h.totp(&d1.secret, 1),
    };
    let err = client.submit_job(huge).await.expect_err("oversized");
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{err:?}"
    );
    // An unknown job state in a filter.
    let err = client
        .list_jobs(pb::ListJobsRequest {
            ctx: None,
            session: d1.session(),
            page_size: 10,
            before_job_id: 0,
            owner: String::new(),
            states: vec![99],
        })
        .await
        .expect_err("unknown enum");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // Over-long context fields are refused, not truncated.
    let err = client
        .get_queue(pb::GetQueueRequest {
            ctx: Some(pb::RequestContext {
                client_addr: "a".repeat(65),
                ..Default::default()
            }),
            session: d1.session(),
        })
        .await
        .expect_err("long client_addr");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(queue_is_empty(&h).await);
    assert!(h.invocations().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_never_give_two_lock_holders() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let users = [
        ("deployer1", "deployer1-pass"),
        ("deployer2", "deployer2-pass"),
        ("admin1", "admin1-pass"),
    ];
    let mut signed = Vec::new();
    for (u, p) in users {
        signed.push(h.login(u, p).await?);
    }
    let mut tasks = Vec::new();
    for s in &signed {
        let mut c = Driver::new(h.client(), &s.token);
        let code = h.totp(&s.secret, 1);
        tasks.push(tokio::spawn(async move { c.submit(&[42], &code).await }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await??.id);
    }
    let q = h
        .admin()
        .list_queue(pb::ListQueueRequest {})
        .await?
        .into_inner();
    let holders: Vec<u64> = q.active.iter().map(|j| j.id).collect();
    assert_eq!(holders.len(), 1, "exactly one job holds the lock");
    assert_eq!(q.queued.len(), 2);
    let positions: Vec<u32> = q.queued.iter().map(|j| j.queue_position).collect();
    assert_eq!(positions, vec![1, 2]);
    let mut seen: Vec<u64> = holders
        .into_iter()
        .chain(q.queued.iter().map(|j| j.id))
        .collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    Ok(())
}

/// A client whose HTTP/2 windows are tiny, so that not reading stalls the
/// stream quickly instead of filling megabytes of transport buffers.
fn small_window_client(
    path: &std::path::Path,
) -> spiderpig_proto::v1::deployer_client::DeployerClient<tonic::transport::Channel> {
    let endpoint = tonic::transport::Endpoint::from_static("http://executor")
        .initial_stream_window_size(Some(16 * 1024))
        .initial_connection_window_size(Some(16 * 1024));
    let channel = spiderpig_client::unix_channel_on(endpoint, path.to_path_buf());
    spiderpig_proto::v1::deployer_client::DeployerClient::new(channel)
}

/// A watch of `job` from its first record.
fn watch_from_start(session: Option<pb::Session>, job_id: u64) -> pb::WatchRequest {
    pb::WatchRequest {
        ctx: None,
        session,
        job_id,
        after_seq: 0,
        logs_only: false,
        session_ends: false,
    }
}

/// A harness whose watch streams buffer 16 events and whose fake-scap floods
/// `lines` lines at once; deployer1 signed in with a flood job (1006) queued.
async fn flood_job(lines: u64) -> anyhow::Result<(Harness, SignedIn, Driver, pb::Job)> {
    let opts = HarnessOptions {
        watch_buffer: 16,
        fake_scap: serde_json::json!({"pace": "instant", "flood_lines": lines}),
        ..Default::default()
    };
    let h = Harness::start(opts).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[1006], &h.totp(&d1.secret, 1)).await?;
    Ok((h, d1, c, job))
}

/// Collect log records from a watch stream until `last` arrives.
async fn collect_until(
    stream: &mut tonic::Streaming<pb::Event>,
    last: u64,
) -> anyhow::Result<(Vec<u64>, bool)> {
    let mut seqs = Vec::new();
    let mut skipped = false;
    while seqs.last().copied().unwrap_or(0) < last {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("stream ended"))??;
        match ev.kind {
            Some(pb::event::Kind::Log(l)) => seqs.extend(l.records.iter().map(|r| r.seq)),
            Some(pb::event::Kind::Skipped(s)) => {
                skipped = true;
                seqs.push(s.next_seq - 1);
            }
            _ => {}
        }
    }
    Ok((seqs, skipped))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_replays_from_any_seq_with_no_gap_and_no_duplicate() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[42], &h.totp(&d1.secret, 1)).await?;
    // A watcher attached before the run sees every record live.
    let mut live = h
        .deployer()
        .watch(watch_from_start(d1.session(), job.id))
        .await?
        .into_inner();
    c.ready(job.id).await?;
    c.answer_all(
        job.id,
        &[
            ("Backport the changes?", "y"),
            ("Continue with deployment?", "y"),
        ],
    )
    .await?;
    let done = c.wait_state(job.id, pb::JobState::AwaitingFinish).await?;
    let last = done.last_seq;
    assert!(last > 20, "a real run logs more than {last} records");
    let (seqs, skipped) = collect_until(&mut live, last).await?;
    assert!(!skipped);
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());

    // Reconnects from several points get exactly the rest.
    for after in [0, 1, last / 2, last - 1] {
        let mut s = h
            .deployer()
            .watch(pb::WatchRequest {
                ctx: None,
                session: d1.session(),
                job_id: job.id,
                after_seq: after,
                logs_only: false,
                session_ends: false,
            })
            .await?
            .into_inner();
        let (seqs, _) = collect_until(&mut s, last).await?;
        assert_eq!(
            seqs,
            (after + 1..=last).collect::<Vec<_>>(),
            "resume after {after}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_does_not_read_is_told_it_skipped_and_does_not_slow_others()
-> anyhow::Result<()> {
    let (h, d1, mut c, job) = flood_job(20000).await?;
    let mut slow = small_window_client(&h.config.sockets.executor)
        .watch(watch_from_start(d1.session(), job.id))
        .await?
        .into_inner();
    let mut fast = h
        .deployer()
        .watch(watch_from_start(d1.session(), job.id))
        .await?
        .into_inner();
    c.ready(job.id).await?;
    // This watcher reads all the time; it must get an increasing stream of
    // records (with at most a skip notice if the machine is very busy).
    let (last_tx, mut last_rx) = tokio::sync::oneshot::channel::<u64>();
    let reader = tokio::spawn(async move {
        let mut seqs: Vec<u64> = Vec::new();
        let mut last = u64::MAX;
        while seqs.last().copied().unwrap_or(0) < last {
            if let Ok(l) = last_rx.try_recv() {
                last = l;
                continue;
            }
            let Ok(Some(Ok(ev))) =
                tokio::time::timeout(Duration::from_millis(500), fast.next()).await
            else {
                continue;
            };
            match ev.kind {
                Some(pb::event::Kind::Log(l)) => seqs.extend(l.records.iter().map(|r| r.seq)),
                Some(pb::event::Kind::Skipped(s)) => seqs.push(s.next_seq - 1),
                _ => {}
            }
        }
        seqs
    });
    c.answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    let started = std::time::Instant::now();
    let done = loop {
        let j = c.job(job.id).await?;
        if j.state == pb::JobState::AwaitingFinish as i32 {
            break j;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "flood still running: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("flood of 20000 lines took {:?}", started.elapsed());
    assert_eq!(done.exit_code, 0);
    let _ = last_tx.send(done.last_seq);
    let fast_seqs = tokio::time::timeout(Duration::from_secs(60), reader).await??;
    assert!(
        fast_seqs.windows(2).all(|w| w[1] > w[0]),
        "out of order or duplicated"
    );
    assert_eq!(
        fast_seqs.last().copied(),
        Some(done.last_seq),
        "the reading watcher reached the end"
    );
    // The one that never read now finds a skip notice in its stream.
    let (_, skipped) = collect_until(&mut slow, done.last_seq).await?;
    assert!(skipped, "the stalled watcher was never told it skipped");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_logs_are_pruned_after_retention_but_the_job_and_audit_stay() -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions::default()).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[42], &h.totp(&d1.secret, 1)).await?;
    c.ready(job.id).await?;
    c.answer_all(job.id, &[("Backport the changes?", "n")])
        .await?;
    c.wait_state(job.id, pb::JobState::AwaitingFinish).await?;
    c.finish(job.id).await?;
    assert!(!c.log(job.id).await?.is_empty());

    let engine = h.engine().clone();
    assert_eq!(engine.prune_logs()?, (0, 0), "nothing is old yet");
    h.clock.advance_secs(91 * 86_400);
    let (jobs, records) = engine.prune_logs()?;
    assert_eq!(jobs, 1);
    assert!(records > 0);
    let admin_log = h
        .admin()
        .admin_get_log(pb::AdminGetLogRequest {
            job_id: job.id,
            after_seq: 0,
            limit: 0,
            include_sensitive: true,
            reason: "checking retention".into(),
            after_hidden: 0,
        })
        .await?
        .into_inner();
    assert!(admin_log.records.is_empty());
    let kept = h
        .admin()
        .admin_list_jobs(pb::AdminListJobsRequest {
            page_size: 10,
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(kept.jobs.len(), 1);
    assert_eq!(kept.jobs[0].state, pb::JobState::Done as i32);
    let audit = h
        .admin()
        .audit(pb::AuditRequest {
            since_ms: 0,
            limit: 0,
        })
        .await?
        .into_inner();
    assert!(audit.records.iter().any(|r| r.action == "job.submit"));
    assert!(audit.records.iter().any(|r| r.action == "retention.prune"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_with_a_full_buffer_still_ends_within_a_second_of_logout() -> anyhow::Result<()> {
    let (h, d1, mut c, job) = flood_job(5000).await?;
    // Never read: the executor's buffer for it fills and stays full.
    let _unread = small_window_client(&h.config.sockets.executor)
        .watch(watch_from_start(d1.session(), job.id))
        .await?
        .into_inner();
    let hub = h.engine().hub().clone();
    assert_eq!(hub.watchers(), 1);
    c.ready(job.id).await?;
    c.answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    c.wait_state(job.id, pb::JobState::AwaitingFinish).await?;
    assert_eq!(hub.watchers(), 1, "the unread stream is still open");

    h.deployer()
        .logout(pb::LogoutRequest {
            ctx: None,
            session: d1.session(),
        })
        .await?;
    let started = std::time::Instant::now();
    while hub.watchers() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a stream waiting on a full buffer outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A job's stored log length, as its owner sees it.
async fn last_seq(c: &mut Driver, job: u64) -> anyhow::Result<u64> {
    Ok(c.job(job).await?.last_seq)
}

/// F1: anonymous callbacks that match no login in flight cost the executor
/// no durable write, and no writer blocks an async worker: 200 of them at
/// once, for 10 s, beside a job whose scap writes 100 lines a second. The
/// job's log keeps its pace and the audit trail grows by a bounded number
/// of rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_callbacks_neither_stalls_a_running_job_nor_grows_the_audit()
-> anyhow::Result<()> {
    const FLOOD: Duration = Duration::from_secs(10);
    let opts = HarnessOptions {
        fake_scap: serde_json::json!({"pace": "instant", "flood_lines": 3000, "flood_rate": 100}),
        ..Default::default()
    };
    let h = Harness::start(opts).await?;
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[1006], &h.totp(&d1.secret, 1)).await?;
    c.ready(job.id).await?;
    c.answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    spiderpig_tests::executor::eventually(Duration::from_secs(10), || {
        let mut c = Driver::new(h.client(), &d1.token);
        async move {
            let seq = last_seq(&mut c, job.id).await.ok()?;
            (seq > 10).then_some(())
        }
    })
    .await?;
    let audit_before = h.engine().audit_trail(0, 10_000)?.len();

    let stop = tokio::time::Instant::now() + FLOOD;
    let mut attackers = Vec::new();
    for _ in 0..200 {
        let mut client = h.client();
        attackers.push(tokio::spawn(async move {
            let ctx = spiderpig_client::RequestContext {
                client_addr: "203.0.113.9".into(),
                ..Default::default()
            };
            let mut sent = 0u64;
            while tokio::time::Instant::now() < stop {
                let refused = client.complete_login(&ctx, "", "a", "b").await;
                assert!(
                    refused.is_err(),
                    "a callback with no login in flight was refused"
                );
                sent += 1;
            }
            sent
        }));
    }
    // While they run, the log advances at scap's pace: at least 50 records
    // in every second-long window (scap writes 100).
    let mut seen = last_seq(&mut c, job.id).await?;
    let mut windows = 0;
    while tokio::time::Instant::now() + Duration::from_secs(1) < stop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = last_seq(&mut c, job.id).await?;
        assert!(
            now >= seen + 50,
            "the job's log advanced by {} records in a second of the flood",
            now - seen
        );
        seen = now;
        windows += 1;
    }
    let mut sent = 0;
    for a in attackers {
        sent += a.await?;
    }
    assert!(windows >= 8, "the log was sampled {windows} times");
    assert!(sent >= 2000, "the flood sent only {sent} callbacks");
    let grown = h.engine().audit_trail(0, 10_000)?.len() - audit_before;
    assert!(
        grown <= 3,
        "{sent} refused callbacks added {grown} audit rows (one summary a minute at most)"
    );
    Ok(())
}
