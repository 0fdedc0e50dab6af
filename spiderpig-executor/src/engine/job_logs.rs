//! Job logs: one of the engine's components. A running job's log gets its
//! sequence numbers, live publication and batched commits here. Trust:
//! internal; the text is already redacted by the runner.
//!
//! State: one in-memory buffer per job with a live run (under the map's
//! mutex, held only to find, create or drop a buffer; each buffer under its
//! own mutex), and the flush gate. Records reach the store only through the
//! façade's write transactions ([`JobLogs::flush_in`], then
//! [`JobLogs::trim`] after the commit).
//!
//! Records get their seq and go to live watchers the moment they arrive. They
//! are committed to the store in batches (every ≤ 50 ms, or with the next
//! state change, which flushes first): a crash can lose at most the last
//! batch of log lines, never a state change. A record stays in memory until
//! its batch is committed, so (store ∪ buffer), read under the buffer's lock,
//! always holds every record below `next_seq`: replays have no gap.
//!
//! Hidden lines (behind a `Redacted` record) are numbered within their
//! record and appended as rows of their own: a flush writes each once, never
//! rewriting a record, so a long sensitive run costs linear work.
//!
//! Every page built here is capped in bytes ([`PAGE_BYTES`], well below the
//! gRPC message limit), not only in records: 40 lines of 64 KiB page as
//! surely as 5000 short ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use spiderpig_policy::Stage;

use super::views::LogPage;
use crate::error::Result;
use crate::hub::Hub;
use crate::store::{JobRecord, LogKind, LogRow, ProgressRecord, Reads, Store, WriteTx};
use crate::wire::LiveLog;

/// How long log lines may wait for their commit.
pub const FLUSH_INTERVAL_MS: u64 = 50;

/// The in-memory tail of one job's log.
#[derive(Debug, Default)]
pub struct JobLog {
    next_seq: u64,
    unflushed: Vec<(u64, LogRow)>,
    /// Hidden lines not committed yet: (seq of their record, n, line).
    hidden: Vec<(u64, u32, String)>,
    /// The record the run's hidden lines belong to, and the next line's n.
    last_redacted: Option<(u64, u32)>,
    status: Option<String>,
    progress: Option<ProgressRecord>,
    stages: Vec<(Stage, i64)>,
    meta_dirty: bool,
}

/// What one flush wrote, to trim the buffer after the commit.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Flushed {
    upto_seq: u64,
    hidden: usize,
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
        !self.unflushed.is_empty() || !self.hidden.is_empty() || self.meta_dirty
    }

    /// Buffered records with seq > `after`.
    pub fn buffered_after(&self, after: u64) -> impl Iterator<Item = &(u64, LogRow)> {
        self.unflushed.iter().filter(move |(s, _)| *s > after)
    }
}

/// Most log records in one page of a job's log (`GetLog`, `ctl log`).
pub const MAX_LOG_PAGE: usize = 5000;
/// Most bytes of text (records' and hidden lines') in one page, with
/// [`RECORD_OVERHEAD`] counted for each: a quarter of the default gRPC
/// message limit, and four times the longest line, so a page always holds
/// at least one record and never comes near the limit.
pub const PAGE_BYTES: usize = 256 * 1024;
/// What a record costs in a message beyond its text (ids, kind, time, tags).
pub const RECORD_OVERHEAD: usize = 64;
/// The most one record can cost: the longest line scap's output is cut to,
/// and its overhead.
pub const MAX_RECORD_BYTES: usize = spiderpig_policy::limits::MAX_LINE_BYTES + RECORD_OVERHEAD;

type Buffer = Arc<Mutex<JobLog>>;

/// The buffers of the jobs whose logs are being written.
pub(crate) struct JobLogs {
    store: Arc<Store>,
    hub: Arc<Hub>,
    buffers: Mutex<HashMap<u64, Buffer>>,
    /// Held by each transaction that writes buffered log records, from
    /// before it begins until the buffer is trimmed after its commit (see
    /// [`JobLogs::gate`]).
    flush_gate: Mutex<()>,
}

/// A buffer's lock; a panic under it cannot leave a record half-written.
fn lock(log: &Buffer) -> MutexGuard<'_, JobLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

