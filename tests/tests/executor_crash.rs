//! Case 41: `kill -9` of the real executor binary. Every acknowledged job is
//! there after a restart, none twice; a job that was running is
//! `interrupted`, never re-run, and keeps the lock until someone finishes it.

use std::time::Duration;

use spiderpig_proto::v1 as pb;
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::{Harness, HarnessOptions};
use spiderpig_tests::idp::IdpOptions;

fn pid_alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_run_leaves_the_job_interrupted_and_never_reruns() -> anyhow::Result<()> {
    let h = Harness::prepare(HarnessOptions::default()).await?;
    let exec = h.spawn_binary().await?;
    h.sync_clock();
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[1005], &h.totp(&d1.secret, 1)).await?;
    c.ready(job.id).await?;
    c.answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    let calls = h.invocations();
    assert_eq!(calls.len(), 1);
    let scap_pid = calls[0]["pid"].as_i64().unwrap();
    assert!(pid_alive(scap_pid), "scap should be hanging");

    exec.kill9();
    // The parent-death signal takes scap down with the executor.
    let mut gone = false;
    for _ in 0..100 {
        if !pid_alive(scap_pid) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "scap outlived the executor");

    let exec = h.spawn_binary().await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let after = c.job(job.id).await?;
    assert_eq!(after.state, pb::JobState::Interrupted as i32);
    assert!(after.outcome.contains("restarted"), "{}", after.outcome);
    let q = h
        .admin()
        .list_queue(pb::ListQueueRequest {})
        .await?
        .into_inner();
    assert_eq!(
        q.active.map(|j| j.id),
        Some(job.id),
        "the owner keeps the lock"
    );
    assert_eq!(h.invocations().len(), 1, "the job must never be re-run");

    c.finish(job.id).await?;
    assert_eq!(c.job(job.id).await?.state, pb::JobState::Done as i32);
    let q = h
        .admin()
        .list_queue(pb::ListQueueRequest {})
        .await?
        .into_inner();
    assert!(q.active.is_none());
    drop(exec);
    Ok(())
}

