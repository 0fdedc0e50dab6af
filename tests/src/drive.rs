//! Driving jobs over the `Deployer` service the way spiderpig-web does,
//! through `spiderpig_client::DeployerClient`.

use std::time::Duration;

use anyhow::{Context, bail};
use spiderpig_client::{Answer, DeployerClient, RequestContext, Session};
use spiderpig_policy::{ChangeNumber, JobId, PromptId, TotpCode};
use spiderpig_proto::v1 as pb;
use tonic::Status;

/// A deployer's view of the executor, for one session.
#[derive(Clone)]
pub struct Driver {
    pub client: DeployerClient,
    pub session: Session,
    /// Empty: the executor records no browser address or request id.
    pub ctx: RequestContext,
}

/// A test's job id, which must be a valid one: tests of bad ids use the raw
/// client.
fn id(n: u64) -> JobId {
    JobId::new(n).expect("a valid job id")
}

fn code(s: &str) -> TotpCode {
    TotpCode::parse(s).expect("a well-formed TOTP code")
}

impl Driver {
    pub fn new(client: impl Into<DeployerClient>, token: &str) -> Self {
        Driver {
            client: client.into(),
            session: Session::new(token),
            ctx: RequestContext::default(),
        }
    }

    pub async fn submit(&mut self, changes: &[u64], totp: &str) -> Result<pb::Job, Status> {
        let changes: Vec<ChangeNumber> = changes
            .iter()
            .map(|&n| ChangeNumber::new(n).expect("a valid change number"))
            .collect();
        let (s, c) = (&self.session, &self.ctx);
        self.client.submit_job(s, c, &changes, &code(totp)).await
    }

    /// SubmitJob with `changes` exactly as given, unchecked, so that tests
    /// can send lists the executor must refuse (a zero, too many ...).
    pub async fn submit_unchecked(
        &mut self,
        changes: &[u64],
        totp: &str,
    ) -> Result<pb::Job, Status> {
        let req = pb::SubmitJobRequest {
            ctx: self.ctx.pb(),
            session: self.raw_session(),
            changes: changes.to_vec(),
            totp_code: totp.to_string(),
        };
        let r = self.client.raw().submit_job(req).await?.into_inner();
        Ok(r.job.expect("job"))
    }

    fn raw_session(&self) -> Option<pb::Session> {
        Some(pb::Session {
            token: self.session.token().to_string(),
        })
    }

    pub async fn revert(&mut self, job: u64, totp: &str) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        self.client.revert(s, c, id(job), &code(totp)).await
    }

    pub async fn job(&mut self, job: u64) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        self.client.get_job(s, c, id(job)).await
    }

    pub async fn ready(&mut self, job: u64) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        self.client.ready(s, c, id(job)).await
    }

    pub async fn cancel(&mut self, job: u64) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        self.client.cancel_job(s, c, id(job)).await
    }

    pub async fn finish(&mut self, job: u64) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        self.client.finish(s, c, id(job)).await
    }

    pub async fn interrupt(&mut self, job: u64) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        self.client.interrupt(s, c, id(job)).await
    }

    /// Answer with one of the prompt's keys (any key: the executor checks).
    pub async fn respond(&mut self, job: u64, prompt: u64, key: &str) -> Result<pb::Job, Status> {
        let (s, c) = (&self.session, &self.ctx);
        let answer = Answer::Choice(key.to_string());
        let prompt = PromptId::new(prompt).expect("prompt ids the tests answer are not 0");
        self.client.respond(s, c, id(job), prompt, &answer).await
    }

    /// Answer an input-line prompt with `line` as it is, unchecked, so that
    /// tests can send lines the executor must refuse.
    pub async fn respond_line(
        &mut self,
        job: u64,
        prompt: u64,
        line: &str,
    ) -> Result<pb::Job, Status> {
        let req = pb::RespondRequest {
            ctx: self.ctx.pb(),
            session: self.raw_session(),
            job_id: job,
            prompt_id: prompt,
            answer: Some(pb::respond_request::Answer::InputLine(line.to_string())),
        };
        let r = self.client.raw().respond(req).await?.into_inner();
        Ok(r.job.expect("job"))
    }

    pub async fn queue(&mut self) -> Result<pb::QueueResponse, Status> {
        self.client.get_queue(&self.session, &self.ctx).await
    }

    /// The whole redacted log.
    pub async fn log(&mut self, job: u64) -> Result<Vec<pb::LogRecord>, Status> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (s, c) = (&self.session, &self.ctx);
            let r = self.client.get_log(s, c, id(job), after, 0).await?;
            if let Some(last) = r.records.last() {
                after = last.seq;
            }
            all.extend(r.records);
            if !r.more {
                return Ok(all);
            }
        }
    }

    /// Poll until the job is in `state` (10 s at most).
    pub async fn wait_state(&mut self, id: u64, state: pb::JobState) -> anyhow::Result<pb::Job> {
        let start = std::time::Instant::now();
        loop {
            let job = self.job(id).await?;
            if job.state == state as i32 {
                return Ok(job);
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!(
                    "job {id} is {:?}, expected {state:?}",
                    pb::JobState::try_from(job.state)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait for a prompt whose text contains `needle`; return it.
    pub async fn wait_prompt(&mut self, id: u64, needle: &str) -> anyhow::Result<pb::Prompt> {
        let start = std::time::Instant::now();
        loop {
            let job = self.job(id).await?;
            if let Some(p) = job
                .pending_prompt
                .filter(|_| job.state == pb::JobState::AwaitingInput as i32)
            {
                if p.text.contains(needle) {
                    return Ok(p);
                }
                bail!(
                    "job {id} asks {:?}, expected a prompt containing {needle:?}",
                    p.text
                );
            }
            if job.state != pb::JobState::Running as i32 {
                let log = self.log(id).await.unwrap_or_default();
                let text: Vec<String> = log.iter().map(|r| r.text.clone()).collect();
                bail!(
                    "job {id} is {:?} ({}) while waiting for {needle:?}; log: {text:#?}",
                    pb::JobState::try_from(job.state),
                    job.outcome
                );
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("no prompt {needle:?} on job {id}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Answer a sequence of prompts: (text fragment, key).
    pub async fn answer_all(&mut self, id: u64, script: &[(&str, &str)]) -> anyhow::Result<()> {
        for (needle, key) in script {
            let p = self.wait_prompt(id, needle).await?;
            self.respond(id, p.prompt_id, key)
                .await
                .with_context(|| format!("answer {key} to {needle}"))?;
        }
        Ok(())
    }
}
