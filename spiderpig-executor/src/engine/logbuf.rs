//! A running job's log: sequence numbers, live publication and batched
//! commits. Trust: internal; the text is already redacted by the runner.
//!
//! Records get their seq and go to live watchers the moment they arrive. They
//! are committed to the store in batches (every ≤ 50 ms, or with the next
//! state change, which flushes first): a crash can lose at most the last
//! batch of log lines, never a state change. A record stays in memory until
//! its batch is committed, so (store ∪ buffer), read under the buffer's lock,
//! always holds every record below `next_seq`: replays have no gap.

use std::sync::{Arc, Mutex};

use spiderpig_policy::Stage;

use super::Engine;
use crate::error::Result;
use crate::store::{JobRecord, LogKind, LogRow, ProgressRecord, Reads, WriteTx};

/// How long log lines may wait for their commit.
pub const FLUSH_INTERVAL_MS: u64 = 50;

/// The in-memory tail of one job's log.
#[derive(Debug, Default)]
pub struct JobLog {
    next_seq: u64,
    unflushed: Vec<(u64, LogRow)>,
    /// Hidden lines for a Redacted record that is already committed.
    extra_hidden: Vec<(u64, String)>,
    last_redacted: Option<u64>,
    status: Option<String>,
    progress: Option<ProgressRecord>,
    stages: Vec<(Stage, i64)>,
    meta_dirty: bool,
    /// Records up to this seq are written by a transaction that has not
    /// committed yet (0: none). Hidden lines for them wait in
    /// `extra_hidden`, or they would be trimmed with their record unwritten.
    inflight_upto: u64,
}

/// What one flush wrote, to trim the buffer after the commit.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Flushed {
    upto_seq: u64,
    extra: usize,
    pub meta_changed: bool,
}

impl JobLog {
    fn new(last_seq: u64) -> Self {
        JobLog {
            next_seq: last_seq + 1,
            ..Default::default()
        }
    }

    /// Highest seq assigned so far.
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    fn has_pending(&self) -> bool {
        !self.unflushed.is_empty() || !self.extra_hidden.is_empty() || self.meta_dirty
    }

    /// Buffered records with seq > `after`.
    pub fn buffered_after(&self, after: u64) -> impl Iterator<Item = &(u64, LogRow)> {
        self.unflushed.iter().filter(move |(s, _)| *s > after)
    }
}

