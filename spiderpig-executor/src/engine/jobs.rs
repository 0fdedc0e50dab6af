//! Deployer verbs on jobs. Trust: the caller is authenticated; everything
//! else about the request (job ids, changes, answers) is untrusted and
//! checked here or in the policy crate before anything changes.

use spiderpig_policy::{
    Actor, ChangeNumber, InputLine, JobEvent, JobId, JobState, PromptId, TotpCode, validate_choice,
    validate_input_line,
};

use super::session::Caller;
use super::{Audit, Ctx, Engine, JobView};
use crate::error::{ExecutorError, Result};
use crate::runner::Answer;
use crate::store::{JobKind, JobRecord, LogKind, LogRow, Reads};

/// The caller's relation to a job.
pub(crate) fn actor_for(caller: &Caller, job: &JobRecord) -> Actor {
    if caller.username == job.owner {
        Actor::Owner
    } else if caller.is_admin() {
        Actor::Admin
    } else {
        Actor::OtherUser
    }
}

/// A validated answer to the pending prompt.
#[derive(Debug, Clone)]
pub enum ProposedAnswer {
    Choice(String),
    Line(String),
}

impl Engine {
    /// Queue a backport of `changes` (a list checked by
    /// `policy::validate_change_list`). A fresh TOTP code is required.
    pub fn submit(
        &self,
        caller: &Caller,
        changes: &[ChangeNumber],
        totp: &TotpCode,
        ctx: &Ctx,
    ) -> Result<JobView> {
        self.queue_job(caller, JobKind::Backport, changes.to_vec(), 0, totp, ctx)
    }

    /// Queue `scap backport --revert` of a finished backport's changes.
    pub fn revert(
        &self,
        caller: &Caller,
        job_id: JobId,
        totp: &TotpCode,
        ctx: &Ctx,
    ) -> Result<JobView> {
        let job_id = job_id.get();
        let source = self.store.read(|tx| tx.job_or_404(job_id))?;
        if !spiderpig_policy::may_revert(source.state, source.kind) {
            return Err(ExecutorError::WrongState(
                "only a finished backport can be reverted".into(),
            ));
        }
        self.queue_job(caller, JobKind::Revert, source.changes, job_id, totp, ctx)
    }

    fn queue_job(
        &self,
        caller: &Caller,
        kind: JobKind,
        changes: Vec<ChangeNumber>,
        reverts: u64,
        totp: &TotpCode,
        ctx: &Ctx,
    ) -> Result<JobView> {
        let (id, promoted) = self.store.write_outcome(|tx| {
            if let Err(e) = self.still_signed_in(tx, caller) {
                return Ok(Err(e));
            }
            if let Err(e) = self.check_totp(tx, &caller.username, totp, ctx)? {
                return Ok(Err(e));
            }
            let id = tx.next_job_id()?;
            let mut job =
                JobRecord::queued(id, &caller.username, kind, changes.clone(), self.now());
            job.reverts_job = reverts;
            if let Err(e) = self.queue.enqueue(tx, &job)? {
                return Ok(Err(e));
            }
            let target = format!("job {id} ({kind:?} {changes:?})");
            self.audit(
                tx,
                Audit::ok(&caller.username, "job.submit", &target, &ctx.client_addr),
            )?;
            let promoted = self.queue.promote(tx, self.now())?;
            Ok(Ok((id, promoted)))
        })?;
        self.publish_pair(id, promoted);
        self.store.read(|tx| self.job_view(tx, id))
    }

    /// Owner (or admin) cancels a queued or awaiting-ready job.
    pub fn cancel(&self, caller: &Caller, job_id: JobId, ctx: &Ctx) -> Result<()> {
        let job_id = job_id.get();
        let promoted = self.store.write(|tx| {
            let mut job = tx.job_or_404(job_id)?;
            let was = job.state;
            let actor = actor_for(caller, &job);
            self.apply(&mut job, JobEvent::Cancel, actor)?;
            job.outcome = format!("cancelled by {}", caller.username);
            tx.put_job(&job)?;
            let promoted = self.queue.unlink(tx, job_id, was, self.now())?;
            let target = format!("job {job_id}");
            self.audit(
                tx,
                Audit::ok(&caller.username, "job.cancel", &target, &ctx.client_addr),
            )?;
            Ok(promoted)
        })?;
        self.publish_pair(job_id, promoted);
        Ok(())
    }

    /// The owner is ready: start scap.
    pub async fn ready(
        self: &std::sync::Arc<Self>,
        caller: &Caller,
        id: JobId,
        ctx: &Ctx,
    ) -> Result<()> {
        let job_id = id.get();
        let job = self.store.write(|tx| {
            self.still_signed_in(tx, caller)?;
            let mut job = tx.job_or_404(job_id)?;
            let freeze = tx.freeze()?;
            if freeze.in_force(self.now()) {
                return Err(ExecutorError::Frozen(freeze.reason));
            }
            let actor = actor_for(caller, &job);
            self.apply(&mut job, JobEvent::Ready, actor)?;
            job.started_ms = self.now();
            tx.put_job(&job)?;
            let target = format!("job {job_id}");
            self.audit(
                tx,
                Audit::ok(&caller.username, "job.ready", &target, &ctx.client_addr),
            )?;
            Ok(job)
        })?;
        self.publish_jobs(&[job_id]);
        self.start_run(id, job).await
    }

