//! What the admin tests share: the real `spiderpig-executor ctl` binary run
//! against the harness's admin socket, signed-in deployers that queue and
//! drive jobs, Watch streams read with a deadline, and the audit trail.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use spiderpig_client::{RequestContext, Session};
use spiderpig_executor::auth::totp::{code_at, step_at};
use spiderpig_executor::clock::Clock;
use spiderpig_policy::TotpCode;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::event::Kind;
use spiderpig_tests::bins;
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::{Harness, HarnessOptions, SignedIn, eventually};
use tonic::Code;

/// "Takes effect at once": open pages and watch streams hear of an admin
/// action within a second (DESIGN.md, Admin; case 18).
pub const PROMPTLY: Duration = Duration::from_secs(1);

/// How long a `ctl` run may take before the test calls it hung.
const CTL_LIMIT: Duration = Duration::from_secs(60);

/// Bounded polling for effects that follow a scap process (real time).
pub const SCAP_LIMIT: Duration = Duration::from_secs(10);

/// An in-process executor for these tests. The ID token's `iat` may be up
/// to 10 minutes from the executor's clock instead of 1: tests move the
/// manual clock ahead of the real IDP by a TOTP step or two per submission
/// (each code is usable once). The `iat` check itself is tested in
/// `oidc_executor.rs`.
pub async fn start() -> anyhow::Result<Harness> {
    let mut h = Harness::prepare(HarnessOptions::default()).await?;
    let mut config = (*h.config).clone();
    config.oidc.clock_skew_secs = 600;
    h.config = Arc::new(config);
    h.boot().await?;
    Ok(h)
}

/// The `spiderpig-executor ctl` binary, pointed at one executor.
pub struct Ctl {
    bin: PathBuf,
    pub socket: PathBuf,
}

/// What one `ctl` run did.
#[derive(Debug)]
pub struct CtlOut {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ctl {
    pub fn new(h: &Harness) -> Ctl {
        Ctl {
            bin: bins::executor(),
            socket: h.config.sockets.admin.clone(),
        }
    }

    /// The same binary pointed at another socket.
    pub fn at(self, socket: PathBuf) -> Ctl {
        Ctl { socket, ..self }
    }

    /// `spiderpig-executor ctl --socket <admin.sock> ARGS...`, not yet run.
    /// The environment's `SPIDERPIG_ADMIN_SOCKET` is removed so that only
    /// `--socket` decides where it goes.
    pub fn command(&self, program: Option<&[&str]>, args: &[&str]) -> tokio::process::Command {
        let mut cmd = match program {
            Some([wrapper, wrapper_args @ ..]) => {
                let mut c = tokio::process::Command::new(wrapper);
                c.args(wrapper_args).arg(&self.bin);
                c
            }
            _ => tokio::process::Command::new(&self.bin),
        };
        cmd.arg("ctl")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .env_remove("SPIDERPIG_ADMIN_SOCKET")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> CtlOut {
        output(self.command(None, args)).await
    }

    /// Runs a verb that must succeed; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, Some(0), "ctl {args:?} failed: {out:#?}");
        assert!(
            out.stderr.is_empty(),
            "ctl {args:?} wrote to stderr: {out:#?}"
        );
        out.stdout
    }

    /// Runs a verb with `--json`; the parsed document.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("ctl {all:?}: {e}: {text}"))
    }

    /// Runs a verb that must fail with exit code 1 and a one-line message.
    pub async fn fails(&self, args: &[&str]) -> CtlOut {
        let out = self.run(args).await;
        assert_eq!(out.code, Some(1), "ctl {args:?} should fail: {out:#?}");
        assert!(out.stdout.is_empty(), "ctl {args:?} printed: {out:#?}");
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "one line on stderr: {out:#?}"
        );
        out
    }
}