/// A small deterministic generator for kill delays (seed printed on failure).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn users(n: usize) -> serde_json::Value {
    let list: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "login": format!("dep{i:02}"),
                "password": format!("dep{i:02}-pass"),
                "groups": ["deployers"],
            })
        })
        .collect();
    serde_json::Value::Array(list)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_kill_9_keeps_every_acknowledged_job_exactly_once() -> anyhow::Result<()> {
    const ROUNDS: usize = 8;
    const PER_ROUND: usize = 3;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let opts = HarnessOptions {
        idp: IdpOptions {
            users: Some(users(ROUNDS * PER_ROUND)),
            ..Default::default()
        },
        queued_per_user: 3,
        ..Default::default()
    };
    let h = Harness::prepare(opts).await?;
    let mut acknowledged: Vec<(String, u64)> = Vec::new();
    let mut attempted: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let exec = h.spawn_binary().await?;
        h.sync_clock();
        let mut signed = Vec::new();
        for i in 0..PER_ROUND {
            let n = round * PER_ROUND + i;
            let user = format!("dep{n:02}");
            signed.push(h.login(&user, &format!("{user}-pass")).await?);
        }
        let mut tasks = Vec::new();
        for s in &signed {
            let mut c = Driver::new(h.client(), &s.token);
            let code = h.totp(&s.secret, 1);
            let user = s.username.clone();
            attempted.push(user.clone());
            tasks.push(tokio::spawn(
                async move { (user, c.submit(&[42], &code).await) },
            ));
        }
        let delay = rng.next(40);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        exec.kill9();
        for t in tasks {
            let (user, result) = t.await?;
            if let Ok(job) = result {
                acknowledged.push((user, job.id));
            }
        }
        // Restart and check the whole history so far.
        let exec = h.spawn_binary().await?;
        let jobs = h
            .admin()
            .admin_list_jobs(pb::AdminListJobsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .jobs;
        for (user, id) in &acknowledged {
            let found: Vec<_> = jobs.iter().filter(|j| j.id == *id).collect();
            assert_eq!(
                found.len(),
                1,
                "seed {seed}: acknowledged job {id} of {user} is missing"
            );
            assert_eq!(&found[0].owner, user, "seed {seed}");
        }
        for user in &attempted {
            let count = jobs.iter().filter(|j| &j.owner == user).count();
            assert!(
                count <= 1,
                "seed {seed}: {user} has {count} jobs for one submission"
            );
        }
        let holders = jobs
            .iter()
            .filter(|j| {
                [
                    pb::JobState::AwaitingReady,
                    pb::JobState::Running,
                    pb::JobState::AwaitingInput,
                    pb::JobState::AwaitingFinish,
                    pb::JobState::Interrupted,
                ]
                .iter()
                .any(|s| *s as i32 == j.state)
            })
            .count();
        assert!(holders <= 1, "seed {seed}: {holders} lock holders");
        exec.kill9();
    }
    assert!(!acknowledged.is_empty() || attempted.len() == ROUNDS * PER_ROUND);
    eprintln!(
        "seed {seed}: {} of {} submissions acknowledged before a kill -9",
        acknowledged.len(),
        attempted.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_exits_promptly_with_the_state_on_disk() -> anyhow::Result<()> {
    use tokio_stream::StreamExt;
    let h = Harness::prepare(HarnessOptions::default()).await?;
    let exec = h.spawn_binary().await?;
    h.sync_clock();
    let d1 = h.login("deployer1", "deployer1-pass").await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let job = c.submit(&[1005], &h.totp(&d1.secret, 1)).await?;
    // An open watch stream must not hold the shutdown up.
    let mut watch = h
        .deployer()
        .watch(pb::WatchRequest {
            ctx: None,
            session: d1.session(),
            job_id: job.id,
            after_seq: 0,
            logs_only: false,
            session_ends: false,
        })
        .await?
        .into_inner();
    c.ready(job.id).await?;
    c.answer_all(job.id, &[("Backport the changes?", "y")])
        .await?;
    let before = c.log(job.id).await?;
    assert!(!before.is_empty());

    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || exec.terminate()).await??;
    assert!(status.success(), "exit status {status}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        started.elapsed()
    );
    // The stream ended (not revoked: the session is still valid).
    let mut revoked = false;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await {
        if let Ok(pb::Event {
            kind: Some(pb::event::Kind::SessionRevoked(_)),
        }) = ev
        {
            revoked = true;
        }
    }
    assert!(!revoked, "a shutdown is not a logout");

    let _exec = h.spawn_binary().await?;
    let mut c = Driver::new(h.client(), &d1.token);
    let after = c.job(job.id).await?;
    assert_eq!(after.state, pb::JobState::Interrupted as i32);
    let log = c.log(job.id).await?;
    assert!(log.len() >= before.len(), "log records were lost");
    for (a, b) in before.iter().zip(&log) {
        assert_eq!(a.seq, b.seq);
        assert_eq!(a.text, b.text);
    }
    Ok(())
}

/// Rounds of [`kill_9_at_random_points_of_runs_loses_nothing_and_reruns_nothing`]:
/// `SPIDERPIG_CHAOS_ROUNDS` (scripts/chaos runs 200), else 20.
fn chaos_rounds() -> usize {
    std::env::var("SPIDERPIG_CHAOS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20)
}

/// How many times scap ran for `user` (fake-scap records each start).
fn runs_of(h: &Harness, user: &str) -> usize {
    h.invocations()
        .iter()
        .filter(|c| c["env"]["SPIDERPIG_REAL_USER"] == user)
        .count()
}

/// The fault suite's kill -9: each round a new deployer queues change 42,
/// presses Ready and answers every prompt while the executor is killed at a
/// random moment of the run (before, during or after scap). After each kill
/// the store passes redb's integrity check; after each restart the job is
/// there once, a job that was running is `interrupted` (never running again),
/// scap ran at most once for it, and its owner can finish it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_of_runs_loses_nothing_and_reruns_nothing() -> anyhow::Result<()> {
    use spiderpig_executor::store::Store;
    let rounds = chaos_rounds();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let opts = HarnessOptions {
        idp: IdpOptions {
            users: Some(users(rounds)),
            ..Default::default()
        },
        // At this pace a run of change 42 outlasts most of the kill window.
        fake_scap: serde_json::json!({"pace": 0.012, "record_invocations": true}),
        ..Default::default()
    };
    let h = Harness::prepare(opts).await?;
    let db = h.config.database_path();
    // (user, token, job) of the round before, to check and finish.
    let mut previous: Option<(String, String, u64)> = None;
    let mut states_after_kill = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..rounds {
        let exec = h.spawn_binary().await?;
        h.sync_clock();
        if let Some((user, token, id)) = previous.take() {
            let mut c = Driver::new(h.client(), &token);
            let job = c.job(id).await?;
            let state = pb::JobState::try_from(job.state)?;
            assert!(
                !matches!(state, pb::JobState::Running | pb::JobState::AwaitingInput),
                "seed {seed}: job {id} is {state:?} after a restart"
            );
            *states_after_kill.entry(format!("{state:?}")).or_default() += 1;
            assert!(
                runs_of(&h, &user) <= 1,
                "seed {seed}: scap ran twice for {id}"
            );
            if matches!(
                state,
                pb::JobState::Interrupted | pb::JobState::AwaitingFinish
            ) {
                c.finish(id).await?;
            } else if matches!(state, pb::JobState::AwaitingReady) {
                c.cancel(id).await?;
            }
        }
        let user = format!("dep{round:02}");
        let signed = h.login(&user, &format!("{user}-pass")).await?;
        let mut c = Driver::new(h.client(), &signed.token);
        let job = c.submit(&[42], &h.totp(&signed.secret, 1)).await?;
        c.ready(job.id).await?;
        let mut answers = Driver::new(h.client(), &signed.token);
        let id = job.id;
        let answering = tokio::spawn(async move {
            let _ = answers
                .answer_all(
                    id,
                    &[
                        ("Backport the changes?", "y"),
                        ("Continue with deployment?", "y"),
                    ],
                )
                .await;
        });
        tokio::time::sleep(Duration::from_millis(rng.next(1500))).await;
        exec.kill9();
        answering.abort();
        assert!(
            Store::check_integrity(&db)?,
            "seed {seed}: round {round}: the store failed redb's integrity check"
        );
        previous = Some((user, signed.token.clone(), job.id));
    }

    // The whole history: every job once, none left running.
    let _exec = h.spawn_binary().await?;
    for round in 0..rounds {
        let user = format!("dep{round:02}");
        let mine = h
            .admin()
            .admin_list_jobs(pb::AdminListJobsRequest {
                page_size: 100,
                owner: user.clone(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .jobs;
        assert_eq!(mine.len(), 1, "seed {seed}: {user} has {} jobs", mine.len());
        let state = pb::JobState::try_from(mine[0].state)?;
        assert!(
            !matches!(state, pb::JobState::Running | pb::JobState::AwaitingInput),
            "seed {seed}: {user}'s job is {state:?} after the last restart"
        );
        assert!(
            runs_of(&h, &user) <= 1,
            "seed {seed}: scap ran twice for {user}"
        );
    }
    eprintln!("seed {seed}: {rounds} kills; states found after a restart: {states_after_kill:?}");
    Ok(())
}
