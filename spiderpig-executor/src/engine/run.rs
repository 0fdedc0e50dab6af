//! Driving one scap run: from Ready to scap's exit. Trust: scap's output is
//! decoded and redacted by the runner; this file turns runner events into
//! log records, prompts and state changes.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use rand::TryRngCore;
use spiderpig_policy::{
    Actor, ChangeNumber, IoKey, JobEvent, JobId, PLACEHOLDER, ScapCommand, ScapEnvironment,
    Username,
};

use super::job_logs::FLUSH_INTERVAL_MS;
use super::{Audit, Engine};
use crate::error::{ExecutorError, Result};
use crate::runner::{self, ExitInfo, PromptKind, PromptSpec, RunHandle, RunSpec, RunnerEvent};
use crate::store::{JobKind, JobRecord, LogKind, LogRow, ProgressRecord, PromptRecord, Reads};

/// The periodic flush's result once it is done; never, when none runs.
async fn finished(
    flushing: &mut Option<JoinHandle<Result<bool>>>,
) -> std::result::Result<Result<bool>, tokio::task::JoinError> {
    match flushing {
        Some(pending) => pending.await,
        None => std::future::pending().await,
    }
}

impl Engine {
    /// What to run for `job` (whose id the caller checked: `id`).
    fn spec_for(&self, id: JobId, job: &JobRecord) -> Result<RunSpec> {
        let changes = job.changes.clone();
        let command = match job.kind {
            JobKind::Backport => ScapCommand::backport(changes)?,
            JobKind::Revert => ScapCommand::revert(changes)?,
        };
        let mut key = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut key)
            .map_err(|e| ExecutorError::Internal(format!("no OS randomness: {e}")))?;
        let scap = &self.config.scap;
        let env = ScapEnvironment {
            io_key: IoKey::from_bytes(key),
            real_user: Username::parse(&job.owner)?,
            path: scap.path_env.clone(),
            home: scap.home.clone(),
            lang: scap.lang.clone(),
            ssh_auth_sock: scap.ssh_auth_sock.clone(),
        };
        Ok(RunSpec {
            job_id: id,
            command,
            scap: self.runs.scap.clone(),
            env,
            working_dir: scap.working_dir.clone(),
            patterns: self.runs.patterns.clone(),
            clock: self.clock.clone(),
        })
    }

    /// Spawn scap for a job that just entered `running`.
    pub(crate) async fn start_run(self: &Arc<Self>, job_id: JobId, job: JobRecord) -> Result<()> {
        let id = job_id.get();
        let spawned = self.spec_for(job_id, &job).and_then(runner::spawn);
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => return self.failed_to_start(id, e),
        };
        self.store.write(|tx| {
            let mut rec = tx.job_or_404(id)?;
            rec.pgid = Some(handle.pgid);
            tx.put_job(&rec)
        })?;
        let what = match job.kind {
            JobKind::Backport => "scap backport",
            JobKind::Revert => "scap backport --revert",
        };
        let changes: Vec<String> = job.changes.iter().map(ChangeNumber::to_string).collect();
        let note = format!(
            "SpiderPig started {what} {} for {}",
            changes.join(" "),
            job.owner
        );
        self.logs
            .append(id, LogRow::now(self.now(), LogKind::System, note));
        self.runs.insert(id, handle.control.clone());
        let engine = self.clone();
        tokio::spawn(async move { engine.drive(id, handle).await });
        Ok(())
    }

    fn failed_to_start(&self, id: u64, e: ExecutorError) -> Result<()> {
        tracing::error!(job = id, error = ?e, "scap could not be started");
        let promoted = self.store.write(|tx| {
            let mut rec = tx.job_or_404(id)?;
            let was = rec.state;
            self.apply(&mut rec, JobEvent::StartFailed, Actor::System)?;
            rec.outcome = "scap could not be started".into();
            tx.put_job(&rec)?;
            let target = format!("job {id}");
            self.audit(
                tx,
                Audit::refused("system", "job.start", &target, &e.to_string(), "-"),
            )?;
            self.queue.unlink(tx, id, was, self.now())
        })?;
        self.logs.forget(id);
        self.publish_pair(id, promoted);
        Ok(())
    }

    /// Consume runner events until scap exits. The periodic commit of the
    /// log runs beside the loop (on the blocking pool), so lines keep going
    /// to watchers while it waits for the disk.
    async fn drive(self: Arc<Self>, id: u64, mut handle: RunHandle) {
        let mut flush = tokio::time::interval(Duration::from_millis(FLUSH_INTERVAL_MS));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flushing: Option<JoinHandle<Result<bool>>> = None;
        loop {
            tokio::select! {
                event = handle.events.recv() => {
                    let info = match event {
                        None => ExitInfo { code: None, signal: None, at_ms: self.now() },
                        Some(RunnerEvent::Exited(info)) => info,
                        Some(event) => {
                            self.on_event(id, event);
                            continue;
                        }
                    };
                    if let Some(pending) = flushing.take() {
                        self.flushed(id, pending.await);
                    }
                    if self.runs.stopping() {
                        tracing::warn!(job = id, "scap ended while the executor stops; left for recovery");
                        return;
                    }
                    self.on_exit(id, info);
                    return;
                }
                _ = flush.tick(), if flushing.is_none() => {
                    let engine = self.clone();
                    flushing = Some(tokio::task::spawn_blocking(move || engine.flush_log(id)));
                }
                done = finished(&mut flushing) => {
                    flushing = None;
                    self.flushed(id, done);
                }
            }
        }
    }

    fn flushed(&self, id: u64, done: std::result::Result<Result<bool>, tokio::task::JoinError>) {
        match done {
            Ok(Ok(true)) => self.publish_jobs(&[id]),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::error!(job = id, error = %e, "log flush failed"),
            Err(e) => tracing::error!(job = id, error = %e, "log flush task failed"),
        }
    }

    fn on_event(&self, id: u64, event: RunnerEvent) {
        match event {
            RunnerEvent::Log { at_ms, kind, text } => {
                let kind = match kind {
                    runner::LogKind::Line => LogKind::Line,
                    runner::LogKind::Status => LogKind::Status,
                    runner::LogKind::System => LogKind::System,
                };
                self.logs.append(id, LogRow::now(at_ms, kind, text));
            }
            RunnerEvent::Sensitive {
                at_ms,
                starts_run,
                hidden,
            } => {
                if starts_run {
                    let row = LogRow::now(at_ms, LogKind::Redacted, PLACEHOLDER);
                    self.logs.append(id, row);
                }
                self.logs.add_hidden(id, hidden);
            }
            RunnerEvent::Status(s) => self.logs.note_meta(id, Some(s), None, None),
            RunnerEvent::Progress(p) => {
                let rec = ProgressRecord {
                    name: p.name.clone(),
                    total: p.total_tasks.unwrap_or(0),
                    ok: p.tasks_finished_ok.unwrap_or(0),
                    failed: p.tasks_finished_failed.unwrap_or(0),
                    remaining: p.tasks_remaining.unwrap_or(0),
                    percent: p.tasks_percent_complete.unwrap_or(0.0),
                    finished: p.progress_finished,
                };
                self.logs.note_meta(id, None, Some(rec), None);
            }
            RunnerEvent::Stage { at_ms, stage } => {
                self.logs.note_meta(id, None, None, Some((stage, at_ms)))
            }
            RunnerEvent::Prompt(spec) => {
                if let Err(e) = self.open_prompt(id, spec) {
                    tracing::error!(job = id, error = %e, "cannot record prompt");
                }
            }
            RunnerEvent::Exited(_) => {}
        }
    }

    fn open_prompt(&self, id: u64, spec: PromptSpec) -> Result<()> {
        let now = self.now();
        let prompt_secs = self.config.timeouts.prompt_secs as i64;
        self.logs
            .append(id, LogRow::now(now, LogKind::Prompt, spec.text.clone()));
        let gate = self.logs.gate();
        let (prompt, flushed) = self.store.write(|tx| {
            let mut job = tx.job_or_404(id)?;
            let flushed = self.logs.flush_in(tx, &mut job)?;
            self.apply(&mut job, JobEvent::PromptOpened, Actor::System)?;
            let prompt = PromptRecord {
                prompt_id: tx.next_prompt_id()?,
                input_line: spec.kind == PromptKind::InputLine,
                text: spec.text.clone(),
                choices: spec
                    .choices
                    .iter()
                    .map(|c| (c.label.clone(), c.key.clone()))
                    .collect(),
                default_key: spec.default.clone(),
                opened_ms: now,
                expires_ms: if prompt_secs > 0 {
                    now + prompt_secs * 1000
                } else {
                    0
                },
            };
            job.pending_prompt = Some(prompt.clone());
            tx.put_job(&job)?;
            Ok((prompt, flushed))
        })?;
        self.logs.trim(id, flushed);
        drop(gate);
        self.hub.publish_prompt_opened(id, &prompt);
        self.publish_jobs(&[id]);
        Ok(())
    }

    fn on_exit(&self, id: u64, info: ExitInfo) {
        let kill_reason = self.runs.remove(id);
        let outcome = match (&kill_reason, info.code, info.signal) {
            (Some(reason), _, _) => reason.clone(),
            (None, Some(0), _) => "scap finished successfully (exit 0)".to_string(),
            (None, Some(code), _) => format!("scap exited with status {code}"),
            (None, None, Some(sig)) => format!("scap was killed by signal {sig}"),
            (None, None, None) => "scap's exit status is unknown".to_string(),
        };
        self.logs.append(
            id,
            LogRow::now(info.at_ms, LogKind::System, outcome.clone()),
        );
        let gate = self.logs.gate();
        let result = self.store.write(|tx| {
            let mut job = tx.job_or_404(id)?;
            let flushed = self.logs.flush_in(tx, &mut job)?;
            let event = if kill_reason.is_some() {
                JobEvent::TimedOut
            } else {
                JobEvent::ScapExited
            };
            self.apply(&mut job, event, Actor::System)?;
            job.exit_code = info.code;
            job.outcome = outcome.clone();
            job.pending_prompt = None;
            job.pgid = None;
            tx.put_job(&job)?;
            let target = format!("job {id}");
            self.audit(
                tx,
                Audit::ok("system", "job.scap_exited", &target, "-").with_reason(&outcome),
            )?;
            Ok(flushed)
        });
        match result {
            Ok(flushed) => self.logs.trim(id, flushed),
            Err(e) => tracing::error!(job = id, error = %e, "cannot record scap's exit"),
        }
        drop(gate);
        self.publish_jobs(&[id]);
    }

    /// Kill a job's scap (time-out or admin), recording why.
    pub(crate) fn kill_run(&self, id: u64, reason: String) -> Result<()> {
        self.runs.mark_killed(id, reason)?.kill()
    }
}