    /// Answer the pending prompt of a job.
    pub async fn respond(
        &self,
        caller: &Caller,
        job_id: JobId,
        prompt_id: PromptId,
        answer: ProposedAnswer,
        ctx: &Ctx,
    ) -> Result<()> {
        let (job_id, prompt_id) = (job_id.get(), prompt_id.get());
        let (validated, label) = self.store.write(|tx| {
            self.still_signed_in(tx, caller)?;
            let mut job = tx.job_or_404(job_id)?;
            let actor = actor_for(caller, &job);
            if actor == Actor::OtherUser {
                return Err(ExecutorError::NotYourJob);
            }
            let prompt = match &job.pending_prompt {
                Some(p) if p.prompt_id == prompt_id && job.state == JobState::AwaitingInput => {
                    p.clone()
                }
                _ => return Err(ExecutorError::PromptNotPending),
            };
            let (validated, label) = validate_answer(&prompt, answer)?;
            self.apply(&mut job, JobEvent::PromptAnswered, actor)?;
            job.pending_prompt = None;
            tx.put_job(&job)?;
            let target = format!("job {job_id} prompt {prompt_id}");
            self.audit(
                tx,
                Audit::ok(&caller.username, "job.answer", &target, &ctx.client_addr)
                    .with_reason(&label),
            )?;
            Ok((validated, label))
        })?;
        let note = format!("{} chose: {}", caller.username, label);
        self.logs
            .append(job_id, LogRow::now(self.now(), LogKind::Answer, note));
        self.hub
            .publish_prompt_closed(job_id, prompt_id, &caller.username, &label);
        self.publish_jobs(&[job_id]);
        let control = self.runs.control(job_id);
        match control {
            Some(c) => c.answer(validated).await,
            None => Err(ExecutorError::Internal(format!(
                "job {job_id} has no live scap"
            ))),
        }
    }

    /// Owner (or admin) frees the lock after scap exited or after a restart.
    pub fn finish(&self, caller: &Caller, job_id: JobId, ctx: &Ctx) -> Result<()> {
        let job_id = job_id.get();
        let actor = actor_for(caller, &caller_job(self, job_id)?);
        self.finish_as(&caller.username, actor, job_id, "", ctx)
    }

    pub(crate) fn finish_as(
        &self,
        who: &str,
        actor: Actor,
        job_id: u64,
        reason: &str,
        ctx: &Ctx,
    ) -> Result<()> {
        let gate = self.logs.gate();
        let promoted = self.store.write(|tx| {
            let mut job = tx.job_or_404(job_id)?;
            let was = job.state;
            self.apply(&mut job, JobEvent::Finish, actor)?;
            job.finished_by = who.to_string();
            self.logs.flush_in(tx, &mut job)?;
            tx.put_job(&job)?;
            let promoted = self.queue.unlink(tx, job_id, was, self.now())?;
            let target = format!("job {job_id}");
            self.audit(
                tx,
                Audit::ok(who, "job.finish", &target, &ctx.client_addr).with_reason(reason),
            )?;
            Ok(promoted)
        })?;
        self.logs.forget(job_id);
        drop(gate);
        self.publish_pair(job_id, promoted);
        Ok(())
    }

    /// Owner (or admin) sends SIGINT to scap.
    pub fn interrupt(&self, caller: &Caller, job_id: JobId, ctx: &Ctx) -> Result<()> {
        let job_id = job_id.get();
        let actor = actor_for(caller, &caller_job(self, job_id)?);
        self.interrupt_as(&caller.username, actor, job_id, "", ctx)
    }

    /// [`Engine::interrupt`], with the admin's reason in its audit record.
    pub(crate) fn interrupt_as(
        &self,
        who: &str,
        actor: Actor,
        job_id: u64,
        reason: &str,
        ctx: &Ctx,
    ) -> Result<()> {
        self.store.write(|tx| {
            let mut job = tx.job_or_404(job_id)?;
            self.apply(&mut job, JobEvent::Interrupt, actor)?;
            let target = format!("job {job_id}");
            self.audit(
                tx,
                Audit::ok(who, "job.interrupt", &target, &ctx.client_addr).with_reason(reason),
            )
        })?;
        let control = self
            .runs
            .control(job_id)
            .ok_or_else(|| ExecutorError::WrongState("scap is not running for this job".into()))?;
        control.interrupt()?;
        let note = format!("{who} interrupted scap (SIGINT)");
        self.logs
            .append(job_id, LogRow::now(self.now(), LogKind::System, note));
        Ok(())
    }
}

fn caller_job(engine: &Engine, job_id: u64) -> Result<JobRecord> {
    engine.store.read(|tx| tx.job_or_404(job_id))
}

/// Check an answer against the prompt it answers; returns what may be
/// written to scap and the label for the log.
fn validate_answer(
    prompt: &crate::store::PromptRecord,
    answer: ProposedAnswer,
) -> Result<(Answer, String)> {
    match (prompt.input_line, answer) {
        (false, ProposedAnswer::Choice(key)) => {
            let offered: Vec<spiderpig_policy::Choice> = prompt
                .choices
                .iter()
                .map(|(label, key)| spiderpig_policy::Choice {
                    label: label.clone(),
                    key: key.clone(),
                })
                .collect();
            let choice = validate_choice(&offered, &key)?.clone();
            let label = choice.label.clone();
            Ok((Answer::Choice(choice), label))
        }
        (true, ProposedAnswer::Line(text)) => {
            let line: InputLine = validate_input_line(&text)?;
            let label = if text.is_empty() {
                "(scap's default)".to_string()
            } else {
                format!("\"{text}\"")
            };
            Ok((Answer::Line(line), label))
        }
        (false, ProposedAnswer::Line(_)) => Err(ExecutorError::InvalidArgument(
            "this prompt takes one of its choices, not text".into(),
        )),
        (true, ProposedAnswer::Choice(_)) => Err(ExecutorError::InvalidArgument(
            "this prompt takes a line of text, not a choice".into(),
        )),
    }
}
