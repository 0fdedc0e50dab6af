//! Deadlines: the ready prompt, freezes with an end, job and prompt
//! time-outs, expired sessions. Trust: internal. Time comes from the injected
//! clock; the server calls [`Engine::tick`] a few times a second and tests
//! call it after moving the clock.

use std::sync::Arc;

use spiderpig_policy::{Actor, JobEvent, JobState};

use super::{Audit, Engine, FreezeView};
use crate::error::Result;
use crate::hub::Revocation;
use crate::store::{FreezeRecord, Reads};

impl Engine {
    /// Check every deadline once.
    pub fn tick(self: &Arc<Self>) -> Result<()> {
        self.expire_ready()?;
        self.end_timed_freeze()?;
        self.enforce_run_timeouts()?;
        self.expire_sessions()?;
        self.summarise_refused_logins()?;
        Ok(())
    }

    /// One audit record per kind of refused callback counted since the
    /// last (at most one a minute; see `tally`).
    fn summarise_refused_logins(&self) -> Result<()> {
        let due = self.sessions.refusals.due(self.now());
        if due.is_empty() {
            return Ok(());
        }
        self.store.write(|tx| {
            for (action, n, last) in &due {
                tracing::warn!(action, count = n, "refused sign-in callbacks");
                let reason = match *action {
                    "login.state_invalid" => format!("{n} callbacks matched no login in flight"),
                    _ => format!("{n} sign-ins refused; the last: {last}"),
                };
                self.audit(tx, Audit::refused("-", action, "login", &reason, "-"))?;
            }
            Ok(())
        })
    }

    fn expire_ready(&self) -> Result<()> {
        let now = self.now();
        let changed = self.store.write(|tx| {
            let Some(id) = tx.active()? else {
                return Ok(None);
            };
            let Some(mut job) = tx.job(id)? else {
                return Ok(None);
            };
            if job.state != JobState::AwaitingReady || job.ready_deadline_ms > now {
                return Ok(None);
            }
            self.apply(&mut job, JobEvent::ReadyTimedOut, Actor::System)?;
            job.outcome = format!(
                "expired: not ready within {} s",
                self.config.timeouts.ready_secs
            );
            tx.put_job(&job)?;
            self.queue.release(tx, id)?;
            let target = format!("job {id}");
            self.audit(tx, Audit::ok("system", "job.expire", &target, "-"))?;
            let next = self.queue.promote(tx, self.now())?;
            Ok(Some((id, next)))
        })?;
        if let Some((id, next)) = changed {
            self.publish_pair(id, next);
        }
        Ok(())
    }

    fn end_timed_freeze(&self) -> Result<()> {
        let now = self.now();
        let ended = self.store.write(|tx| {
            let freeze = tx.freeze()?;
            if !freeze.active || freeze.until_ms == 0 || freeze.until_ms > now {
                return Ok(None);
            }
            tx.set_freeze(&FreezeRecord::default())?;
            self.audit(tx, Audit::ok("system", "freeze.end", "deployments", "-"))?;
            Ok(Some(self.queue.promote(tx, self.now())?))
        })?;
        if let Some(promoted) = ended {
            self.hub
                .publish_freeze(&FreezeView::at(FreezeRecord::default(), now));
            self.publish_jobs(&promoted.into_iter().collect::<Vec<_>>());
        }
        Ok(())
    }

    fn enforce_run_timeouts(&self) -> Result<()> {
        let now = self.now();
        let live = self.runs.unkilled();
        let job_ms = self.config.timeouts.job_secs as i64 * 1000;
        for id in live {
            let Some(job) = self.store.read(|tx| tx.job(id))? else {
                continue;
            };
            let reason = if job.started_ms > 0 && now >= job.started_ms + job_ms {
                Some(format!(
                    "failed: killed after the job time-out of {} s",
                    self.config.timeouts.job_secs
                ))
            } else {
                job.pending_prompt
                    .as_ref()
                    .filter(|p| p.expires_ms > 0 && now >= p.expires_ms)
                    .map(|_| "failed: killed, nobody answered scap's prompt in time".to_string())
            };
            if let Some(reason) = reason {
                tracing::warn!(job = id, %reason, "killing scap's process group");
                self.kill_run(id, reason)?;
            }
        }
        Ok(())
    }

    fn expire_sessions(&self) -> Result<()> {
        let now = self.now();
        let gone = self.store.write(|tx| {
            let sessions = tx.sessions()?;
            let mut gone = Vec::new();
            for (hash, s) in sessions {
                if now >= self.sessions.expiry(&s) {
                    tx.delete_session(&hash)?;
                    gone.push(hash);
                }
            }
            Ok(gone)
        })?;
        for hash in gone {
            self.hub
                .revoke(Revocation::Session(hash), "session expired");
        }
        Ok(())
    }
}
