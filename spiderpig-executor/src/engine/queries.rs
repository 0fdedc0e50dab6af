//! Reads: jobs, history, the queue, logs. Trust: ids and filters come from
//! the web or ctl and are bounded here.

use spiderpig_policy::{JobId, JobState};

use super::{Engine, JobView, LogPage, QueueView};
use crate::error::Result;
use crate::store::{JobFilter, Reads};
use crate::wire::LiveLog;

/// Most jobs in one page of history.
pub const MAX_PAGE: usize = 100;
/// Most log records in one GetLog answer.
pub const MAX_LOG_PAGE: usize = 5000;

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
                .map(|j| {
                    let pos = queue.iter().position(|q| *q == j.id).map(|p| p as u32 + 1);
                    JobView {
                        job: j.clone(),
                        position: pos.unwrap_or(0),
                    }
                })
                .collect();
            Ok((views, next))
        })
    }

    /// Log records after `after_seq`, from the store and the unflushed
    /// buffer (read under the buffer's lock: no gap). The rows hold their
    /// hidden lines: only the admin socket's encoding shows them.
    pub fn get_log(&self, job: u64, after_seq: u64, limit: u32) -> Result<LogPage> {
        let limit = match limit {
            0 => 1000,
            n => (n as usize).min(MAX_LOG_PAGE),
        };
        self.store.read(|tx| tx.job_or_404(job).map(|_| ()))?;
        let log = self.existing_log(job);
        let guard = log
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        let mut rows = self.store.read(|tx| tx.logs(job, after_seq, limit))?;
        if let Some(buffer) = &guard {
            let last = rows.last().map(|(s, _)| *s).unwrap_or(after_seq);
            let room = limit - rows.len();
            rows.extend(buffer.buffered_after(last).take(room).cloned());
        }
        drop(guard);
        let more = rows.len() == limit;
        Ok(LogPage { job, rows, more })
    }

    /// Subscribe to a job's live log. Returns the receiver and the first seq
    /// it will carry: everything below comes from [`Engine::get_log`].
    pub fn subscribe_log(&self, job: u64) -> (LiveLog, u64) {
        match self.existing_log(job) {
            Some(log) => {
                let guard = log.lock().unwrap_or_else(|e| e.into_inner());
                let rx = self.hub.subscribe_log(job);
                (rx, guard.last_seq() + 1)
            }
            None => {
                let rx = self.hub.subscribe_log(job);
                let last = self
                    .store
                    .read(|tx| Ok(tx.job(job)?.map(|j| j.last_seq).unwrap_or(0)))
                    .unwrap_or(0);
                (rx, last + 1)
            }
        }
    }
}
