//! `Admin`: the operators' verbs, on admin.sock only. Trust: the peer passed
//! the admin check before any byte was read; arguments are still validated.
//! The acting OS user (from SO_PEERCRED) is named in every audit record.
//!
//! A verb that would change something and is refused (a bad reason, a job in
//! the wrong state) is an admin action too: it gets its one audit record,
//! `success = false`, holding the refusal and the reason as it was given
//! (SECURITY-TESTS.md 47, 48). Such text is stored as given and escaped
//! wherever it is printed.

use std::sync::Arc;

use spiderpig_policy::{JobId, Username};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::admin_server::Admin;
use tonic::{Request, Response, Status};

use super::deployer::list_filter;
use crate::engine::{AdminActor, Audit, Ctx, Engine, LogRead, LogoutScope};
use crate::error::ExecutorError;
use crate::peer::PeerIdentity;
use crate::wire;

/// The `Admin` service, served on admin.sock to the peers its SO_PEERCRED
/// check admitted (root or the admin group): freezes, bans, sessions, the
/// queue, releasing the lock, logs with hidden lines, the audit trail. Each
/// call names the acting admin (from the peer's credentials) in its audit
/// record; a refusal is audited too.
#[derive(Debug, Clone)]
pub struct AdminService {
    engine: Arc<Engine>,
}

impl AdminService {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

fn actor<T>(req: &Request<T>) -> AdminActor {
    let name = req
        .extensions()
        .get::<PeerIdentity>()
        .map(|p| p.user.clone())
        .unwrap_or_else(|| "unknown".to_string());
    AdminActor(name)
}

fn st(e: ExecutorError) -> Status {
    super::status(e, &Ctx::admin())
}

/// How much of a refused request's text its audit record keeps.
const MAX_REFUSED_TEXT_CHARS: usize = 500;

fn clip(text: &str) -> String {
    text.chars().take(MAX_REFUSED_TEXT_CHARS).collect()
}

fn user_target(name: &str) -> String {
    format!("user {}", clip(name))
}

fn job_target(job: u64) -> String {
    format!("job {job}")
}

impl AdminService {
    /// Audit a refused admin action, then answer with the refusal. If the
    /// record cannot be written the refusal still stands (and is logged).
    fn refused(
        &self,
        who: &AdminActor,
        action: &str,
        target: &str,
        reason: &str,
        e: ExecutorError,
    ) -> Status {
        let why = if e.is_internal() {
            "internal error".to_string()
        } else {
            e.to_string()
        };
        let text = format!("refused: {why}; reason given: {}", clip(reason));
        let written = self.engine.store().write(|tx| {
            self.engine.audit(
                tx,
                Audit::refused(&who.name(), action, target, &text, "admin.sock"),
            )
        });
        if let Err(err) = written {
            tracing::error!(error = %err, action, "cannot audit a refused admin action");
        }
        st(e)
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn status(
        &self,
        _req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let v = self.engine.status().map_err(st)?;
        Ok(Response::new(wire::status(&v)))
    }

    async fn freeze(
        &self,
        req: Request<pb::FreezeRequest>,
    ) -> Result<Response<pb::FreezeResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let freeze = self
            .engine
            .freeze(&who, &r.reason, r.until_ms)
            .map_err(|e| self.refused(&who, "admin.freeze", "deployments", &r.reason, e))?;
        Ok(Response::new(pb::FreezeResponse {
            freeze: Some(wire::freeze_view(&freeze)),
        }))
    }

    async fn unfreeze(
        &self,
        req: Request<pb::UnfreezeRequest>,
    ) -> Result<Response<pb::FreezeResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let freeze = self
            .engine
            .unfreeze(&who, &r.reason)
            .map_err(|e| self.refused(&who, "admin.unfreeze", "deployments", &r.reason, e))?;
        Ok(Response::new(pb::FreezeResponse {
            freeze: Some(wire::freeze_view(&freeze)),
        }))
    }

