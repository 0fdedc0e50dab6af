//! `Deployer`: what spiderpig-web may ask for. Trust: untrusted input.
//! Each method: validate the request's shape, authenticate the session,
//! call the engine, map the outcome.

use std::pin::Pin;
use std::sync::Arc;

use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_server::Deployer;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{code_field, convert, ctx, state_field, status, token};
use crate::engine::{Audit, Caller, Ctx, Engine, ProposedAnswer};
use crate::error::ExecutorError;

/// The service.
#[derive(Debug, Clone)]
pub struct DeployerService {
    engine: Arc<Engine>,
}

impl DeployerService {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    fn auth(
        &self,
        session: Option<&pb::Session>,
        need_totp: bool,
    ) -> Result<Caller, ExecutorError> {
        self.engine.authenticate(token(session)?, need_totp)
    }

    /// Map a refused job action to a status. An authorization refusal (not
    /// the owner, not an admin) is also audited: SECURITY-TESTS.md case 48.
    fn job_refused(
        &self,
        caller: &Caller,
        verb: &str,
        job: u64,
        e: ExecutorError,
        c: &Ctx,
    ) -> Status {
        if e.code() == tonic::Code::PermissionDenied {
            let target = format!("job {job}");
            let reason = format!("{verb}: {e}");
            let written = self.engine.store().write(|tx| {
                self.engine.audit(
                    tx,
                    Audit::refused(
                        &caller.username,
                        "job.not_authorized",
                        &target,
                        &reason,
                        &c.client_addr,
                    ),
                )
            });
            if let Err(err) = written {
                tracing::error!(error = %err, "cannot audit a refused job action");
            }
        }
        status(e, c)
    }

    /// Validate the request context and authenticate the session.
    fn open(
        &self,
        ctx_field: Option<&pb::RequestContext>,
        session: Option<&pb::Session>,
        need_totp: bool,
    ) -> Result<(Ctx, Caller), Status> {
        let c = ctx(ctx_field).map_err(|e| status(e, &Ctx::default()))?;
        let caller = self.auth(session, need_totp).map_err(|e| status(e, &c))?;
        Ok((c, caller))
    }

    fn job_response(&self, id: u64, c: &Ctx) -> Result<Response<pb::JobResponse>, Status> {
        let job = self.engine.get_job(id).map_err(|e| status(e, c))?;
        Ok(Response::new(pb::JobResponse { job: Some(job) }))
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Deployer for DeployerService {
    async fn begin_login(
        &self,
        req: Request<pb::BeginLoginRequest>,
    ) -> Result<Response<pb::BeginLoginResponse>, Status> {
        let c = ctx(req.get_ref().ctx.as_ref()).map_err(|e| status(e, &Ctx::default()))?;
        let start = self.engine.begin_login().map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::BeginLoginResponse {
            authorize_url: start.authorize_url,
            login_binding: start.binding,
        }))
    }

