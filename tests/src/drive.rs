//! Driving jobs over the `Deployer` service the way spiderpig-web does.

use std::time::Duration;

use anyhow::{Context, bail};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use tonic::transport::Channel;

/// A deployer's view of the executor, for one session.
#[derive(Clone)]
pub struct Driver {
    pub client: DeployerClient<Channel>,
    pub token: String,
}

impl Driver {
    pub fn new(client: DeployerClient<Channel>, token: &str) -> Self {
        Driver {
            client,
            token: token.to_string(),
        }
    }

    pub fn session(&self) -> Option<pb::Session> {
        Some(pb::Session {
            token: self.token.clone(),
        })
    }

    fn action(&self, job: u64) -> pb::JobActionRequest {
        pb::JobActionRequest {
            ctx: None,
            session: self.session(),
            job_id: job,
        }
    }

    pub async fn submit(&mut self, changes: &[u64], totp: &str) -> Result<pb::Job, tonic::Status> {
        let req = pb::SubmitJobRequest {
            ctx: None,
            session: self.session(),
            changes: changes.to_vec(),
            totp_code: totp.to_string(),
        };
        Ok(self
            .client
            .submit_job(req)
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn job(&mut self, id: u64) -> Result<pb::Job, tonic::Status> {
        Ok(self
            .client
            .get_job(self.action(id))
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn ready(&mut self, id: u64) -> Result<pb::Job, tonic::Status> {
        Ok(self
            .client
            .ready(self.action(id))
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn cancel(&mut self, id: u64) -> Result<pb::Job, tonic::Status> {
        Ok(self
            .client
            .cancel_job(self.action(id))
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn finish(&mut self, id: u64) -> Result<pb::Job, tonic::Status> {
        Ok(self
            .client
            .finish(self.action(id))
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn interrupt(&mut self, id: u64) -> Result<pb::Job, tonic::Status> {
        Ok(self
            .client
            .interrupt(self.action(id))
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn respond(
        &mut self,
        id: u64,
        prompt: u64,
        key: &str,
    ) -> Result<pb::Job, tonic::Status> {
        let req = pb::RespondRequest {
            ctx: None,
            session: self.session(),
            job_id: id,
            prompt_id: prompt,
            answer: Some(pb::respond_request::Answer::ChoiceKey(key.to_string())),
        };
        Ok(self
            .client
            .respond(req)
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn respond_line(
        &mut self,
        id: u64,
        prompt: u64,
        line: &str,
    ) -> Result<pb::Job, tonic::Status> {
        let req = pb::RespondRequest {
            ctx: None,
            session: self.session(),
            job_id: id,
            prompt_id: prompt,
            answer: Some(pb::respond_request::Answer::InputLine(line.to_string())),
        };
        Ok(self
            .client
            .respond(req)
            .await?
            .into_inner()
            .job
            .expect("job"))
    }

    pub async fn queue(&mut self) -> Result<pb::QueueResponse, tonic::Status> {
        let req = pb::GetQueueRequest {
            ctx: None,
            session: self.session(),
        };
        Ok(self.client.get_queue(req).await?.into_inner())
    }

    /// The whole redacted log.
    pub async fn log(&mut self, id: u64) -> Result<Vec<pb::LogRecord>, tonic::Status> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let req = pb::GetLogRequest {
                ctx: None,
                session: self.session(),
                job_id: id,
                after_seq: after,
                limit: 0,
            };
            let r = self.client.get_log(req).await?.into_inner();
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
