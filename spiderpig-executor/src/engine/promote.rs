//! The deployment lock and the queue head. Trust: internal.
//!
//! The lock is the `active_job` entry of the store. It is taken and released
//! only inside write transactions, and the check "is it free?" happens inside
//! the same transaction as the take, so two promotions can never both win.

use spiderpig_policy::{Actor, JobEvent, JobState, transition};

use super::{Audit, Engine};
use crate::error::{ExecutorError, Result};
use crate::store::{JobRecord, Reads, WriteTx};

impl Engine {
    /// Apply a policy transition to a job record (state only).
    pub(crate) fn apply(&self, job: &mut JobRecord, event: JobEvent, actor: Actor) -> Result<()> {
        job.state = transition(job.state, event, actor)?;
        if job.state.is_final() && job.ended_ms == 0 {
            job.ended_ms = self.now();
        }
        Ok(())
    }

    /// Release the lock held by `job` (which must be the holder).
    pub(crate) fn release_lock(&self, tx: &mut WriteTx, job: u64) -> Result<()> {
        match tx.active()? {
            Some(id) if id == job => tx.set_active(None),
            other => Err(ExecutorError::Internal(format!(
                "job {job} released a lock held by {other:?}"
            ))),
        }
    }

    /// Inside `tx`: if the lock is free and no freeze is in force, give it
    /// to the head of the queue. Returns the promoted job id.
    pub(crate) fn promote_in(&self, tx: &mut WriteTx) -> Result<Option<u64>> {
        let now = self.now();
        if tx.active()?.is_some() || tx.freeze()?.in_force(now) {
            return Ok(None);
        }
        let mut queue = tx.queue()?;
        while !queue.is_empty() {
            let id = queue.remove(0);
            let Some(mut job) = tx.job(id)? else { continue };
            if job.state != JobState::Queued {
                continue;
            }
            self.apply(&mut job, JobEvent::Promote, Actor::System)?;
            job.ready_deadline_ms = now + self.config.timeouts.ready_secs as i64 * 1000;
            tx.put_job(&job)?;
            tx.set_queue(&queue)?;
            tx.set_active(Some(id))?;
            let target = format!("job {id}");
            self.audit(tx, Audit::ok("system", "job.promote", &target, "-"))?;
            return Ok(Some(id));
        }
        tx.set_queue(&queue)?;
        Ok(None)
    }

    /// Promote if possible, in its own transaction, and tell watchers.
    pub fn advance(&self) -> Result<Option<u64>> {
        let promoted = self.store.write(|tx| self.promote_in(tx))?;
        if let Some(id) = promoted {
            self.publish_jobs(&[id]);
        }
        Ok(promoted)
    }
}