    async fn complete_login(
        &self,
        req: Request<pb::CompleteLoginRequest>,
    ) -> Result<Response<pb::CompleteLoginResponse>, Status> {
        let r = req.into_inner();
        let c = ctx(r.ctx.as_ref()).map_err(|e| status(e, &Ctx::default()))?;
        let checked = (|| {
            Ok::<_, ExecutorError>((
                super::field("login_binding", &r.login_binding, 64)?,
                code_field(&r.code)?,
                state_field(&r.state)?,
            ))
        })();
        let (binding, code, state) = checked.map_err(|e| status(e, &c))?;
        let done = self
            .engine
            .complete_login(binding, code, state, &c)
            .await
            .map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::CompleteLoginResponse {
            session: Some(pb::Session {
                token: done.token.as_str().to_string(),
            }),
            username: done.username,
            role: convert::role(done.role) as i32,
            totp_enrolled: done.totp_enrolled,
        }))
    }

    async fn enrol_totp(
        &self,
        req: Request<pb::EnrolTotpRequest>,
    ) -> Result<Response<pb::EnrolTotpResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), false)?;
        let (uri, secret) = self
            .engine
            .enrol_totp(&caller, &c)
            .map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::EnrolTotpResponse {
            otpauth_uri: uri,
            secret_base32: secret,
        }))
    }

    async fn verify_totp(
        &self,
        req: Request<pb::VerifyTotpRequest>,
    ) -> Result<Response<pb::VerifyTotpResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), false)?;
        if caller.totp_passed {
            return Err(status(
                ExecutorError::WrongState("TOTP already passed for this session".into()),
                &c,
            ));
        }
        let (token, expires) = self
            .engine
            .verify_totp(&caller, &r.code, &c)
            .map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::VerifyTotpResponse {
            session: Some(pb::Session {
                token: token.as_str().to_string(),
            }),
            expires_at_ms: expires,
        }))
    }

    async fn logout(
        &self,
        req: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), false)?;
        self.engine.logout(&caller, &c).map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn who_am_i(
        &self,
        req: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), false)?;
        let enrolled = self
            .engine
            .totp_enrolled(&caller.username)
            .map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::WhoAmIResponse {
            username: caller.username,
            role: convert::role(caller.role) as i32,
            totp_passed: caller.totp_passed,
            totp_enrolled: enrolled,
            expires_at_ms: caller.expires_ms,
        }))
    }

    async fn submit_job(
        &self,
        req: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        let id = self
            .engine
            .submit(&caller, &r.changes, &r.totp_code, &c)
            .map_err(|e| status(e, &c))?;
        self.job_response(id, &c)
    }

    async fn cancel_job(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        self.engine
            .cancel(&caller, r.job_id, &c)
            .map_err(|e| self.job_refused(&caller, "cancel", r.job_id, e, &c))?;
        self.job_response(r.job_id, &c)
    }

    async fn ready(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        self.engine
            .ready(&caller, r.job_id, &c)
            .await
            .map_err(|e| self.job_refused(&caller, "ready", r.job_id, e, &c))?;
        self.job_response(r.job_id, &c)
    }

    async fn respond(
        &self,
        req: Request<pb::RespondRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        let answer = match r.answer {
            Some(pb::respond_request::Answer::ChoiceKey(k)) => ProposedAnswer::Choice(k),
            Some(pb::respond_request::Answer::InputLine(l)) => ProposedAnswer::Line(l),
            None => {
                return Err(status(
                    ExecutorError::InvalidArgument("no answer given".into()),
                    &c,
                ));
            }
        };
        self.engine
            .respond(&caller, r.job_id, r.prompt_id, answer, &c)
            .await
            .map_err(|e| self.job_refused(&caller, "respond", r.job_id, e, &c))?;
        self.job_response(r.job_id, &c)
    }

    async fn finish(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        self.engine
            .finish(&caller, r.job_id, &c)
            .map_err(|e| self.job_refused(&caller, "finish", r.job_id, e, &c))?;
        self.job_response(r.job_id, &c)
    }

    async fn revert(
        &self,
        req: Request<pb::RevertRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        let id = self
            .engine
            .revert(&caller, r.job_id, &r.totp_code, &c)
            .map_err(|e| status(e, &c))?;
        self.job_response(id, &c)
    }

    async fn interrupt(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        let job = self.engine.get_job(r.job_id).map_err(|e| status(e, &c))?;
        let actor = if caller.username == job.owner {
            spiderpig_policy::Actor::Owner
        } else if caller.is_admin() {
            spiderpig_policy::Actor::Admin
        } else {
            spiderpig_policy::Actor::OtherUser
        };
        self.engine
            .interrupt(&caller.username, actor, r.job_id, &c)
            .map_err(|e| self.job_refused(&caller, "interrupt", r.job_id, e, &c))?;
        self.job_response(r.job_id, &c)
    }

    async fn get_job(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let r = req.into_inner();
        let (c, _) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        self.job_response(r.job_id, &c)
    }

    async fn list_jobs(
        &self,
        req: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let r = req.into_inner();
        let (c, _) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        let (owner, states) = list_filter(&r.owner, &r.states).map_err(|e| status(e, &c))?;
        let (jobs, next) = self
            .engine
            .list_jobs(r.before_job_id, r.page_size, owner, states)
            .map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs,
            next_before_job_id: next,
        }))
    }

    async fn get_queue(
        &self,
        req: Request<pb::GetQueueRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        let r = req.into_inner();
        let (c, _) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        Ok(Response::new(
            self.engine.get_queue().map_err(|e| status(e, &c))?,
        ))
    }

    async fn get_log(
        &self,
        req: Request<pb::GetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, Status> {
        let r = req.into_inner();
        let (c, _) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        let (records, more) = self
            .engine
            .get_log(r.job_id, r.after_seq, r.limit, false)
            .map_err(|e| status(e, &c))?;
        Ok(Response::new(pb::GetLogResponse { records, more }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let r = req.into_inner();
        let (c, caller) = self.open(r.ctx.as_ref(), r.session.as_ref(), true)?;
        if r.job_id != 0 {
            self.engine.get_job(r.job_id).map_err(|e| status(e, &c))?;
        }
        let stream = super::watch::open(
            self.engine.clone(),
            caller,
            r.job_id,
            r.after_seq,
            r.logs_only,
        );
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Validate history filters (shared with the admin service).
pub(crate) fn list_filter(
    owner: &str,
    states: &[i32],
) -> Result<(Option<String>, Vec<spiderpig_policy::JobState>), ExecutorError> {
    let owner = if owner.is_empty() {
        None
    } else {
        Some(
            spiderpig_policy::Username::parse(owner)?
                .as_str()
                .to_string(),
        )
    };
    if states.len() > 16 {
        return Err(ExecutorError::InvalidArgument(
            "too many state filters".into(),
        ));
    }
    let states = states
        .iter()
        .map(|s| convert::state_from_wire(*s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((owner, states))
}
