//! Reads: jobs, history, the queue, logs. Trust: ids and filters come from
//! the web or ctl and are bounded here.

use spiderpig_policy::{JobId, JobState};

use super::queue::place;
use super::{Engine, JobView, LogPage, QueueView};
use crate::error::Result;
use crate::store::{JobFilter, Reads};
use crate::wire::LiveLog;

/// Most jobs in one page of history.
pub const MAX_PAGE: usize = 100;

impl Engine {
    pub fn get_job(&self, id: JobId) -> Result<JobView> {
        self.store.read(|tx| self.job_view(tx, id.get()))
    }

    pub fn get_queue(&self) -> Result<QueueView> {
        self.store.read(|tx| self.queue_snapshot(tx))
    }

    /// History, newest first. Returns the page and the next `before` id.
    pub fn list_jobs(
        &self,
        before: u64,
        page_size: u32,
        owner: Option<String>,
        states: Vec<JobState>,
    ) -> Result<(Vec<JobView>, u64)> {
        let size = match page_size {
            0 => 50,
            n => (n as usize).min(MAX_PAGE),
        };
        let filter = JobFilter { owner, states };
        self.store.read(|tx| {
            let jobs = tx.jobs(before, size, &filter)?;
            let queue = tx.queue()?;
            let next = if jobs.len() == size {
                jobs.last().map(|j| j.id).unwrap_or(0)
            } else {
                0
            };
            let views = jobs
                .iter()
                .map(|j| JobView {
                    job: j.clone(),
                    position: place(&queue, j.id),
                })
                .collect();
            Ok((views, next))
        })
    }

    /// Log records after `after_seq` (the store and the unflushed buffer, without a gap).
    pub fn get_log(&self, job: u64, after_seq: u64, limit: u32) -> Result<LogPage> {
        self.logs.page(job, after_seq, limit)
    }

    /// Subscribe to a job's live log. Returns the receiver and the first seq
    /// it will carry: everything below comes from [`Engine::get_log`].
    pub fn subscribe_log(&self, job: u64) -> (Option<LiveLog>, u64) {
        self.logs.subscribe(job)
    }

    /// Promote if possible, in its own transaction, and tell watchers.
    pub fn advance(&self) -> Result<Option<u64>> {
        let promoted = self.store.write(|tx| self.queue.promote(tx, self.now()))?;
        if let Some(id) = promoted {
            self.publish_jobs(&[id]);
        }
        Ok(promoted)
    }
}