/// Runs a command to its end (at most [`CTL_LIMIT`]).
pub async fn output(mut cmd: tokio::process::Command) -> CtlOut {
    let out = tokio::time::timeout(CTL_LIMIT, cmd.output())
        .await
        .expect("ctl did not finish in time")
        .expect("start ctl");
    CtlOut {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("ctl prints UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("ctl prints UTF-8"),
    }
}

/// A signed-in deployer (test IDP user `<login>` / `<login>-pass`).
pub struct Person {
    pub user: SignedIn,
    pub driver: Driver,
    /// The last TOTP time step this person used: a code is usable once, and
    /// so is every earlier one.
    last_step: u64,
}

pub async fn sign_in(h: &Harness, login: &str) -> anyhow::Result<Person> {
    let user = h.login(login, &format!("{login}-pass")).await?;
    let driver = Driver::new(h.client(), &user.token);
    Ok(Person {
        user,
        driver,
        last_step: step_at(h.clock.now_ms()),
    })
}

impl Person {
    /// A fresh TOTP code: the step after the last one used, which the
    /// executor accepts once the clock is at most one step behind it. The
    /// clock moves only as far as that needs.
    fn fresh_code(&mut self, h: &Harness) -> String {
        let next = self.last_step + 1;
        let now = step_at(h.clock.now_ms());
        if now + 1 < next {
            h.clock.advance_secs(30 * (next - 1 - now) as i64);
        }
        self.last_step = next;
        code_at(&self.user.secret, next)
    }

    /// Queue a backport with a fresh code (step-up).
    pub async fn submit(&mut self, h: &Harness, changes: &[u64]) -> anyhow::Result<pb::Job> {
        let code = self.fresh_code(h);
        Ok(self.driver.submit(changes, &code).await?)
    }

    /// Sign in again (IDP and TOTP) as a user who is enrolled; the new token.
    pub async fn sign_in_again(&mut self, h: &Harness) -> anyhow::Result<String> {
        let login = self.user.username.clone();
        let mut client = h.client();
        let pre = h
            .idp_login(&mut client, &login, &format!("{login}-pass"))
            .await?;
        let code = self.fresh_code(h);
        let ctx = RequestContext::default();
        let code = TotpCode::parse(&code)?;
        let r = client
            .verify_totp(&Session::new(pre.token), &ctx, &code)
            .await?;
        Ok(r.session.context("no session")?.token)
    }

    /// Ready, confirm, continue: a successful run up to awaiting_finish.
    pub async fn deploy(&mut self, job: u64) -> anyhow::Result<pb::Job> {
        self.driver.ready(job).await?;
        self.driver
            .answer_all(
                job,
                &[
                    ("Backport the changes?", "y"),
                    ("Continue with deployment?", "y"),
                ],
            )
            .await?;
        self.driver
            .wait_state(job, pb::JobState::AwaitingFinish)
            .await
    }

    /// Ready and confirm a job whose change ends in 005: scap then waits
    /// forever in the merge stage.
    pub async fn start_hanging(&mut self, job: u64) -> anyhow::Result<pb::Job> {
        self.driver.ready(job).await?;
        self.driver
            .answer_all(job, &[("Backport the changes?", "y")])
            .await?;
        let driver = &self.driver;
        eventually(SCAP_LIMIT, || {
            let mut d = driver.clone();
            async move {
                d.job(job)
                    .await
                    .ok()
                    .filter(|j| j.stage == pb::Stage::Merge as i32)
            }
        })
        .await
        .with_context(|| format!("job {job} did not reach the merge stage"))
    }

    pub async fn state(&mut self, job: u64) -> anyhow::Result<pb::JobState> {
        let j = self.driver.job(job).await?;
        Ok(pb::JobState::try_from(j.state)?)
    }
}

/// Is this session token refused by the executor now, both for a call and
/// for opening a Watch stream (the web's WebSocket upgrade)?
pub async fn token_refused(h: &Harness, token: &str) -> bool {
    let session = || {
        Some(pb::Session {
            token: token.to_string(),
        })
    };
    let call = h
        .deployer()
        .who_am_i(pb::WhoAmIRequest {
            ctx: None,
            session: session(),
        })
        .await;
    let watch = h
        .deployer()
        .watch(pb::WatchRequest {
            ctx: None,
            session: session(),
            job_id: 0,
            after_seq: 0,
            logs_only: false,
            session_ends: false,
        })
        .await;
    let refused = |code: Option<Code>| code == Some(Code::Unauthenticated);
    let (call, watch) = (
        refused(call.err().map(|s| s.code())),
        refused(watch.err().map(|s| s.code())),
    );
    assert_eq!(call, watch, "WhoAmI and Watch disagree about a token");
    call
}

/// One open Watch stream, as a browser tab holds it.
pub struct Watch {
    stream: tonic::Streaming<pb::Event>,
}

impl Watch {
    /// Opens a stream and reads its first event, the queue snapshot.
    pub async fn open(h: &Harness, token: &str) -> anyhow::Result<Watch> {
        let stream = h
            .deployer()
            .watch(pb::WatchRequest {
                ctx: None,
                session: Some(pb::Session {
                    token: token.to_string(),
                }),
                job_id: 0,
                after_seq: 0,
                logs_only: false,
                session_ends: false,
            })
            .await?
            .into_inner();
        let mut w = Watch { stream };
        w.expect(Duration::from_secs(5), |k| {
            matches!(k, Kind::Queue(_)).then_some(())
        })
        .await
        .context("the first event is the queue snapshot")?;
        Ok(w)
    }

    /// The first event for which `f` says `Some` within `limit`; other
    /// events (heartbeats, unrelated changes) are skipped.
    pub async fn expect<T>(
        &mut self,
        limit: Duration,
        mut f: impl FnMut(&Kind) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.message())
                .await
                .map_err(|_| anyhow!("no such event within {limit:?}"))?;
            match next? {
                Some(pb::Event { kind: Some(kind) }) => {
                    if let Some(v) = f(&kind) {
                        return Ok(v);
                    }
                }
                Some(_) => {}
                None => bail!("the stream ended"),
            }
        }
    }

    /// The next queue snapshot that satisfies `f`.
    pub async fn queue_where(
        &mut self,
        limit: Duration,
        f: impl Fn(&pb::QueueResponse) -> bool,
    ) -> anyhow::Result<pb::QueueResponse> {
        self.expect(limit, |k| match k {
            Kind::Queue(pb::QueueChanged { queue: Some(q) }) if f(q) => Some(q.clone()),
            _ => None,
        })
        .await
    }

    /// The stream says SessionRevoked and then ends, all within `limit`.
    /// Returns the revocation's reason.
    pub async fn ends_revoked(&mut self, limit: Duration) -> anyhow::Result<String> {
        let start = tokio::time::Instant::now();
        let reason = self
            .expect(limit, |k| match k {
                Kind::SessionRevoked(r) => Some(r.reason.clone()),
                _ => None,
            })
            .await?;
        let rest = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(rest, self.stream.message()).await {
            Ok(Ok(None)) | Ok(Err(_)) => Ok(reason),
            Ok(Ok(Some(ev))) => bail!("an event after SessionRevoked: {ev:?}"),
            Err(_) => bail!("the stream stayed open after SessionRevoked"),
        }
    }
}

