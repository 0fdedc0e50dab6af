//! The deployer's steps through the real web, with the lock free: submit →
//! the job asks "Ready to deploy?"; Ready → scap running (the executor's
//! "SpiderPig started scap ..." record, written once scap is spawned) and →
//! scap's first prompt on the page; the prompt's answer posted → scap reading
//! it. fake-scap's flood scenario writes one line straight after reading the
//! answer, stamped with its emit time, so the last figure is that stamp minus
//! the wall-clock time just before the browser's `POST .../respond`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use spiderpig_tests::web::Browser;

use crate::flood::Flood;
use crate::reader::{parse_flood_line, unix_nanos};
use crate::stack::Stack;
use crate::stats::{Summary, nanos};

/// How long one step may take before the sample fails.
const STEP: Duration = Duration::from_secs(30);
/// Submissions per signed-in user: its sign-in spends TOTP step T−1, the
/// submissions T and T+1.
const PER_USER: usize = 2;

/// The samples, in nanoseconds.
#[derive(Debug, Default)]
pub struct Steps {
    /// `POST /api/jobs` sent → the job's `awaiting_ready` frame.
    pub submit_to_asked: Vec<u64>,
    /// `POST .../ready` sent → "SpiderPig started" log record (scap spawned).
    pub ready_to_running: Vec<u64>,
    /// `POST .../ready` sent → scap's first prompt's `prompt_opened` frame.
    pub ready_to_prompt: Vec<u64>,
    /// Submit → scap spawned, without the deployer's own time between the
    /// question and the click: the sum of the first two.
    pub submit_to_running: Vec<u64>,
    /// `POST .../respond` sent → fake-scap's stamp after reading the answer.
    pub answer_to_scap: Vec<u64>,
    /// Submissions the executor refused (a TOTP step that moved on).
    pub refused: usize,
    pub signin: Duration,
}

/// Users `steps1..` needed for `samples`.
pub fn users(samples: usize) -> Vec<String> {
    (1..=samples.div_ceil(PER_USER))
        .map(|i| format!("steps{i}"))
        .collect()
}

pub async fn run(stack: &Stack, users: &[String], samples: usize) -> anyhow::Result<Steps> {
    Flood {
        lines: 1,
        rate: None,
    }
    .configure(&stack.web.exec.home)?;
    let mut out = Steps::default();
    let started = Instant::now();
    let mut browsers = Vec::with_capacity(users.len());
    for u in users {
        browsers.push(stack.browser(u).await?);
    }
    out.signin = started.elapsed();
    for i in 0..samples {
        let b = &browsers[i / PER_USER % browsers.len()];
        if let Err(e) = sample(b, &mut out).await {
            if out.refused < 5 && format!("{e:#}").contains("answered 4") {
                out.refused += 1;
                eprintln!("bench: a submission was refused ({e:#}); going on");
                continue;
            }
            return Err(e);
        }
    }
    Ok(out)
}

/// A JSON `job` frame of job `id` in `state`.
fn job_in(v: &Value, id: u64, state: &str) -> bool {
    v["type"] == "job" && v["job"]["id"] == id && v["job"]["state"] == state
}

async fn sample(b: &Browser, out: &mut Steps) -> anyhow::Result<()> {
    let mut ws = b.ws().await?;
    // The socket's own event stream is up once its first frame (the queue
    // snapshot) has come.
    ws.wait_for(STEP, |v| v["type"] == "queue")
        .await
        .context("the socket's first queue snapshot")?;
    let code = b.totp()?;

    let t0 = Instant::now();
    let job = b.submit_with_code(json!([1006]), &code).await?;
    let id = job["id"].as_u64().context("job id")?;
    if job["state"] != "awaiting_ready" {
        ws.wait_for(STEP, |v| job_in(v, id, "awaiting_ready"))
            .await
            .with_context(|| format!("job {id} asking whether its owner is ready"))?;
    }
    let asked = nanos(t0.elapsed());
    ws.watch(id, 0).await?;

    let t1 = Instant::now();
    b.act(id, "ready").await?;
    let (mut running, mut prompt) = (None, None);
    while running.is_none() || prompt.is_none() {
        let v = ws
            .wait_for(STEP, |v| {
                v["type"] == "prompt_opened" && v["prompt"]["job"] == id
                    || v["type"] == "log" && v["job"] == id
            })
            .await
            .with_context(|| format!("job {id}'s start and first prompt"))?;
        let now = nanos(t1.elapsed());
        if v["type"] == "prompt_opened" {
            prompt.get_or_insert((now, v["prompt"]["id"].clone()));
        } else if v["records"].as_array().is_some_and(|r| {
            r.iter().any(|r| {
                r["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("SpiderPig started"))
            })
        }) {
            running.get_or_insert(now);
        }
    }
    let (running, (prompt, prompt_id)) = (running.unwrap_or(0), prompt.unwrap_or_default());

    let sent = unix_nanos();
    let res = b
        .post_json(
            &format!("/api/jobs/{id}/respond"),
            &json!({"prompt_id": prompt_id, "key": "y"}),
        )
        .await?;
    if res.status() != 200 {
        bail!("answering job {id}'s prompt: {}", res.status());
    }
    // The line comes on the job's log feed, the state on the socket's own
    // event stream: in either order.
    let (mut read_at, mut done) = (None, false);
    while read_at.is_none() || !done {
        let v = ws
            .wait_for(STEP, |v| {
                job_in(v, id, "awaiting_finish") || v["type"] == "log" && v["job"] == id
            })
            .await
            .with_context(|| format!("job {id}'s line after the answer and its end"))?;
        done |= v["type"] == "job";
        if let Some(emit) = v["records"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|r| r["text"].as_str().and_then(parse_flood_line))
            .map(|(_, emit)| emit)
        {
            read_at.get_or_insert(emit);
        }
    }
    let read_at = read_at.unwrap_or(sent);
    b.act(id, "finish").await?;

    out.submit_to_asked.push(asked);
    out.ready_to_running.push(running);
    out.ready_to_prompt.push(prompt);
    out.submit_to_running.push(asked + running);
    out.answer_to_scap.push(read_at.saturating_sub(sent));
    Ok(())
}

/// The summaries, in the order printed.
pub fn summaries(s: &mut Steps) -> [(&'static str, Summary, Option<u64>); 5] {
    [
        (
            "submit → asked \"Ready to deploy?\"",
            Summary::of(&mut s.submit_to_asked),
            None,
        ),
        (
            "Ready → scap running (spawned)",
            Summary::of(&mut s.ready_to_running),
            None,
        ),
        (
            "submit → scap running (both above)",
            Summary::of(&mut s.submit_to_running),
            Some(50),
        ),
        (
            "Ready → scap's first prompt shown",
            Summary::of(&mut s.ready_to_prompt),
            None,
        ),
        (
            "answer posted → read by scap",
            Summary::of(&mut s.answer_to_scap),
            Some(5),
        ),
    ]
}
