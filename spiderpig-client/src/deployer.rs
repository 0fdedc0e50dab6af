//! Every client call of the `Deployer` service, in one place (as OpenSSH's
//! `monitor_wrap.c` holds every `mm_*` request of its monitor). Trust: this
//! side is unprivileged; the executor checks every argument again. The types
//! here only stop a well-meaning caller from sending what the executor would
//! refuse anyway: ids are [`JobId`]s, changes [`ChangeNumber`]s, codes
//! [`TotpCode`]s.
//!
//! Tests that must send a malformed request (no context, a bad shape, an
//! unknown enum value) use [`DeployerClient::raw`] on purpose.

use std::fmt;

use spiderpig_policy::{ChangeNumber, InputLine, JobId, JobState, PromptId, TotpCode, Username};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_client::DeployerClient as RawClient;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

/// Largest message accepted from the executor (a page of log records).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Largest request we send; every Deployer request is far smaller.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The executor's limits on the request context (see the proto).
const MAX_ADDR: usize = 64;
const MAX_AGENT: usize = 256;
const MAX_REQUEST_ID: usize = 64;

/// A person's session token, as the executor issued it. `Debug` hides it, so
/// that a token never lands in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Session(String);

impl Session {
    pub fn new(token: impl Into<String>) -> Session {
        Session(token.into())
    }

    pub fn token(&self) -> &str {
        &self.0
    }

    fn pb(&self) -> Option<pb::Session> {
        Some(pb::Session {
            token: self.0.clone(),
        })
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session(..)")
    }
}

/// Where a request came from, for the executor's audit trail ("as reported
/// by web"). The executor never decides anything on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub client_addr: String,
    pub user_agent: String,
    pub request_id: String,
}

impl RequestContext {
    /// The wire form, cut to printable ASCII within the executor's limits so
    /// that an odd browser header never makes a whole call fail.
    pub fn pb(&self) -> Option<pb::RequestContext> {
        Some(pb::RequestContext {
            client_addr: clip(&self.client_addr, MAX_ADDR),
            user_agent: clip(&self.user_agent, MAX_AGENT),
            request_id: clip(&self.request_id, MAX_REQUEST_ID),
        })
    }
}

/// Keep printable ASCII only, at most `max` bytes.
fn clip(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(max)
        .collect()
}

/// An answer to a pending prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// One of the keys the prompt offered (the executor checks which).
    Choice(String),
    /// A line for an `input_line` prompt.
    Line(InputLine),
}

/// Which page of the job history to read (`ListJobs`).
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    /// 1..=100; 0 lets the executor choose (50).
    pub page_size: u32,
    /// Only jobs older than this one (the next page).
    pub before: Option<JobId>,
    pub owner: Option<Username>,
    /// Empty: any state.
    pub states: Vec<JobState>,
}

/// A `Deployer` client; cheap to clone (the channel is shared).
#[derive(Clone, Debug)]
pub struct DeployerClient {
    raw: RawClient<Channel>,
}

impl From<RawClient<Channel>> for DeployerClient {
    /// Wrap a generated client as it is (its message limits included).
    fn from(raw: RawClient<Channel>) -> Self {
        DeployerClient { raw }
    }
}

/// The job of a `JobResponse`; its absence is the executor's fault.
fn job(r: tonic::Response<pb::JobResponse>) -> Result<pb::Job, Status> {
    r.into_inner()
        .job
        .ok_or_else(|| Status::internal("the executor answered without a job"))
}

/// The request of a verb that names only a job.
fn action(s: &Session, ctx: &RequestContext, id: JobId) -> pb::JobActionRequest {
    pb::JobActionRequest {
        ctx: ctx.pb(),
        session: s.pb(),
        job_id: id.get(),
    }
}

impl DeployerClient {
    /// A client on `channel` with SpiderPig's message limits.
    pub fn new(channel: Channel) -> DeployerClient {
        RawClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(MAX_REQUEST_BYTES)
            .into()
    }