    async fn ban(&self, req: Request<pb::BanRequest>) -> Result<Response<pb::BanResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let refuse = |e| self.refused(&who, "admin.ban", &user_target(&r.username), &r.reason, e);
        let (ended, cancelled) = Username::parse(&r.username)
            .map_err(ExecutorError::from)
            .and_then(|name| self.engine.ban(&who, &name, &r.reason))
            .map_err(refuse)?;
        Ok(Response::new(pb::BanResponse {
            username: r.username,
            banned: true,
            sessions_ended: ended,
            jobs_cancelled: cancelled,
        }))
    }

    async fn unban(
        &self,
        req: Request<pb::UnbanRequest>,
    ) -> Result<Response<pb::BanResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let refuse = |e| self.refused(&who, "admin.unban", &user_target(&r.username), &r.reason, e);
        Username::parse(&r.username)
            .map_err(ExecutorError::from)
            .and_then(|name| self.engine.unban(&who, &name, &r.reason))
            .map_err(refuse)?;
        Ok(Response::new(pb::BanResponse {
            username: r.username,
            banned: false,
            ..Default::default()
        }))
    }

    async fn logout_user(
        &self,
        req: Request<pb::LogoutUserRequest>,
    ) -> Result<Response<pb::LogoutUserResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let (target, scope) = match &r.who {
            Some(pb::logout_user_request::Who::Username(u)) => (
                user_target(u),
                Username::parse(u)
                    .map(LogoutScope::User)
                    .map_err(ExecutorError::from),
            ),
            Some(pb::logout_user_request::Who::Everyone(true)) => {
                ("everyone".to_string(), Ok(LogoutScope::Everyone))
            }
            _ => (
                "-".to_string(),
                Err(ExecutorError::InvalidArgument(
                    "name a user, or everyone".into(),
                )),
            ),
        };
        let ended = scope
            .and_then(|scope| self.engine.logout_users(&who, scope, &r.reason))
            .map_err(|e| self.refused(&who, "admin.logout", &target, &r.reason, e))?;
        Ok(Response::new(pb::LogoutUserResponse {
            sessions_ended: ended,
        }))
    }

    async fn list_sessions(
        &self,
        _req: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: (self.engine.list_sessions().map_err(st)?)
                .iter()
                .map(|s| wire::session_info(&s.session, s.expires_ms))
                .collect(),
        }))
    }

    async fn list_queue(
        &self,
        _req: Request<pb::ListQueueRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        Ok(Response::new(wire::queue(
            &self.engine.get_queue().map_err(st)?,
        )))
    }

    async fn queue_move(
        &self,
        req: Request<pb::QueueMoveRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .queue_move(&who, r.job_id, r.position, &r.reason)
            .map_err(|e| {
                let target = job_target(r.job_id);
                self.refused(&who, "admin.queue_move", &target, &r.reason, e)
            })?;
        Ok(Response::new(wire::queue(
            &self.engine.get_queue().map_err(st)?,
        )))
    }

    async fn queue_remove(
        &self,
        req: Request<pb::QueueRemoveRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .queue_remove(&who, r.job_id, &r.reason)
            .map_err(|e| {
                let target = job_target(r.job_id);
                self.refused(&who, "admin.queue_remove", &target, &r.reason, e)
            })?;
        Ok(Response::new(wire::queue(
            &self.engine.get_queue().map_err(st)?,
        )))
    }

    async fn release(
        &self,
        req: Request<pb::ReleaseRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .release(&who, r.job_id, &r.reason)
            .map_err(|e| {
                let target = job_target(r.job_id);
                self.refused(&who, "admin.release", &target, &r.reason, e)
            })?;
        job_reply(&self.engine, r.job_id)
    }

    async fn admin_interrupt(
        &self,
        req: Request<pb::AdminInterruptRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .admin_interrupt(&who, r.job_id, &r.reason)
            .map_err(|e| {
                let target = job_target(r.job_id);
                self.refused(&who, "job.interrupt", &target, &r.reason, e)
            })?;
        job_reply(&self.engine, r.job_id)
    }

    async fn admin_finish(
        &self,
        req: Request<pb::AdminFinishRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .admin_finish(&who, r.job_id, &r.reason)
            .map_err(|e| {
                let target = job_target(r.job_id);
                self.refused(&who, "job.finish", &target, &r.reason, e)
            })?;
        job_reply(&self.engine, r.job_id)
    }

    async fn admin_list_jobs(
        &self,
        req: Request<pb::AdminListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let r = req.into_inner();
        let (owner, states) = list_filter(&r.owner, &r.states).map_err(st)?;
        let (jobs, next) = self
            .engine
            .list_jobs(r.before_job_id, r.page_size, owner, states)
            .map_err(st)?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(wire::job_view).collect(),
            next_before_job_id: next,
        }))
    }

    async fn admin_get_log(
        &self,
        req: Request<pb::AdminGetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let read = LogRead {
            after: r.after_seq,
            limit: r.limit,
            sensitive: r.include_sensitive,
            from_hidden: r.after_hidden,
        };
        let page = match self.engine.admin_log(&who, r.job_id, read, &r.reason) {
            Ok(page) => page,
            Err(e) if !read.sensitive => return Err(st(e)),
            Err(e) => {
                let target = format!("job {}", r.job_id);
                return Err(self.refused(&who, "admin.log_sensitive", &target, &r.reason, e));
            }
        };
        Ok(Response::new(pb::GetLogResponse {
            records: wire::log_page(&page, r.include_sensitive),
            more: page.more,
            next_hidden: page.next_hidden,
        }))
    }

    async fn reset_totp(
        &self,
        req: Request<pb::ResetTotpRequest>,
    ) -> Result<Response<pb::ResetTotpResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let refuse = |e| {
            self.refused(
                &who,
                "admin.totp_reset",
                &user_target(&r.username),
                &r.reason,
                e,
            )
        };
        let ended = Username::parse(&r.username)
            .map_err(ExecutorError::from)
            .and_then(|name| self.engine.reset_totp(&who, &name, &r.reason))
            .map_err(refuse)?;
        Ok(Response::new(pb::ResetTotpResponse {
            sessions_ended: ended,
        }))
    }

    async fn audit(
        &self,
        req: Request<pb::AuditRequest>,
    ) -> Result<Response<pb::AuditResponse>, Status> {
        let r = req.into_inner();
        let records = (self.engine.audit_trail(r.since_ms, r.limit).map_err(st)?)
            .iter()
            .map(|(seq, a)| wire::audit(*seq, a))
            .collect();
        Ok(Response::new(pb::AuditResponse { records }))
    }
}

/// A job after an admin acted on it.
fn job_reply(engine: &Engine, id: u64) -> Result<Response<pb::JobResponse>, Status> {
    let view = JobId::new(id)
        .map_err(ExecutorError::from)
        .and_then(|id| engine.get_job(id))
        .map_err(st)?;
    Ok(Response::new(pb::JobResponse {
        job: Some(wire::job_view(&view)),
    }))
}
