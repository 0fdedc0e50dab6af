//! The executor calls behind both the JSON API and the page forms: one place
//! that builds each `Deployer` request. Trust: input arrives here already in
//! checked newtypes; the executor authenticates the token and decides.

use spiderpig_policy::{ChangeNumber, InputLine, JobId, TotpCode};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use tonic::transport::Channel;

use super::filters::Filters;
use crate::error::WebError;
use crate::executor::{Origin, session};
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

/// An answer to a pending prompt.
#[derive(Debug, Clone)]
pub enum Answer {
    /// One of the prompt's keys (the executor checks which).
    Key(String),
    /// A line of text for an input-line prompt.
    Line(InputLine),
}

/// Calls made for one person: their session token and the request's origin.
/// Owned (cheap clones) so a streamed download can keep it.
#[derive(Clone)]
pub struct Caller {
    state: AppState,
    origin: Origin,
    token: String,
}

impl Caller {
    pub fn new(state: &AppState, origin: &Origin, token: &str) -> Caller {
        Caller {
            state: state.clone(),
            origin: origin.clone(),
            token: token.to_string(),
        }
    }

    fn client(&self) -> DeployerClient<Channel> {
        self.state.executor.client()
    }

    fn ctx(&self) -> Option<pb::RequestContext> {
        self.origin.ctx()
    }

    fn session(&self) -> Option<pb::Session> {
        session(&self.token)
    }

    fn action_request(&self, id: JobId) -> pb::JobActionRequest {
        pb::JobActionRequest {
            ctx: self.ctx(),
            session: self.session(),
            job_id: id.get(),
        }
    }

    pub async fn queue(&self) -> Result<pb::QueueResponse, WebError> {
        let req = pb::GetQueueRequest {
            ctx: self.ctx(),
            session: self.session(),
        };
        Ok(self.client().get_queue(req).await?.into_inner())
    }

    pub async fn job(&self, id: JobId) -> Result<pb::Job, WebError> {
        job_of(self.client().get_job(self.action_request(id)).await?)
    }

    pub async fn list(&self, filters: &Filters) -> Result<pb::ListJobsResponse, WebError> {
        let req = pb::ListJobsRequest {
            ctx: self.ctx(),
            session: self.session(),
            page_size: filters.limit,
            before_job_id: filters.before.map_or(0, JobId::get),
            owner: filters
                .owner
                .as_ref()
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
            states: filters
                .states
                .iter()
                .map(|s| pb::JobState::from(*s) as i32)
                .collect(),
        };
        Ok(self.client().list_jobs(req).await?.into_inner())
    }

    /// Records with `seq > after`, at most `limit` (1..=5000).
    pub async fn log(
        &self,
        id: JobId,
        after: u64,
        limit: u32,
    ) -> Result<pb::GetLogResponse, WebError> {
        let req = pb::GetLogRequest {
            ctx: self.ctx(),
            session: self.session(),
            job_id: id.get(),
            after_seq: after,
            limit: limit.clamp(1, MAX_LOG_PAGE),
        };
        Ok(self.client().get_log(req).await?.into_inner())
    }

    pub async fn submit(
        &self,
        changes: &[ChangeNumber],
        totp: &TotpCode,
    ) -> Result<pb::Job, WebError> {
        let req = pb::SubmitJobRequest {
            ctx: self.ctx(),
            session: self.session(),
            changes: changes.iter().map(|c| c.get()).collect(),
            totp_code: totp.as_str().to_string(),
        };
        job_of(self.client().submit_job(req).await?)
    }

    pub async fn act(&self, action: Action, id: JobId) -> Result<pb::Job, WebError> {
        let req = self.action_request(id);
        let mut client = self.client();
        let res = match action {
            Action::Ready => client.ready(req).await?,
            Action::Cancel => client.cancel_job(req).await?,
            Action::Interrupt => client.interrupt(req).await?,
            Action::Finish => client.finish(req).await?,
        };
        job_of(res)
    }

    /// Queue a revert of a done job; returns the new job.
    pub async fn revert(&self, id: JobId, totp: &TotpCode) -> Result<pb::Job, WebError> {
        let req = pb::RevertRequest {
            ctx: self.ctx(),
            session: self.session(),
            job_id: id.get(),
            totp_code: totp.as_str().to_string(),
        };
        job_of(self.client().revert(req).await?)
    }

    pub async fn respond(
        &self,
        id: JobId,
        prompt_id: u64,
        answer: Answer,
    ) -> Result<pb::Job, WebError> {
        use pb::respond_request::Answer as A;
        let req = pb::RespondRequest {
            ctx: self.ctx(),
            session: self.session(),
            job_id: id.get(),
            prompt_id,
            answer: Some(match answer {
                Answer::Key(k) => A::ChoiceKey(k),
                Answer::Line(l) => A::InputLine(l.as_str().to_string()),
            }),
        };
        job_of(self.client().respond(req).await?)
    }
}

fn job_of(res: tonic::Response<pb::JobResponse>) -> Result<pb::Job, WebError> {
    res.into_inner()
        .job
        .ok_or_else(|| WebError::Internal("the executor answered without a job".into()))
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
pub fn prompt_id(id: u64) -> Result<u64, WebError> {
    if id == 0 {
        return Err(WebError::BadRequest(
            "a prompt id is a positive number".into(),
        ));
    }
    Ok(id)
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
            Ok(Answer::Key(k.to_string()))
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
        assert!(matches!(answer(Some("y"), None), Ok(Answer::Key(k)) if k == "y"));
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
        assert_eq!(prompt_id(3).unwrap(), 3);
    }
}
