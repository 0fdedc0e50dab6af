//! Faults around spiderpig-web (docs/SECURITY-TESTS.md cases 44–46): the
//! executor goes away and comes back; the web itself restarts (as on
//! SIGTERM) while a browser is following a job.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spiderpig_tests::web::{WebHarness, WebOptions, id_of, refused_status};

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn log_seqs(frame: &Value) -> Vec<u64> {
    frame["records"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["seq"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_down_is_a_clear_503_and_everything_recovers() -> anyhow::Result<()> {
    let mut web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let mut ws = b.ws().await?;
    ws.wait_for(SECS(5), |f| f["type"] == "queue").await?;

    web.exec.shutdown().await;

    let (status, body) = b.json("/api/queue").await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "executor_down");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("not reachable"))
    );
    for path in ["/", "/history", "/jobs/1", "/deploy/new"] {
        let page = b.get(path).await?;
        assert_eq!(page.status(), 503, "{path}");
        assert!(page.headers().contains_key("content-security-policy"));
        let html = page.text().await?;
        assert!(html.contains("SpiderPig is unavailable"), "{path}: {html}");
        assert!(html.contains("not reachable right now"), "{path}");
    }
    // The open socket is told, and stays open; a new one cannot start.
    ws.wait_for(SECS(5), |f| f["type"] == "executor" && f["up"] == false)
        .await?;
    let cookie = format!("__Host-spiderpig={}", b.session().unwrap());
    let err = web
        .ws_raw(&[("origin", &web.origin), ("cookie", &cookie)], None)
        .await
        .err()
        .expect("upgraded without an executor");
    assert_eq!(refused_status(&err), Some(503));

    // Back: the same session works (it lives in the executor's store), and
    // the socket says so and sends a fresh snapshot.
    web.exec.boot().await?;
    ws.wait_for(SECS(15), |f| f["type"] == "executor" && f["up"] == true)
        .await?;
    ws.wait_for(SECS(5), |f| f["type"] == "queue").await?;
    let (status, queue) = b.json("/api/queue").await?;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(b.get("/").await?.status(), 200);
    let job = b.submit(json!([42])).await?;
    assert_eq!(job["state"], "awaiting_ready");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_restart_keeps_sessions_and_the_log_resumes_where_it_was() -> anyhow::Result<()> {
    let opts = WebOptions::default();
    let drain = SECS(opts.drain_secs);
    let mut web = WebHarness::start(opts).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let id = id_of(&b.submit(json!([42])).await?);
    let mut ws = b.ws().await?;
    ws.watch(id, 0).await?;
    b.act(id, "ready").await?;
    let asking = b
        .wait_job(id, "asking", |j| j["state"] == "awaiting_input")
        .await?;
    let upto = asking["last_seq"].as_u64().unwrap();
    let mut seqs = Vec::new();
    while seqs.last().copied().unwrap_or(0) < upto {
        let frame = ws.wait_for(SECS(10), |f| f["type"] == "log").await?;
        seqs.extend(log_seqs(&frame));
    }

    // SIGTERM while the page follows the job: a close frame (1001), and the
    // process is gone within its drain time.
    let stopping = tokio::spawn(async move {
        let took = web.stop_web(drain + SECS(5)).await;
        (web, took)
    });
    assert_eq!(ws.close_code(SECS(5)).await?, Some(1001));
    let (mut web, took) = stopping.await?;
    let took = took?;
    assert!(took <= drain + SECS(1), "stopping took {took:?}");
    assert!(b.get("/healthz").await.is_err(), "still answering");

    // A new web process on the same port and configuration.
    web.start_web().await?;
    let (status, me) = b.json("/api/me").await?;
    assert_eq!(status, 200, "the session did not survive: {me}");
    assert_eq!(me["username"], "deployer1");
    b.answer(id, "Backport the changes?", "y").await?;
    b.answer(id, "Continue with deployment?", "y").await?;
    let last = b.wait_state(id, "awaiting_finish").await?["last_seq"]
        .as_u64()
        .unwrap();

    // The page reconnects and resumes from the last record it showed.
    let mut ws = b.ws().await?;
    ws.watch(id, *seqs.last().unwrap()).await?;
    while seqs.last().copied().unwrap_or(0) < last {
        let frame = ws.wait_for(SECS(10), |f| f["type"] == "log").await?;
        seqs.extend(log_seqs(&frame));
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<u64>>(), "gap or duplicate");
    Ok(())
}

/// The real binary, killed if the test ends early.
struct WebProcess(Child);

impl Drop for WebProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_the_web_binary_closes_sockets_and_exits_within_the_drain() -> anyhow::Result<()>
{
    let opts = WebOptions::default();
    let drain = SECS(opts.drain_secs);
    let mut web = WebHarness::start(opts).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    // Swap the in-process web for the real binary on the same port and
    // configuration; the session carries over (it lives in the executor).
    web.stop_web(drain + SECS(5)).await?;
    let binary = spiderpig_tests::bins::binary("spiderpig-web", "spiderpig-web");
    let mut web_process = WebProcess(
        Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(&web.config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?,
    );
    let started = Instant::now();
    while b.get("/healthz").await.is_err() {
        assert!(started.elapsed() < SECS(20), "the binary never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.json("/api/me").await?.0, 200);
    let id = id_of(&b.submit(json!([42])).await?);
    let mut ws = b.ws().await?;
    ws.watch(id, 0).await?;
    ws.wait_for(SECS(5), |f| f["type"] == "queue").await?;

    let pid = nix::unistd::Pid::from_raw(i32::try_from(web_process.0.id())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
    let signalled = Instant::now();
    assert_eq!(ws.close_code(SECS(5)).await?, Some(1001));
    let status = loop {
        if let Some(status) = web_process.0.try_wait()? {
            break status;
        }
        assert!(
            signalled.elapsed() <= drain + SECS(1),
            "still running {:?} after SIGTERM",
            signalled.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    Ok(())
}
