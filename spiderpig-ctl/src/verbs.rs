//! One `Admin` RPC per verb, and its output. Trust: arguments come from the
//! operator; responses from the executor carry untrusted strings, which
//! `render`/`table` escape and JSON encodes.

use std::future::Future;
use std::io::Write;

use serde::Serialize;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::admin_client::AdminClient;
use spiderpig_proto::v1::logout_user_request::Who;
use tonic::transport::Channel;

use super::args::{QueueAction, TotpAction, Verb};
use super::errors::VerbError;
use super::escape::json_escaped;
use super::render::Human;
use super::view::*;

/// Where responses go: a table, or JSON with `--json`.
pub(super) struct Output<W> {
    pub(super) out: W,
    pub(super) json: bool,
    /// stdout is a terminal: `log` may keep scap's colours.
    pub(super) tty: bool,
}

impl<W: Write> Output<W> {
    fn emit<V: Serialize + Human>(&mut self, view: V) -> Result<(), VerbError> {
        if self.json {
            self.write_json(serde_json::to_string_pretty(&view)?)?;
        } else {
            self.out.write_all(view.human().as_bytes())?;
        }
        Ok(self.out.flush()?)
    }

    /// One JSON document and a newline, C1 and bidi controls escaped
    /// ([`json_escaped`]).
    pub(super) fn write_json(&mut self, json: String) -> Result<(), VerbError> {
        self.out.write_all(json_escaped(json).as_bytes())?;
        Ok(self.out.write_all(b"\n")?)
    }
}

/// Waits for one RPC. The channel bounds the wait (`ChannelTimeouts`: 5 s
/// to connect, 60 s per call, above the executor's own request time-out).
pub(super) async fn call<T>(
    rpc: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, VerbError> {
    Ok(rpc.await?.into_inner())
}

/// Runs one verb.
pub(super) async fn execute<W: Write>(
    client: &mut AdminClient<Channel>,
    verb: Verb,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
    match verb {
        Verb::Status => out.emit(StatusView::from(
            call(client.status(pb::StatusRequest {})).await?,
        )),
        Verb::Queue { action } => queue(client, action, out).await,
        Verb::Freeze { reason, until } => {
            let req = pb::FreezeRequest {
                reason: reason.reason,
                until_ms: until.unwrap_or(0),
            };
            out.emit(FreezeView::from(call(client.freeze(req)).await?))
        }
        Verb::Unfreeze { reason } => {
            let req = pb::UnfreezeRequest {
                reason: reason.reason,
            };
            out.emit(FreezeView::from(call(client.unfreeze(req)).await?))
        }
        Verb::Ban { user, reason } => {
            let req = pb::BanRequest {
                username: user.user,
                reason: reason.reason,
            };
            out.emit(BanView::from(call(client.ban(req)).await?))
        }
        Verb::Unban { user, reason } => {
            let req = pb::UnbanRequest {
                username: user.user,
                reason: reason.reason,
            };
            out.emit(BanView::from(call(client.unban(req)).await?))
        }
        Verb::Logout { user, all, reason } => {
            let who = match user {
                Some(name) => Who::Username(name),
                None => Who::Everyone(all),
            };
            let req = pb::LogoutUserRequest {
                who: Some(who),
                reason: reason.reason,
            };
            let r = call(client.logout_user(req)).await?;
            out.emit(SessionsEndedView {
                sessions_ended: r.sessions_ended,
            })
        }
        Verb::Sessions => out.emit(SessionsView::from(
            call(client.list_sessions(pb::ListSessionsRequest {})).await?,
        )),
        Verb::Release { job, reason } => {
            let req = pb::ReleaseRequest {
                job_id: job.job,
                reason: reason.reason,
            };
            out.emit(JobView::from(call(client.release(req)).await?))
        }
        Verb::Interrupt { job, reason } => {
            let req = pb::AdminInterruptRequest {
                job_id: job.job,
                reason: reason.reason,
            };
            out.emit(JobView::from(call(client.admin_interrupt(req)).await?))
        }
        Verb::Finish { job, reason } => {
            let req = pb::AdminFinishRequest {
                job_id: job.job,
                reason: reason.reason,
            };
            out.emit(JobView::from(call(client.admin_finish(req)).await?))
        }
        Verb::Jobs {
            user,
            states,
            limit,
            before,
        } => {
            let req = pb::AdminListJobsRequest {
                page_size: limit.unwrap_or(0),
                before_job_id: before.unwrap_or(0),
                owner: user.unwrap_or_default(),
                states: states
                    .into_iter()
                    .map(|s| spiderpig_proto::v1::JobState::from(s) as i32)
                    .collect(),
            };
            out.emit(JobsView::from(call(client.admin_list_jobs(req)).await?))
        }
        Verb::Log {
            job,
            include_sensitive,
            after,
        } => super::log::print(client, job.job, include_sensitive, after, out).await,
        Verb::Totp {
            action: TotpAction::Reset { user, reason },
        } => {
            let req = pb::ResetTotpRequest {
                username: user.user,
                reason: reason.reason,
            };
            let r = call(client.reset_totp(req)).await?;
            out.emit(SessionsEndedView {
                sessions_ended: r.sessions_ended,
            })
        }
        Verb::Audit { since, limit } => {
            let req = pb::AuditRequest {
                since_ms: since.unwrap_or(0),
                limit: limit.unwrap_or(0),
            };
            out.emit(AuditView::from(call(client.audit(req)).await?))
        }
    }
}

async fn queue<W: Write>(
    client: &mut AdminClient<Channel>,
    action: Option<QueueAction>,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
    let response = match action {
        None => call(client.list_queue(pb::ListQueueRequest {})).await?,
        Some(QueueAction::Move {
            job,
            position,
            reason,
        }) => {
            let req = pb::QueueMoveRequest {
                job_id: job.job,
                position,
                reason: reason.reason,
            };
            call(client.queue_move(req)).await?
        }
        Some(QueueAction::Remove { job, reason }) => {
            let req = pb::QueueRemoveRequest {
                job_id: job.job,
                reason: reason.reason,
            };
            call(client.queue_remove(req)).await?
        }
    };
    out.emit(QueueView::from(response))
}