impl Engine {
    /// The job's log buffer, created from the store's last seq if needed.
    pub(crate) fn job_log(&self, job: u64) -> Arc<Mutex<JobLog>> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = logs.get(&job) {
            return log.clone();
        }
        let last = self
            .store
            .read(|tx| Ok(tx.job(job)?.map(|j| j.last_seq).unwrap_or(0)))
            .unwrap_or(0);
        let log = Arc::new(Mutex::new(JobLog::new(last)));
        logs.insert(job, log.clone());
        log
    }

    /// The job's buffer if it has one (a running or recently run job).
    pub(crate) fn existing_log(&self, job: u64) -> Option<Arc<Mutex<JobLog>>> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.get(&job).cloned()
    }

    /// Number a record, publish it live, and buffer it for the next commit.
    pub(crate) fn append_log(&self, job: u64, row: LogRow) -> u64 {
        let log = self.job_log(job);
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        let seq = log.next_seq;
        log.next_seq += 1;
        // Later hidden lines of a run belong to its placeholder even when
        // another record lands in between (a line from scap's other pipe, a
        // note of SpiderPig's): the runner says when a new run starts.
        if row.kind == LogKind::Redacted {
            log.last_redacted = Some(seq);
        }
        // Published under the lock so watchers see seq order.
        self.hub.publish_log_row(job, seq, &row);
        log.unflushed.push((seq, row));
        seq
    }

    /// Another hidden line of the current sensitive run (never published).
    pub(crate) fn add_hidden(&self, job: u64, line: String) {
        let log = self.job_log(job);
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        let Some(seq) = log.last_redacted else {
            return;
        };
        let in_flight = seq <= log.inflight_upto;
        if let Some((_, row)) = log
            .unflushed
            .iter_mut()
            .find(|(s, _)| *s == seq && !in_flight)
        {
            row.hidden.push(line);
        } else {
            log.extra_hidden.push((seq, line));
        }
    }

    /// Note scap's latest status/progress/stage for the job record.
    pub(crate) fn note_meta(
        &self,
        job: u64,
        status: Option<Option<String>>,
        progress: Option<ProgressRecord>,
        stage: Option<(Stage, i64)>,
    ) {
        let log = self.job_log(job);
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = status {
            log.status = Some(s.unwrap_or_default());
        }
        if let Some(p) = progress {
            log.progress = Some(p);
        }
        if let Some(st) = stage {
            log.stages.push(st);
        }
        log.meta_dirty = true;
    }

    /// Write the buffered records and job details into `tx`. The buffer is
    /// trimmed by [`Engine::trim_log`] once the transaction has committed.
    pub(crate) fn flush_log_in(&self, tx: &mut WriteTx, job: &mut JobRecord) -> Result<Flushed> {
        let Some(log) = self.existing_log(job.id) else {
            return Ok(Flushed::default());
        };
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        tx.put_logs(job.id, &log.unflushed)?;
        for (seq, line) in &log.extra_hidden {
            if let Some((_, mut row)) = tx.logs(job.id, seq - 1, 1)?.into_iter().next() {
                row.hidden.push(line.clone());
                tx.put_log(job.id, *seq, &row)?;
            }
        }
        job.last_seq = job.last_seq.max(log.last_seq());
        let meta_changed = log.meta_dirty;
        if log.meta_dirty {
            if let Some(s) = log.status.take() {
                job.status_line = s;
            }
            if let Some(p) = log.progress.take() {
                job.progress = Some(p);
            }
            for (stage, at) in log.stages.drain(..) {
                job.stage = stage;
                job.stage_marks.push((stage, at));
            }
            log.meta_dirty = false;
        }
        let upto_seq = log.unflushed.last().map(|(s, _)| *s).unwrap_or(0);
        log.inflight_upto = upto_seq;
        Ok(Flushed {
            upto_seq,
            extra: log.extra_hidden.len(),
            meta_changed,
        })
    }

    /// After the commit of a flush: drop what is now in the store.
    pub(crate) fn trim_log(&self, job: u64, flushed: Flushed) {
        let Some(log) = self.existing_log(job) else {
            return;
        };
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.inflight_upto = 0;
        log.unflushed.retain(|(s, _)| *s > flushed.upto_seq);
        let extra = flushed.extra.min(log.extra_hidden.len());
        log.extra_hidden.drain(..extra);
    }

    /// Serialises the transactions that write buffered log records, from
    /// before each begins until its buffer is trimmed: between one's commit
    /// and its trim, another would write the same records again, and the
    /// hidden lines that wait in `extra_hidden` a second time. Take it
    /// before [`crate::store::Store::write`], never inside.
    pub(crate) fn flush_gate(&self) -> std::sync::MutexGuard<'_, ()> {
        self.flush_gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commit buffered records now, in their own transaction. Blocks for the
    /// commit: the run's driver calls it off its own task.
    pub(crate) fn flush_log(&self, job: u64) -> Result<bool> {
        let _gate = self.flush_gate();
        let Some(log) = self.existing_log(job) else {
            return Ok(false);
        };
        if !log.lock().unwrap_or_else(|e| e.into_inner()).has_pending() {
            return Ok(false);
        }
        let flushed = self.store.write(|tx| {
            let Some(mut record) = tx.job(job)? else {
                return Ok(Flushed::default());
            };
            let flushed = self.flush_log_in(tx, &mut record)?;
            tx.put_job(&record)?;
            Ok(flushed)
        })?;
        self.trim_log(job, flushed);
        Ok(flushed.meta_changed)
    }

    /// The job is over: its buffer and live channel go away.
    pub(crate) fn forget_log(&self, job: u64) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.remove(&job);
        self.hub.close_log(job);
    }
}

impl Engine {
    /// Commit every buffered log record now (shutdown).
    pub fn flush_all_logs(&self) {
        let jobs: Vec<u64> = {
            let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
            logs.keys().copied().collect()
        };
        for job in jobs {
            if let Err(e) = self.flush_log(job) {
                tracing::error!(job, error = %e, "log flush at shutdown failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
