//! The queue and the deployment lock: one of the engine's components.
//! Trust: internal; ids and places come checked from the façade.
//!
//! State: the store's `queue` (job ids in order) and `active_job` (the lock
//! holder). It has no lock of its own: every method takes the write
//! transaction it changes, so its lock is redb's single writer. The check
//! "is the lock free?" happens inside the same transaction as the take, so
//! two promotions can never both win.

use spiderpig_policy::{Actor, JobEvent, JobState, transition};

use super::audit::{self, Audit};
use super::views::{FreezeView, JobView, QueueView};
use crate::error::{ExecutorError, Result};
use crate::store::{JobRecord, Reads, WriteTx};

/// Apply a policy transition to a job record (state, and its end time when
/// the state is final).
pub(crate) fn apply(job: &mut JobRecord, event: JobEvent, actor: Actor, now: i64) -> Result<()> {
    job.state = transition(job.state, event, actor)?;
    if job.state.is_final() && job.ended_ms == 0 {
        job.ended_ms = now;
    }
    Ok(())
}

/// The queue's rules: how long the head has to say it is ready, and how many
/// jobs one person may have queued.
#[derive(Debug)]
pub(crate) struct Queue {
    ready_ms: i64,
    per_user: usize,
}

impl Queue {
    pub fn new(ready_secs: u64, per_user: usize) -> Self {
        Queue {
            ready_ms: ready_secs as i64 * 1000,
            per_user,
        }
    }

    /// The lock holder, the queue in order and the freeze at `now`.
    pub fn snapshot(&self, tx: &impl Reads, now: i64) -> Result<QueueView> {
        let active = match tx.active()? {
            Some(id) => tx.job(id)?,
            None => None,
        };
        let mut queued = Vec::new();
        for id in tx.queue()? {
            queued.extend(tx.job(id)?);
        }
        Ok(QueueView {
            active,
            queued,
            freeze: FreezeView::at(tx.freeze()?, now),
        })
    }

    /// A job as users see it, with its place in the queue.
    pub fn view(&self, tx: &impl Reads, id: u64) -> Result<JobView> {
        let job = tx.job_or_404(id)?;
        let position = place(&tx.queue()?, id);
        Ok(JobView { job, position })
    }

    /// Put a new job at the end of the queue, unless its owner already has
    /// as many queued as allowed (then `Ok(Err(QueueLimit))`, nothing written).
    pub fn enqueue(&self, tx: &mut WriteTx, job: &JobRecord) -> Result<Result<()>> {
        let mut queue = tx.queue()?;
        let mut mine = 0;
        for id in &queue {
            if tx.job(*id)?.is_some_and(|j| j.owner == job.owner) {
                mine += 1;
            }
        }
        if mine >= self.per_user {
            return Ok(Err(ExecutorError::QueueLimit {
                limit: self.per_user,
            }));
        }
        tx.put_job(job)?;
        queue.push(job.id);
        tx.set_queue(&queue)?;
        Ok(Ok(()))
    }

    /// Move a queued job to `position` (1-based, clamped to the end).
    /// Returns the place it got.
    pub fn move_to(&self, tx: &mut WriteTx, job: u64, position: u32) -> Result<usize> {
        if position == 0 {
            return Err(ExecutorError::InvalidArgument(
                "positions start at 1".into(),
            ));
        }
        let mut queue = tx.queue()?;
        let Some(at) = queue.iter().position(|q| *q == job) else {
            return Err(ExecutorError::WrongState(format!(
                "job {job} is not queued"
            )));
        };
        queue.remove(at);
        let to = (position as usize - 1).min(queue.len());
        queue.insert(to, job);
        tx.set_queue(&queue)?;
        Ok(to + 1)
    }

    /// Take a job that just left state `was` out of the queue or the lock,
    /// and promote the next one if the lock was freed.
    pub fn unlink(
        &self,
        tx: &mut WriteTx,
        job: u64,
        was: JobState,
        now: i64,
    ) -> Result<Option<u64>> {
        if was == JobState::Queued {
            let mut queue = tx.queue()?;
            queue.retain(|q| *q != job);
            tx.set_queue(&queue)?;
            return Ok(None);
        }
        if was.holds_lock() {
            self.release(tx, job)?;
            return self.promote(tx, now);
        }
        Ok(None)
    }

    /// Release the lock held by `job` (which must be the holder).
    pub fn release(&self, tx: &mut WriteTx, job: u64) -> Result<()> {
        match tx.active()? {
            Some(id) if id == job => tx.set_active(None),
            other => Err(ExecutorError::Internal(format!(
                "job {job} released a lock held by {other:?}"
            ))),
        }
    }

    /// If the lock is free and no freeze is in force, give it to the head of
    /// the queue, which then has `ready_secs` to say it is ready. Returns the
    /// promoted job.
    pub fn promote(&self, tx: &mut WriteTx, now: i64) -> Result<Option<u64>> {
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
            apply(&mut job, JobEvent::Promote, Actor::System, now)?;
            job.ready_deadline_ms = now + self.ready_ms;
            tx.put_job(&job)?;
            tx.set_queue(&queue)?;
            tx.set_active(Some(id))?;
            let target = format!("job {id}");
            audit::write(tx, now, Audit::ok("system", "job.promote", &target, "-"))?;
            return Ok(Some(id));
        }
        tx.set_queue(&queue)?;
        Ok(None)
    }
}

/// A job's 1-based place in `queue`; 0 when it is not queued.
pub(crate) fn place(queue: &[u64], id: u64) -> u32 {
    queue
        .iter()
        .position(|q| *q == id)
        .map(|p| p as u32 + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