/// The whole audit trail, through the Admin service.
pub async fn audit(h: &Harness) -> anyhow::Result<Vec<pb::AuditRecord>> {
    Ok(h.admin()
        .audit(pb::AuditRequest {
            since_ms: 0,
            limit: 10_000,
        })
        .await?
        .into_inner()
        .records)
}

/// Audit records of one action.
pub async fn audited(h: &Harness, action: &str) -> anyhow::Result<Vec<pb::AuditRecord>> {
    Ok(audit(h)
        .await?
        .into_iter()
        .filter(|r| r.action == action)
        .collect())
}

/// The admin's view of the queue.
pub async fn queue(h: &Harness) -> anyhow::Result<pb::QueueResponse> {
    Ok(h.admin()
        .list_queue(pb::ListQueueRequest {})
        .await?
        .into_inner())
}

/// Ids of the queued jobs, in order.
pub fn queued_ids(q: &pb::QueueResponse) -> Vec<u64> {
    q.queued.iter().map(|j| j.id).collect()
}

/// A JSON value as u64 (panics with the document if it is not one).
pub fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// A JSON value as &str (panics with the document if it is not one).
pub fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The value of the `label: value` line of `ctl`'s human output (nested
/// labels are indented; the first line with that label wins).
pub fn field<'a>(out: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}:");
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(&prefix))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{out}"))
}

/// The table row of `ctl`'s human output whose first two columns are
/// `first` and `second`, split into cells.
pub fn row<'a>(out: &'a str, first: &str, second: &str) -> Vec<&'a str> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.len() >= 2 && cells[0] == first && cells[1] == second)
        .unwrap_or_else(|| panic!("no row {first} {second} in:\n{out}"))
}
