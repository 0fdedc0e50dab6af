//! `Admin`: the operators' verbs, on admin.sock only. Trust: the peer passed
//! the admin check before any byte was read; arguments are still validated.
//! The acting OS user (from SO_PEERCRED) is named in every audit record.

use std::sync::Arc;

use spiderpig_policy::Username;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::admin_server::Admin;
use tonic::{Request, Response, Status};

use super::deployer::list_filter;
use crate::engine::{AdminActor, Ctx, Engine, LogoutScope};
use crate::error::ExecutorError;
use crate::peer::PeerIdentity;

/// The service.
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

fn user(name: &str) -> Result<Username, Status> {
    Username::parse(name).map_err(|e| st(e.into()))
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn status(
        &self,
        _req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        Ok(Response::new(self.engine.status().map_err(st)?))
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
            .map_err(st)?;
        Ok(Response::new(pb::FreezeResponse {
            freeze: Some(freeze),
        }))
    }

    async fn unfreeze(
        &self,
        req: Request<pb::UnfreezeRequest>,
    ) -> Result<Response<pb::FreezeResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let freeze = self.engine.unfreeze(&who, &r.reason).map_err(st)?;
        Ok(Response::new(pb::FreezeResponse {
            freeze: Some(freeze),
        }))
    }

    async fn ban(&self, req: Request<pb::BanRequest>) -> Result<Response<pb::BanResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let name = user(&r.username)?;
        let (ended, cancelled) = self.engine.ban(&who, &name, &r.reason).map_err(st)?;
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
        let name = user(&r.username)?;
        self.engine.unban(&who, &name, &r.reason).map_err(st)?;
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
        let scope = match r.who {
            Some(pb::logout_user_request::Who::Username(u)) => LogoutScope::User(user(&u)?),
            Some(pb::logout_user_request::Who::Everyone(true)) => LogoutScope::Everyone,
            _ => {
                return Err(st(ExecutorError::InvalidArgument(
                    "name a user, or everyone".into(),
                )));
            }
        };
        let ended = self
            .engine
            .logout_users(&who, scope, &r.reason)
            .map_err(st)?;
        Ok(Response::new(pb::LogoutUserResponse {
            sessions_ended: ended,
        }))
    }

    async fn list_sessions(
        &self,
        _req: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: self.engine.list_sessions().map_err(st)?,
        }))
    }

    async fn list_queue(
        &self,
        _req: Request<pb::ListQueueRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        Ok(Response::new(self.engine.get_queue().map_err(st)?))
    }

    async fn queue_move(
        &self,
        req: Request<pb::QueueMoveRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .queue_move(&who, r.job_id, r.position, &r.reason)
            .map_err(st)?;
        Ok(Response::new(self.engine.get_queue().map_err(st)?))
    }

    async fn queue_remove(
        &self,
        req: Request<pb::QueueRemoveRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .queue_remove(&who, r.job_id, &r.reason)
            .map_err(st)?;
        Ok(Response::new(self.engine.get_queue().map_err(st)?))
    }

    async fn release(
        &self,
        req: Request<pb::ReleaseRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine.release(&who, r.job_id, &r.reason).map_err(st)?;
        Ok(Response::new(pb::JobResponse {
            job: Some(self.engine.get_job(r.job_id).map_err(st)?),
        }))
    }

    async fn admin_interrupt(
        &self,
        req: Request<pb::AdminInterruptRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .admin_interrupt(&who, r.job_id, &r.reason)
            .map_err(st)?;
        Ok(Response::new(pb::JobResponse {
            job: Some(self.engine.get_job(r.job_id).map_err(st)?),
        }))
    }

    async fn admin_finish(
        &self,
        req: Request<pb::AdminFinishRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        self.engine
            .admin_finish(&who, r.job_id, &r.reason)
            .map_err(st)?;
        Ok(Response::new(pb::JobResponse {
            job: Some(self.engine.get_job(r.job_id).map_err(st)?),
        }))
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
            jobs,
            next_before_job_id: next,
        }))
    }

    async fn admin_get_log(
        &self,
        req: Request<pb::AdminGetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let (records, more) = self
            .engine
            .admin_log(&who, r.job_id, r.after_seq, r.limit, r.include_sensitive)
            .map_err(st)?;
        Ok(Response::new(pb::GetLogResponse { records, more }))
    }

    async fn reset_totp(
        &self,
        req: Request<pb::ResetTotpRequest>,
    ) -> Result<Response<pb::ResetTotpResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let name = user(&r.username)?;
        let ended = self.engine.reset_totp(&who, &name, &r.reason).map_err(st)?;
        Ok(Response::new(pb::ResetTotpResponse {
            sessions_ended: ended,
        }))
    }

    async fn audit(
        &self,
        req: Request<pb::AuditRequest>,
    ) -> Result<Response<pb::AuditResponse>, Status> {
        let r = req.into_inner();
        let records = self.engine.audit_trail(r.since_ms, r.limit).map_err(st)?;
        Ok(Response::new(pb::AuditResponse { records }))
    }
}
