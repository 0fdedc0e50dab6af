//! Helpers shared by `executor_auth.rs`, `executor_totp.rs` and
//! `executor_sessions.rs`: requests as spiderpig-web sends them, refusal
//! checks that name the executor's own outcome, and the "nothing happened"
//! snapshot that every rejection test compares before and after.
//!
//! Ordinary requests go through `spiderpig_client::DeployerClient`. The
//! helpers that send what a test chooses (`verify` and `submit` take the code
//! as typed, malformed or not; `job_calls` and `every_session_call` send any
//! session, or none) build the raw request on purpose.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use spiderpig_client::{ErrorKind, RequestContext, Session};
use spiderpig_executor::ExecutorError;
use spiderpig_executor::auth::totp::{TotpSecret, code_at, step_at};
use spiderpig_executor::clock::Clock;
use spiderpig_executor::rpc::{DEPLOYER_VERBS, Phase};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use spiderpig_tests::executor::{Harness, REDIRECT};
use spiderpig_tests::idp::login_via_forms;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

/// The browser address the test "web" reports; the audit trail must show it.
pub const WEB_ADDR: &str = "203.0.113.7";

/// The request context spiderpig-web attaches to every call.
pub fn ctx() -> Option<pb::RequestContext> {
    Some(pb::RequestContext {
        client_addr: WEB_ADDR.into(),
        user_agent: "executor-auth-test".into(),
        request_id: "req-test".into(),
    })
}

/// The same context, for `spiderpig_client`.
pub fn web_ctx() -> RequestContext {
    RequestContext {
        client_addr: WEB_ADDR.into(),
        user_agent: "executor-auth-test".into(),
        request_id: "req-test".into(),
    }
}

/// The typed client on the same channel as `client`.
pub fn typed(client: &DeployerClient<Channel>) -> spiderpig_client::DeployerClient {
    client.clone().into()
}

pub fn session(token: &str) -> Option<pb::Session> {
    Some(pb::Session {
        token: token.to_string(),
    })
}

/// The error kind the executor attached to a status (`spiderpig-error`).
pub fn kind(status: &Status) -> Option<ErrorKind> {
    ErrorKind::of(status)
}

/// `status` is the executor's refusal `expected`: the same gRPC code and
/// the same stable error kind, whatever the message says.
#[track_caller]
pub fn assert_refused(status: &Status, expected: &ExecutorError) {
    assert_eq!(
        status.code(),
        expected.code(),
        "expected {expected:?}, got {status:?}"
    );
    assert_eq!(
        kind(status),
        Some(expected.kind()),
        "expected {expected:?}, got {status:?}"
    );
}

#[track_caller]
pub fn assert_code(status: &Status, code: Code) {
    assert_eq!(status.code(), code, "unexpected status {status:?}");
}

/// Everything a refused request must leave alone: sessions, jobs, the
/// queue and the lock, and fake-scap's invocations.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// (public id, user, TOTP passed) of every live session.
    pub sessions: Vec<(String, String, bool)>,
    pub active: Option<(u64, i32)>,
    pub queued: Vec<u64>,
    /// (id, state) of every job.
    pub jobs: Vec<(u64, i32)>,
    pub invocations: usize,
}