    /// The generated client, for requests this wrapper cannot build (tests
    /// of malformed requests).
    pub fn raw(&self) -> RawClient<Channel> {
        self.raw.clone()
    }

    // ── signing in ──

    /// `BeginLogin`: where to send the browser, and the binding cookie.
    pub async fn begin_login(
        &mut self,
        ctx: &RequestContext,
    ) -> Result<pb::BeginLoginResponse, Status> {
        let req = pb::BeginLoginRequest { ctx: ctx.pb() };
        Ok(self.raw.begin_login(req).await?.into_inner())
    }

    /// `CompleteLogin`: the IDP's redirect parameters and the binding.
    pub async fn complete_login(
        &mut self,
        ctx: &RequestContext,
        login_binding: &str,
        code: &str,
        state: &str,
    ) -> Result<pb::CompleteLoginResponse, Status> {
        let req = pb::CompleteLoginRequest {
            ctx: ctx.pb(),
            login_binding: login_binding.to_string(),
            code: code.to_string(),
            state: state.to_string(),
        };
        Ok(self.raw.complete_login(req).await?.into_inner())
    }

    /// `EnrolTotp`: the new secret, shown once.
    pub async fn enrol_totp(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
    ) -> Result<pb::EnrolTotpResponse, Status> {
        let req = pb::EnrolTotpRequest {
            ctx: ctx.pb(),
            session: s.pb(),
        };
        Ok(self.raw.enrol_totp(req).await?.into_inner())
    }

