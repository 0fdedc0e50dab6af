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

use super::args::{QueueAction, ReasonArg, TotpAction, UserArg, Verb};
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
        Verb::Freeze { reason, until } => freeze(client, reason, until, out).await,
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
        Verb::Logout { user, all, reason } => logout(client, user, all, reason, out).await,
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
            let req = list_jobs_request(user, states, limit, before);
            out.emit(JobsView::from(call(client.admin_list_jobs(req)).await?))
        }
        Verb::Log {
            job,
            include_sensitive,
            reason,
            after,
        } => {
            let read = super::log::Read {
                job_id: job.job,
                sensitive: include_sensitive.then(|| reason.unwrap_or_default()),
                after_seq: after,
            };
            super::log::print(client, read, out).await
        }
        Verb::Totp {
            action: TotpAction::Reset { user, reason },
        } => reset_totp(client, user, reason, out).await,
        Verb::Audit { since, limit } => audit(client, since, limit, out).await,
    }
}

/// `freeze [--until T]`: without `--until`, until `unfreeze`.
async fn freeze<W: Write>(
    client: &mut AdminClient<Channel>,
    reason: ReasonArg,
    until: Option<i64>,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
    let req = pb::FreezeRequest {
        reason: reason.reason,
        until_ms: until.unwrap_or(0),
    };
    out.emit(FreezeView::from(call(client.freeze(req)).await?))
}

/// `audit [--since T] [--limit N]`; 0 means "not given".
async fn audit<W: Write>(
    client: &mut AdminClient<Channel>,
    since: Option<i64>,
    limit: Option<u32>,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
    let req = pb::AuditRequest {
        since_ms: since.unwrap_or(0),
        limit: limit.unwrap_or(0),
    };
    out.emit(AuditView::from(call(client.audit(req)).await?))
}

/// `logout USER` or `logout --all`.
async fn logout<W: Write>(
    client: &mut AdminClient<Channel>,
    user: Option<String>,
    all: bool,
    reason: ReasonArg,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
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

/// `totp reset USER`.
async fn reset_totp<W: Write>(
    client: &mut AdminClient<Channel>,
    user: UserArg,
    reason: ReasonArg,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
    let req = pb::ResetTotpRequest {
        username: user.user,
        reason: reason.reason,
    };
    let r = call(client.reset_totp(req)).await?;
    out.emit(SessionsEndedView {
        sessions_ended: r.sessions_ended,
    })
}

/// `jobs`' filters as the request; 0 and empty mean "not given".
fn list_jobs_request(
    user: Option<String>,
    states: Vec<spiderpig_policy::JobState>,
    limit: Option<u32>,
    before: Option<u64>,
) -> pb::AdminListJobsRequest {
    pb::AdminListJobsRequest {
        page_size: limit.unwrap_or(0),
        before_job_id: before.unwrap_or(0),
        owner: user.unwrap_or_default(),
        states: states
            .into_iter()
            .map(|s| spiderpig_proto::v1::JobState::from(s) as i32)
            .collect(),
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