pub async fn snapshot(h: &Harness) -> Snapshot {
    let mut admin = h.admin();
    let mut sessions: Vec<_> = admin
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .expect("ListSessions")
        .into_inner()
        .sessions
        .into_iter()
        .map(|s| (s.id, s.username, s.totp_passed))
        .collect();
    sessions.sort();
    let queue = admin
        .list_queue(pb::ListQueueRequest {})
        .await
        .expect("ListQueue")
        .into_inner();
    let jobs = admin
        .admin_list_jobs(pb::AdminListJobsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("AdminListJobs")
        .into_inner()
        .jobs
        .into_iter()
        .map(|j| (j.id, j.state))
        .collect();
    Snapshot {
        sessions,
        active: queue.active.map(|j| (j.id, j.state)),
        queued: queue.queued.iter().map(|j| j.id).collect(),
        jobs,
        invocations: h.invocations().len(),
    }
}

/// The whole audit trail.
pub async fn audit(h: &Harness) -> Vec<pb::AuditRecord> {
    h.admin()
        .audit(pb::AuditRequest {
            since_ms: 0,
            limit: 10_000,
        })
        .await
        .expect("Audit")
        .into_inner()
        .records
}

/// How many audit records carry `action`.
pub fn count(records: &[pb::AuditRecord], action: &str) -> usize {
    records.iter().filter(|r| r.action == action).count()
}

/// The audit records written since `before` (a previous [`audit`]).
pub async fn audit_since(h: &Harness, before: &[pb::AuditRecord]) -> Vec<pb::AuditRecord> {
    let after = audit(h).await;
    assert!(after.len() >= before.len(), "the audit trail shrank");
    after[before.len()..].to_vec()
}

/// A query parameter of a URL (authorize URLs, otpauth URIs).
pub fn query(url: &str, key: &str) -> String {
    let url = url::Url::parse(url).expect("URL");
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}

/// What the IDP sent the browser back with, plus the binding cookie.
#[derive(Clone, Debug)]
pub struct Callback {
    pub binding: String,
    pub state: String,
    pub code: String,
}

/// BeginLogin and the IDP's forms, stopping before CompleteLogin.
pub async fn idp_callback(
    client: &mut DeployerClient<Channel>,
    user: &str,
    password: &str,
) -> Callback {
    let begin = typed(client)
        .begin_login(&web_ctx())
        .await
        .expect("BeginLogin");
    let back = login_via_forms(&begin.authorize_url, user, password, REDIRECT)
        .await
        .expect("IDP login forms");
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {back}"))
    };
    Callback {
        binding: begin.login_binding,
        state: param("state"),
        code: param("code"),
    }
}

pub async fn complete(
    client: &mut DeployerClient<Channel>,
    binding: &str,
    state: &str,
    code: &str,
) -> Result<pb::CompleteLoginResponse, Status> {
    typed(client)
        .complete_login(&web_ctx(), binding, code, state)
        .await
}

/// A whole IDP login ending in a pre-TOTP token.
pub async fn pre_session(h: &Harness, user: &str, password: &str) -> String {
    let mut client = h.deployer();
    let cb = idp_callback(&mut client, user, password).await;
    let done = complete(&mut client, &cb.binding, &cb.state, &cb.code)
        .await
        .expect("CompleteLogin");
    done.session.expect("session").token
}

/// VerifyTotp with `code` exactly as given (tests send malformed ones).
pub async fn verify(
    client: &mut DeployerClient<Channel>,
    token: &str,
    code: &str,
) -> Result<pb::VerifyTotpResponse, Status> {
    client
        .verify_totp(pb::VerifyTotpRequest {
            ctx: ctx(),
            session: session(token),
            code: code.to_string(),
        })
        .await
        .map(|r| r.into_inner())
}

pub async fn who_am_i(
    client: &mut DeployerClient<Channel>,
    token: &str,
) -> Result<pb::WhoAmIResponse, Status> {
    typed(client)
        .who_am_i(&Session::new(token), &web_ctx())
        .await
}

/// SubmitJob with `changes` and `code` exactly as given (tests send
/// malformed ones).
pub async fn submit(
    client: &mut DeployerClient<Channel>,
    token: &str,
    changes: &[u64],
    code: &str,
) -> Result<pb::Job, Status> {
    client
        .submit_job(pb::SubmitJobRequest {
            ctx: ctx(),
            session: session(token),
            changes: changes.to_vec(),
            totp_code: code.to_string(),
        })
        .await
        .map(|r| r.into_inner().job.expect("job"))
}

/// The code for the step `offset` steps from now (negative: the past).
pub fn code_off(h: &Harness, secret: &TotpSecret, offset: i64) -> String {
    let step = step_at(h.clock.now_ms())
        .checked_add_signed(offset)
        .expect("step");
    code_at(secret, step)
}

/// A six-digit code that matches none of the steps the executor accepts now.
pub fn wrong_code(h: &Harness, secret: &TotpSecret) -> String {
    let window: Vec<String> = (-1..=1).map(|o| code_off(h, secret, o)).collect();
    (0..)
        .map(|n| format!("{:06}", (n * 7_919) % 1_000_000))
        .find(|c| !window.contains(c))
        .expect("a wrong code")
}

