//! The job verbs of `Deployer`: queueing, acting on a job, and reading
//! jobs, the queue and logs. Trust: untrusted input, checked by each
//! `parse`; who may do what to a job is the engine's to decide.

use std::sync::Arc;

use spiderpig_policy::{ChangeNumber, JobId, JobState, PromptId, TotpCode, validate_change_list};
use spiderpig_proto::v1 as pb;

use super::{WatchStream, job_id, job_reply, job_target, list_filter, totp_code};
use crate::engine::{Caller, Ctx, Engine, ProposedAnswer};
use crate::error::ExecutorError;
use crate::rpc::verbs::{self, TotpPassed, Verb};
use crate::wire;

/// The verbs that take a job id and nothing else, and answer with the job.
macro_rules! job_verb {
    ($(#[$doc:meta])* $verb:ident, $name:literal, |$e:ident, $who:ident, $id:ident, $c:ident| $body:expr) => {
        $(#[$doc])*
        pub struct $verb;
        impl Verb for $verb {
            const NAME: &'static str = $name;
            type Gate = TotpPassed;
            type Request = pb::JobActionRequest;
            type Typed = JobId;
            type Reply = pb::JobResponse;
            fn parse(r: Self::Request) -> Result<JobId, ExecutorError> {
                job_id(r.job_id)
            }
            fn target(id: &JobId) -> String {
                job_target(id)
            }
            async fn call(
                $e: &Arc<Engine>,
                $who: &Caller,
                $id: JobId,
                $c: &Ctx,
            ) -> Result<Self::Reply, ExecutorError> {
                $body?;
                job_reply($e, $id)
            }
        }
    };
}

/// A backport to queue: a checked change list and a fresh code.
pub struct Submission {
    changes: Vec<ChangeNumber>,
    totp: TotpCode,
}

/// Queue a backport.
pub struct SubmitJob;
impl Verb for SubmitJob {
    const NAME: &'static str = "SubmitJob";
    type Gate = TotpPassed;
    type Request = pb::SubmitJobRequest;
    type Typed = Submission;
    type Reply = pb::JobResponse;
    fn parse(r: Self::Request) -> Result<Submission, ExecutorError> {
        let changes = validate_change_list(&r.changes)?;
        Ok(Submission {
            changes,
            totp: totp_code(&r.totp_code)?,
        })
    }
    fn target(_: &Submission) -> String {
        "new job".into()
    }
    async fn call(
        e: &Arc<Engine>,
        who: &Caller,
        a: Submission,
        c: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        let view = e.submit(who, &a.changes, &a.totp, c)?;
        Ok(pb::JobResponse {
            job: Some(wire::job_view(&view)),
        })
    }
}

job_verb!(
    /// Owner (or admin) cancels a queued or awaiting-ready job.
    CancelJob, "CancelJob", |e, who, id, c| e.cancel(who, id, c)
);
job_verb!(
    /// The owner is ready: scap starts.
    Ready, "Ready", |e, who, id, c| e.ready(who, id, c).await
);
job_verb!(
    /// Owner (or admin) frees the lock after scap exited.
    Finish, "Finish", |e, who, id, c| e.finish(who, id, c)
);
job_verb!(
    /// Owner (or admin) sends SIGINT to scap.
    Interrupt, "Interrupt", |e, who, id, c| e.interrupt(who, id, c)
);
job_verb!(
    /// Read a job (any signed-in user may).
    GetJob, "GetJob", |_e, _who, _id, _c| Ok::<_, ExecutorError>(())
);

/// An answer to a job's pending prompt (checked against it by the engine).
pub struct Reply {
    job: JobId,
    prompt: PromptId,
    answer: ProposedAnswer,
}

/// Answer the pending prompt.
pub struct Respond;
impl Verb for Respond {
    const NAME: &'static str = "Respond";
    type Gate = TotpPassed;
    type Request = pb::RespondRequest;
    type Typed = Reply;
    type Reply = pb::JobResponse;
    fn parse(r: Self::Request) -> Result<Reply, ExecutorError> {
        let job = job_id(r.job_id)?;
        let answer = match r.answer {
            Some(pb::respond_request::Answer::ChoiceKey(k)) => ProposedAnswer::Choice(k),
            Some(pb::respond_request::Answer::InputLine(l)) => ProposedAnswer::Line(l),
            None => return Err(ExecutorError::InvalidArgument("no answer given".into())),
        };
        Ok(Reply {
            job,
            prompt: PromptId::new(r.prompt_id)?,
            answer,
        })
    }
    fn target(a: &Reply) -> String {
        job_target(&a.job)
    }
    async fn call(
        e: &Arc<Engine>,
        who: &Caller,
        a: Reply,
        c: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        e.respond(who, a.job, a.prompt, a.answer, c).await?;
        job_reply(e, a.job)
    }
}

/// A revert to queue: the finished backport and a fresh code.
pub struct Reversal {
    job: JobId,
    totp: TotpCode,
}

/// Queue `scap backport --revert` of a finished backport.
pub struct Revert;
impl Verb for Revert {
    const NAME: &'static str = "Revert";
    type Gate = TotpPassed;
    type Request = pb::RevertRequest;
    type Typed = Reversal;
    type Reply = pb::JobResponse;
    fn parse(r: Self::Request) -> Result<Reversal, ExecutorError> {
        Ok(Reversal {
            job: job_id(r.job_id)?,
            totp: totp_code(&r.totp_code)?,
        })
    }
    fn target(a: &Reversal) -> String {
        job_target(&a.job)
    }
    async fn call(
        e: &Arc<Engine>,
        who: &Caller,
        a: Reversal,
        c: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        let view = e.revert(who, a.job, &a.totp, c)?;
        Ok(pb::JobResponse {
            job: Some(wire::job_view(&view)),
        })
    }
}

/// One page of history, filters checked.
pub struct History {
    before: u64,
    page_size: u32,
    owner: Option<String>,
    states: Vec<JobState>,
}

/// History, newest first.
pub struct ListJobs;
impl Verb for ListJobs {
    const NAME: &'static str = "ListJobs";
    type Gate = TotpPassed;
    type Request = pb::ListJobsRequest;
    type Typed = History;
    type Reply = pb::ListJobsResponse;
    fn parse(r: Self::Request) -> Result<History, ExecutorError> {
        let (owner, states) = list_filter(&r.owner, &r.states)?;
        Ok(History {
            before: r.before_job_id,
            page_size: r.page_size,
            owner,
            states,
        })
    }
    fn target(_: &History) -> String {
        "history".into()
    }
    async fn call(
        e: &Arc<Engine>,
        _: &Caller,
        h: History,
        _: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        let (jobs, next_before_job_id) = e.list_jobs(h.before, h.page_size, h.owner, h.states)?;
        Ok(pb::ListJobsResponse {
            jobs: jobs.iter().map(wire::job_view).collect(),
            next_before_job_id,
        })
    }
}

bare_verb!(
    /// The queue, the lock holder and the freeze.
    GetQueue, "GetQueue", TotpPassed, pb::GetQueueRequest => pb::QueueResponse,
    refused "job.not_authorized", target "queue",
    |e, _, _| { Ok(wire::queue(&e.get_queue()?)) }
);

/// Where to read a job's log from.
pub struct LogPage {
    job: JobId,
    after_seq: u64,
    limit: u32,
}

/// A job's redacted log.
pub struct GetLog;
impl Verb for GetLog {
    const NAME: &'static str = "GetLog";
    type Gate = TotpPassed;
    type Request = pb::GetLogRequest;
    type Typed = LogPage;
    type Reply = pb::GetLogResponse;
    fn parse(r: Self::Request) -> Result<LogPage, ExecutorError> {
        Ok(LogPage {
            job: job_id(r.job_id)?,
            after_seq: r.after_seq,
            limit: r.limit,
        })
    }
    fn target(p: &LogPage) -> String {
        job_target(&p.job)
    }
    async fn call(
        e: &Arc<Engine>,
        _: &Caller,
        p: LogPage,
        _: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        let page = e.get_log(p.job.get(), p.after_seq, p.limit)?;
        Ok(pb::GetLogResponse {
            records: wire::log_page(&page, false),
            more: page.more,
            next_hidden: 0,
        })
    }
}

/// What a Watch stream follows: global events only, or a job too (and,
/// `logs_only`, that job's log without the global events).
pub struct Follow {
    job: Option<JobId>,
    after_seq: u64,
    carries: crate::rpc::watch::Carries,
}

/// Live events for one browser tab.
pub struct Watch;
impl Verb for Watch {
    const NAME: &'static str = "Watch";
    type Gate = TotpPassed;
    type Request = pb::WatchRequest;
    type Typed = Follow;
    type Reply = WatchStream;
    fn parse(r: Self::Request) -> Result<Follow, ExecutorError> {
        // Job 0 on the wire: global events only.
        let job = (r.job_id != 0).then(|| job_id(r.job_id)).transpose()?;
        Ok(Follow {
            job,
            after_seq: r.after_seq,
            carries: crate::rpc::watch::Carries {
                logs_only: r.logs_only,
                session_ends: r.session_ends,
            },
        })
    }
    fn target(f: &Follow) -> String {
        f.job.as_ref().map_or_else(|| "events".into(), job_target)
    }
    async fn call(
        e: &Arc<Engine>,
        who: &Caller,
        f: Follow,
        _: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        if let Some(id) = f.job {
            e.get_job(id)?;
        }
        let job = f.job.map_or(0, JobId::get);
        let stream = crate::rpc::watch::open(e.clone(), who.clone(), job, f.after_seq, f.carries);
        Ok(Box::pin(stream))
    }
}
