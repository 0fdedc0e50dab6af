//! The executor calls behind both the JSON API and the page forms: one place
//! that builds each `Deployer` request. Trust: input arrives here already in
//! checked newtypes; the executor authenticates the token and decides.

use spiderpig_client::{Answer, DeployerClient, JobFilter};
use spiderpig_policy::{ChangeNumber, JobId, PromptId, TotpCode};
use spiderpig_proto::v1 as pb;

use super::filters::Filters;
use crate::error::WebError;
use crate::executor::{RequestContext, Session};
use crate::state::AppState;

/// Largest page of log records asked for at once (the executor's maximum).
pub const MAX_LOG_PAGE: u32 = 5000;

/// The job verbs that take nothing but the job id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ready,
    Cancel,
    Interrupt,
    Finish,
}

/// Calls made for one person through the typed executor client: their
/// session and the request's context. Owned (cheap clones) so a streamed
/// download can keep it.
#[derive(Clone)]
pub struct Caller {
    client: DeployerClient,
    ctx: RequestContext,
    session: Session,
}

impl Caller {
    pub fn new(state: &AppState, ctx: &RequestContext, token: &str) -> Caller {
        Caller {
            client: state.executor.client(),
            ctx: ctx.clone(),
            session: Session::new(token),
        }
    }

    pub async fn queue(&self) -> Result<pb::QueueResponse, WebError> {
        let (mut c, s) = (self.client.clone(), &self.session);
        Ok(c.get_queue(s, &self.ctx).await?)
    }

    pub async fn job(&self, id: JobId) -> Result<pb::Job, WebError> {
        let (mut c, s) = (self.client.clone(), &self.session);
        Ok(c.get_job(s, &self.ctx, id).await?)
    }

    pub async fn list(&self, filters: &Filters) -> Result<pb::ListJobsResponse, WebError> {
        let filter = JobFilter {
            page_size: filters.limit,
            before: filters.before,
            owner: filters.owner.clone(),
            states: filters.states.clone(),
        };
        let (mut c, s) = (self.client.clone(), &self.session);
        Ok(c.list_jobs(s, &self.ctx, &filter).await?)
    }

    /// Records with `seq > after`, at most `limit` (1..=5000).
    pub async fn log(
        &self,
        id: JobId,
        after: u64,
        limit: u32,
    ) -> Result<pb::GetLogResponse, WebError> {
        let (mut c, s) = (self.client.clone(), &self.session);
        let limit = limit.clamp(1, MAX_LOG_PAGE);
        Ok(c.get_log(s, &self.ctx, id, after, limit).await?)
    }

    pub async fn submit(
        &self,
        changes: &[ChangeNumber],
        totp: &TotpCode,
    ) -> Result<pb::Job, WebError> {
        let (mut c, s) = (self.client.clone(), &self.session);
        Ok(c.submit_job(s, &self.ctx, changes, totp).await?)
    }

    pub async fn act(&self, action: Action, id: JobId) -> Result<pb::Job, WebError> {
        let (mut c, s, ctx) = (self.client.clone(), &self.session, &self.ctx);
        let job = match action {
            Action::Ready => c.ready(s, ctx, id).await?,
            Action::Cancel => c.cancel_job(s, ctx, id).await?,
            Action::Interrupt => c.interrupt(s, ctx, id).await?,
            Action::Finish => c.finish(s, ctx, id).await?,
        };
        Ok(job)
    }

    /// Queue a revert of a done job; returns the new job.
    pub async fn revert(&self, id: JobId, totp: &TotpCode) -> Result<pb::Job, WebError> {
        let (mut c, s) = (self.client.clone(), &self.session);
        Ok(c.revert(s, &self.ctx, id, totp).await?)
    }

    pub async fn respond(
        &self,
        id: JobId,
        prompt: PromptId,
        answer: Answer,
    ) -> Result<pb::Job, WebError> {
        let (mut c, s) = (self.client.clone(), &self.session);
        Ok(c.respond(s, &self.ctx, id, prompt, &answer).await?)
    }
}

/// A job id from a path segment.
pub fn job_id(segment: &str) -> Result<JobId, WebError> {
    segment
        .parse::<JobId>()
        .map_err(|e| WebError::BadRequest(e.to_string()))
}

/// A TOTP code as typed, checked before it is sent.
pub fn totp(code: &str) -> Result<TotpCode, WebError> {
    TotpCode::parse(code).map_err(|e| WebError::BadRequest(e.to_string()))
}

/// A prompt id from a form or JSON body.
pub fn prompt_id(id: u64) -> Result<PromptId, WebError> {
    PromptId::new(id).map_err(|_| WebError::BadRequest("a prompt id is a positive number".into()))
}

/// Longest choice key forwarded (scap's keys are a character or a word).
const MAX_KEY_CHARS: usize = 32;

/// An answer from `key` or `line`: exactly one of them.
pub fn answer(key: Option<&str>, line: Option<&str>) -> Result<Answer, WebError> {
    match (key, line) {
        (Some(k), None) => {
            let ok = !k.is_empty()
                && k.len() <= MAX_KEY_CHARS
                && k.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(WebError::BadRequest(
                    "that answer is not one of the choices this prompt offers".into(),
                ));
            }
            Ok(Answer::Choice(k.to_string()))
        }
        (None, Some(l)) => spiderpig_policy::validate_input_line(l)
            .map(Answer::Line)
            .map_err(|e| WebError::BadRequest(e.to_string())),
        (Some(_), Some(_)) => Err(WebError::BadRequest(
            "give either a key or a line, not both".into(),
        )),
        (None, None) => Err(WebError::BadRequest(
            "no answer given: give a key or a line".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_need_exactly_one_well_formed_part() {
        assert!(matches!(answer(Some("y"), None), Ok(Answer::Choice(k)) if k == "y"));
        assert!(matches!(
            answer(None, Some("yes please")),
            Ok(Answer::Line(_))
        ));
        for (key, line) in [
            (None, None),
            (Some("y"), Some("x")),
            (Some(""), None),
            (Some("y\n"), None),
            (Some("a b"), None),
            (None, Some("two\nlines")),
        ] {
            assert!(
                matches!(answer(key, line), Err(WebError::BadRequest(_))),
                "{key:?} {line:?}"
            );
        }
        let long = "k".repeat(MAX_KEY_CHARS + 1);
        assert!(answer(Some(&long), None).is_err());
    }

    #[test]
    fn ids_and_codes_are_checked_before_sending() {
        assert_eq!(job_id("12").unwrap().get(), 12);
        for bad in ["0", "", "-1", "1e3", "１", "18446744073709551616", "12/"] {
            assert!(matches!(job_id(bad), Err(WebError::BadRequest(_))), "{bad}");
        }
        assert!(totp("123456").is_ok());
        for bad in ["12345", "1234567", "12345a", " 123456", "１２３４５６"] {
            assert!(matches!(totp(bad), Err(WebError::BadRequest(_))), "{bad}");
        }
        assert!(prompt_id(0).is_err());
        assert_eq!(prompt_id(3).unwrap().get(), 3);
    }
}