/// Read a Watch stream until it ends; it must end, after a SessionRevoked
/// event, by `deadline`. Returns the revocation's reason.
pub async fn revoked_by(
    stream: &mut Streaming<pb::Event>,
    deadline: tokio::time::Instant,
) -> String {
    let ended = tokio::time::timeout_at(deadline, async {
        let mut reason = None;
        loop {
            match stream.message().await {
                Ok(Some(pb::Event {
                    kind: Some(pb::event::Kind::SessionRevoked(r)),
                })) => reason = Some(r.reason),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return reason,
            }
        }
    })
    .await
    .expect("the Watch stream did not end in time");
    ended.expect("the Watch stream ended without SessionRevoked")
}

/// Every stream ends, after SessionRevoked, within 1 s from now.
pub async fn all_revoked_within_1s(streams: &mut [Streaming<pb::Event>]) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut reasons = Vec::new();
    for s in streams {
        reasons.push(revoked_by(s, deadline).await);
    }
    reasons
}

/// The stream is still open: it delivers the next FreezeChanged event (the
/// caller makes one happen) and nothing that ends it before that.
pub async fn still_open(stream: &mut Streaming<pb::Event>) {
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.message().await {
                Ok(Some(pb::Event {
                    kind: Some(pb::event::Kind::Freeze(_)),
                })) => return Ok(()),
                Ok(Some(pb::Event {
                    kind: Some(pb::event::Kind::SessionRevoked(r)),
                })) => return Err(format!("revoked: {}", r.reason)),
                Ok(Some(_)) => {}
                Ok(None) => return Err("ended".to_string()),
                Err(s) => return Err(format!("failed: {s:?}")),
            }
        }
    })
    .await
    .expect("no FreezeChanged within 5 s");
    if let Err(why) = seen {
        panic!("a stream that should stay open was {why}");
    }
}

/// Open a Watch stream and wait for its first event (the queue snapshot),
/// so the stream is subscribed to revocations before the test goes on.
pub async fn open_watch(h: &Harness, token: &str) -> Streaming<pb::Event> {
    let mut stream = h
        .client()
        .watch(&Session::new(token), &web_ctx(), None, 0)
        .await
        .expect("Watch");
    let first = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("a first Watch event within 5 s")
        .expect("Watch stream")
        .expect("a first event");
    assert!(
        matches!(
            first.kind,
            Some(pb::event::Kind::Queue(_) | pb::event::Kind::Heartbeat(_))
        ),
        "first event {first:?}"
    );
    stream
}

/// A call's outcome without its answer.
fn ok<T>(r: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    r.map(|_| ())
}