    /// `VerifyTotp`: the full session that replaces the pre-TOTP one.
    pub async fn verify_totp(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        code: &TotpCode,
    ) -> Result<pb::VerifyTotpResponse, Status> {
        let req = pb::VerifyTotpRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            code: code.as_str().to_string(),
        };
        Ok(self.raw.verify_totp(req).await?.into_inner())
    }

    /// `Logout`: end this session.
    pub async fn logout(&mut self, s: &Session, ctx: &RequestContext) -> Result<(), Status> {
        let req = pb::LogoutRequest {
            ctx: ctx.pb(),
            session: s.pb(),
        };
        self.raw.logout(req).await?;
        Ok(())
    }

    /// `WhoAmI`: the session's holder, role and expiry.
    pub async fn who_am_i(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
    ) -> Result<pb::WhoAmIResponse, Status> {
        let req = pb::WhoAmIRequest {
            ctx: ctx.pb(),
            session: s.pb(),
        };
        Ok(self.raw.who_am_i(req).await?.into_inner())
    }

    // ── acting on jobs ──

    /// `SubmitJob`: queue a backport of `changes`, with a fresh code.
    pub async fn submit_job(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        changes: &[ChangeNumber],
        code: &TotpCode,
    ) -> Result<pb::Job, Status> {
        let req = pb::SubmitJobRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            changes: changes.iter().map(|c| c.get()).collect(),
            totp_code: code.as_str().to_string(),
        };
        job(self.raw.submit_job(req).await?)
    }

    /// `Revert`: queue the revert of a done backport, with a fresh code.
    pub async fn revert(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
        code: &TotpCode,
    ) -> Result<pb::Job, Status> {
        let req = pb::RevertRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            job_id: id.get(),
            totp_code: code.as_str().to_string(),
        };
        job(self.raw.revert(req).await?)
    }

    /// `CancelJob`.
    pub async fn cancel_job(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
    ) -> Result<pb::Job, Status> {
        job(self.raw.cancel_job(action(s, ctx, id)).await?)
    }

    /// `Ready`: the owner starts scap.
    pub async fn ready(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
    ) -> Result<pb::Job, Status> {
        job(self.raw.ready(action(s, ctx, id)).await?)
    }

    /// `Respond`: answer the pending prompt `prompt_id`.
    pub async fn respond(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
        prompt_id: PromptId,
        answer: &Answer,
    ) -> Result<pb::Job, Status> {
        use pb::respond_request::Answer as Wire;
        let answer = match answer {
            Answer::Choice(key) => Wire::ChoiceKey(key.clone()),
            Answer::Line(line) => Wire::InputLine(line.as_str().to_string()),
        };
        let req = pb::RespondRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            job_id: id.get(),
            prompt_id: prompt_id.get(),
            answer: Some(answer),
        };
        job(self.raw.respond(req).await?)
    }

    /// `Finish`: free the lock after scap exited.
    pub async fn finish(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
    ) -> Result<pb::Job, Status> {
        job(self.raw.finish(action(s, ctx, id)).await?)
    }

    /// `Interrupt`: SIGINT to a running scap.
    pub async fn interrupt(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
    ) -> Result<pb::Job, Status> {
        job(self.raw.interrupt(action(s, ctx, id)).await?)
    }

    // ── reading ──

    /// `GetJob`.
    pub async fn get_job(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
    ) -> Result<pb::Job, Status> {
        job(self.raw.get_job(action(s, ctx, id)).await?)
    }

    /// `ListJobs`: one page of history, newest first.
    pub async fn list_jobs(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        filter: &JobFilter,
    ) -> Result<pb::ListJobsResponse, Status> {
        let req = pb::ListJobsRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            page_size: filter.page_size,
            before_job_id: filter.before.map_or(0, JobId::get),
            owner: filter
                .owner
                .as_ref()
                .map_or_else(String::new, |u| u.as_str().to_string()),
            states: filter
                .states
                .iter()
                .map(|&st| pb::JobState::from(st) as i32)
                .collect(),
        };
        Ok(self.raw.list_jobs(req).await?.into_inner())
    }

    /// `GetQueue`: the lock holder, the queue and the freeze.
    pub async fn get_queue(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
    ) -> Result<pb::QueueResponse, Status> {
        let req = pb::GetQueueRequest {
            ctx: ctx.pb(),
            session: s.pb(),
        };
        Ok(self.raw.get_queue(req).await?.into_inner())
    }

    /// `GetLog`: records after `after_seq`; `limit` 0 lets the executor
    /// choose (1000).
    pub async fn get_log(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        id: JobId,
        after_seq: u64,
        limit: u32,
    ) -> Result<pb::GetLogResponse, Status> {
        let req = pb::GetLogRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            job_id: id.get(),
            after_seq,
            limit,
        };
        Ok(self.raw.get_log(req).await?.into_inner())
    }

    /// `Watch`: live global events, with the log of `job` from `after_seq`
    /// if a job is named. The stream ends when the session does. (The web's
    /// log feeds ask for `logs_only` streams through the raw client.)
    pub async fn watch(
        &mut self,
        s: &Session,
        ctx: &RequestContext,
        job: Option<JobId>,
        after_seq: u64,
    ) -> Result<Streaming<pb::Event>, Status> {
        let req = pb::WatchRequest {
            ctx: ctx.pb(),
            session: s.pb(),
            job_id: job.map_or(0, JobId::get),
            after_seq,
            logs_only: false,
            session_ends: false,
        };
        Ok(self.raw.watch(req).await?.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_is_cut_to_the_executors_limits() {
        let ctx = RequestContext {
            client_addr: "a".repeat(100),
            user_agent: "Mozilla\u{7}/5.0 ünï".to_string(),
            request_id: "r".repeat(64),
        };
        let pb = ctx.pb().unwrap();
        assert_eq!(pb.client_addr.len(), MAX_ADDR);
        assert_eq!(pb.user_agent, "Mozilla/5.0 n");
        assert_eq!(pb.request_id.len(), MAX_REQUEST_ID);
    }

    #[test]
    fn a_session_never_shows_its_token() {
        let s = Session::new("secret-token");
        assert_eq!(format!("{s:?}"), "Session(..)");
        assert_eq!(s.token(), "secret-token");
    }
}
