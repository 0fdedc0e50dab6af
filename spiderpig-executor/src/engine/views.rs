//! What the engine answers with: records as users see them, in domain
//! types. Trust: internal. `wire` turns them into protocol messages; the
//! engine never builds one.

use crate::store::{AuditRow, FreezeRecord, JobRecord, LogRow, SessionRecord};

/// A job and its place in the queue (1-based; 0 when it is not queued).
#[derive(Clone, Debug)]
pub struct JobView {
    pub job: JobRecord,
    pub position: u32,
}

/// The freeze as it stands at one moment.
#[derive(Clone, Debug)]
pub struct FreezeView {
    pub record: FreezeRecord,
    /// In force at the moment the view was taken (a timed freeze may have
    /// ended without the record being cleared yet).
    pub in_force: bool,
}

impl FreezeView {
    pub fn at(record: FreezeRecord, now_ms: i64) -> Self {
        let in_force = record.in_force(now_ms);
        FreezeView { record, in_force }
    }
}

/// The lock holder, the queue in order, and the freeze.
#[derive(Clone, Debug)]
pub struct QueueView {
    pub active: Option<JobRecord>,
    pub queued: Vec<JobRecord>,
    pub freeze: FreezeView,
}

/// Log records after a seq: `(seq, row)`, and whether more follow. For an
/// admin's sensitive read, also the hidden lines of its `Redacted` records;
/// when the last record's did not all fit, `next_hidden` is the first left
/// out (ask again from just before that record).
#[derive(Clone, Debug)]
pub struct LogPage {
    pub job: u64,
    pub rows: Vec<(u64, LogRow)>,
    pub more: bool,
    pub hidden: Vec<(u64, Vec<String>)>,
    pub next_hidden: u32,
}

/// A session as an admin sees it, with when it ends.
#[derive(Clone, Debug)]
pub struct SessionView {
    pub session: SessionRecord,
    pub expires_ms: i64,
}

/// An audit row and its seq.
pub type AuditEntry = (u64, AuditRow);

/// The executor at a glance (`ctl status`).
#[derive(Clone, Debug)]
pub struct StatusView {
    pub started_ms: i64,
    pub freeze: FreezeView,
    pub active: Option<JobView>,
    pub queued: u32,
    pub sessions: u32,
    pub watchers: u32,
    pub state_file: String,
}