/// Call the `Deployer` verb `name` presenting `session`, naming `job` where
/// a job is needed and `code` where a TOTP code is. Every verb of
/// [`DEPLOYER_VERBS`] that takes a session has a request here: a verb added
/// to the table and not here fails every test that goes through the table.
pub async fn call_verb(
    h: &Harness,
    name: &str,
    session: Option<pb::Session>,
    job: u64,
    code: &str,
) -> Result<(), Status> {
    let mut c = h.deployer();
    let s = || session.clone();
    let action = || pb::JobActionRequest {
        ctx: ctx(),
        session: s(),
        job_id: job,
    };
    match name {
        "EnrolTotp" => ok(c
            .enrol_totp(pb::EnrolTotpRequest {
                ctx: ctx(),
                session: s(),
            })
            .await),
        "VerifyTotp" => ok(c
            .verify_totp(pb::VerifyTotpRequest {
                ctx: ctx(),
                session: s(),
                code: code.to_string(),
            })
            .await),
        "WhoAmI" => ok(c
            .who_am_i(pb::WhoAmIRequest {
                ctx: ctx(),
                session: s(),
            })
            .await),
        "Logout" => ok(c
            .logout(pb::LogoutRequest {
                ctx: ctx(),
                session: s(),
            })
            .await),
        "SubmitJob" => ok(c
            .submit_job(pb::SubmitJobRequest {
                ctx: ctx(),
                session: s(),
                changes: vec![4242],
                totp_code: code.to_string(),
            })
            .await),
        "CancelJob" => ok(c.cancel_job(action()).await),
        "Ready" => ok(c.ready(action()).await),
        "Respond" => ok(c
            .respond(pb::RespondRequest {
                ctx: ctx(),
                session: s(),
                job_id: job,
                prompt_id: 1,
                answer: Some(pb::respond_request::Answer::ChoiceKey("y".into())),
            })
            .await),
        "Finish" => ok(c.finish(action()).await),
        "Revert" => ok(c
            .revert(pb::RevertRequest {
                ctx: ctx(),
                session: s(),
                job_id: job,
                totp_code: code.to_string(),
            })
            .await),
        "Interrupt" => ok(c.interrupt(action()).await),
        "GetJob" => ok(c.get_job(action()).await),
        "ListJobs" => ok(c
            .list_jobs(pb::ListJobsRequest {
                ctx: ctx(),
                session: s(),
                ..Default::default()
            })
            .await),
        "GetQueue" => ok(c
            .get_queue(pb::GetQueueRequest {
                ctx: ctx(),
                session: s(),
            })
            .await),
        "GetLog" => ok(c
            .get_log(pb::GetLogRequest {
                ctx: ctx(),
                session: s(),
                job_id: job,
                after_seq: 0,
                limit: 0,
            })
            .await),
        "Watch" => ok(c
            .watch(pb::WatchRequest {
                ctx: ctx(),
                session: s(),
                job_id: job,
                after_seq: 0,
                logs_only: false,
                session_ends: false,
            })
            .await),
        other => panic!("no test request for the Deployer verb {other}: add one to call_verb"),
    }
}

/// The names of the table's verbs of `phase`, in table order.
fn verbs_of(phase: Phase) -> impl Iterator<Item = &'static str> {
    DEPLOYER_VERBS
        .iter()
        .filter(move |(_, p)| *p == phase)
        .map(|(n, _)| *n)
}

/// Call each of `names` in turn.
async fn call_each(
    h: &Harness,
    names: impl Iterator<Item = &'static str>,
    session: Option<pb::Session>,
    job: u64,
    code: &str,
) -> Vec<(&'static str, Result<(), Status>)> {
    let mut out = Vec::new();
    for name in names {
        out.push((name, call_verb(h, name, session.clone(), job, code).await));
    }
    out
}

/// Every `Deployer` call that needs a full session (from the executor's
/// own table), presenting `session` and naming `job` where a job is
/// needed. Returns each call's name and outcome.
pub async fn job_calls(
    h: &Harness,
    session: Option<pb::Session>,
    job: u64,
    code: &str,
) -> Vec<(&'static str, Result<(), Status>)> {
    call_each(h, verbs_of(Phase::TotpPassed), session, job, code).await
}

/// Every `Deployer` call that takes a session: the sign-in calls, the job
/// calls, and Logout last (had it worked, it would end the session).
pub async fn every_session_call(
    h: &Harness,
    session: Option<pb::Session>,
    job: u64,
    code: &str,
) -> Vec<(&'static str, Result<(), Status>)> {
    let names = verbs_of(Phase::SignedIn)
        .filter(|n| *n != "Logout")
        .chain(verbs_of(Phase::TotpPassed))
        .chain(["Logout"]);
    call_each(h, names, session, job, code).await
}

/// Every call presenting `session` is refused as unauthenticated.
pub async fn assert_session_dead(h: &Harness, session: Option<pb::Session>, job: u64, code: &str) {
    for (name, outcome) in every_session_call(h, session, job, code).await {
        let status = outcome
            .err()
            .unwrap_or_else(|| panic!("{name} accepted a dead session"));
        assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status:?}");
        assert_eq!(
            kind(&status),
            Some(ExecutorError::Unauthenticated.kind()),
            "{name}"
        );
    }
}

/// Every call with `token` is refused as unauthenticated.
pub async fn assert_token_dead(h: &Harness, token: &str, job: u64, code: &str) {
    assert_session_dead(h, session(token), job, code).await;
}