impl JobLogs {
    pub fn new(store: Arc<Store>, hub: Arc<Hub>) -> Self {
        JobLogs {
            store,
            hub,
            buffers: Mutex::new(HashMap::new()),
            flush_gate: Mutex::new(()),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<u64, Buffer>> {
        self.buffers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The highest seq the store holds for `job` (0: none, or no such job).
    fn stored_last_seq(&self, job: u64) -> u64 {
        self.store
            .read(|tx| Ok(tx.job(job)?.map(|j| j.last_seq).unwrap_or(0)))
            .unwrap_or(0)
    }

    /// The job's log buffer, created from the store's last seq if needed.
    fn buffer(&self, job: u64) -> Buffer {
        let mut logs = self.map();
        if let Some(log) = logs.get(&job) {
            return log.clone();
        }
        let log = Arc::new(Mutex::new(JobLog::new(self.stored_last_seq(job))));
        logs.insert(job, log.clone());
        log
    }

    /// The job's buffer if it has one (a running or recently run job).
    fn existing(&self, job: u64) -> Option<Buffer> {
        self.map().get(&job).cloned()
    }

    /// Number a record, publish it live, and buffer it for the next commit.
    pub fn append(&self, job: u64, row: LogRow) -> u64 {
        let log = self.buffer(job);
        let mut log = lock(&log);
        let seq = log.next_seq;
        log.next_seq += 1;
        // Later hidden lines of a run belong to its placeholder even when
        // another record lands in between (a line from scap's other pipe, a
        // note of SpiderPig's): the runner says when a new run starts.
        if row.kind == LogKind::Redacted {
            log.last_redacted = Some((seq, 0));
        }
        // Published under the lock so watchers see seq order.
        self.hub.publish_log_row(job, seq, &row);
        log.unflushed.push((seq, row));
        seq
    }

    /// Another hidden line of the current sensitive run (never published).
    pub fn add_hidden(&self, job: u64, line: String) {
        let log = self.buffer(job);
        let mut log = lock(&log);
        let Some((seq, n)) = log.last_redacted else {
            return;
        };
        log.last_redacted = Some((seq, n + 1));
        log.hidden.push((seq, n, line));
    }

    /// Note scap's latest status/progress/stage for the job record.
    pub fn note_meta(
        &self,
        job: u64,
        status: Option<Option<String>>,
        progress: Option<ProgressRecord>,
        stage: Option<(Stage, i64)>,
    ) {
        let log = self.buffer(job);
        let mut log = lock(&log);
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
    /// trimmed by [`JobLogs::trim`] once the transaction has committed.
    /// Take [`JobLogs::gate`] before the transaction.
    pub fn flush_in(&self, tx: &mut WriteTx, job: &mut JobRecord) -> Result<Flushed> {
        let Some(log) = self.existing(job.id) else {
            return Ok(Flushed::default());
        };
        let mut log = lock(&log);
        tx.put_logs(job.id, &log.unflushed)?;
        tx.put_hidden(job.id, &log.hidden)?;
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
        Ok(Flushed {
            upto_seq,
            hidden: log.hidden.len(),
            meta_changed,
        })
    }

    /// After the commit of a flush: drop what is now in the store.
    pub fn trim(&self, job: u64, flushed: Flushed) {
        let Some(log) = self.existing(job) else {
            return;
        };
        let mut log = lock(&log);
        log.unflushed.retain(|(s, _)| *s > flushed.upto_seq);
        let hidden = flushed.hidden.min(log.hidden.len());
        log.hidden.drain(..hidden);
    }

    /// Serialises the transactions that write buffered log records, from
    /// before each begins until its buffer is trimmed: between one's commit
    /// and its trim, another would write the same records again (the same
    /// values: harmless, but wasted work under the writer). Take it before
    /// [`crate::store::Store::write`], never inside.
    pub fn gate(&self) -> MutexGuard<'_, ()> {
        self.flush_gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Has `job` records or details waiting for a commit?
    pub fn has_pending(&self, job: u64) -> bool {
        self.existing(job)
            .is_some_and(|log| lock(&log).has_pending())
    }

    /// The jobs with a buffer.
    pub fn jobs(&self) -> Vec<u64> {
        self.map().keys().copied().collect()
    }

    /// The job is over: its buffer and live channel go away.
    pub fn forget(&self, job: u64) {
        self.map().remove(&job);
        self.hub.close_log(job);
    }

    /// Log records after `after_seq`, at most `limit` (0: 1000), from the
    /// store and the unflushed buffer, read under the buffer's lock so there
    /// is no gap. The rows hold their hidden lines: only the admin socket's
    /// encoding shows them.
    pub fn page(&self, job: u64, after_seq: u64, limit: u32) -> Result<LogPage> {
        let limit = match limit {
            0 => 1000,
            n => (n as usize).min(MAX_LOG_PAGE),
        };
        self.store.read(|tx| tx.job_or_404(job).map(|_| ()))?;
        let log = self.existing(job);
        let guard = log.as_ref().map(lock);
        let mut rows = self.store.read(|tx| tx.logs(job, after_seq, limit))?;
        if let Some(buffer) = &guard {
            let last = rows.last().map(|(s, _)| *s).unwrap_or(after_seq);
            let room = limit - rows.len();
            rows.extend(buffer.buffered_after(last).take(room).cloned());
        }
        drop(guard);
        let full = rows.len() == limit;
        let cut = within_bytes(&rows, PAGE_BYTES);
        let more = full || cut < rows.len();
        rows.truncate(cut);
        Ok(LogPage {
            job,
            rows,
            more,
            hidden: Vec::new(),
            next_hidden: 0,
        })
    }

    /// Subscribe to a job's live log. Returns the receiver and the first seq
    /// it will carry: everything below comes from [`JobLogs::page`]. A job
    /// that has ended logs no more: no receiver (and no ring is made).
    pub fn subscribe(&self, job: u64) -> (Option<LiveLog>, u64) {
        if let Some(log) = self.existing(job) {
            let guard = lock(&log);
            let rx = self.hub.subscribe_log(job);
            return (Some(rx), guard.last_seq() + 1);
        }
        let (ended, last) = self
            .store
            .read(|tx| {
                Ok(tx
                    .job(job)?
                    .map_or((true, 0), |j| (j.state.is_final(), j.last_seq)))
            })
            .unwrap_or((true, 0));
        let rx = (!ended).then(|| self.hub.subscribe_log(job));
        (rx, last + 1)
    }
}

/// How many of `rows` fit in `budget` bytes (at least one, if any).
pub(crate) fn within_bytes(rows: &[(u64, LogRow)], budget: usize) -> usize {
    let mut used = 0;
    for (i, (_, row)) in rows.iter().enumerate() {
        used += row.text.len() + RECORD_OVERHEAD;
        if used > budget && i > 0 {
            return i;
        }
    }
    rows.len()
}

mod sensitive;
#[cfg(test)]
mod tests;
