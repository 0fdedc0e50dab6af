//! Typed access to the tables inside a transaction. Trust: internal.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SCHEMA_VERSION;
use super::records::*;
use super::tables::*;
use crate::clock::Millis;
use crate::error::{ExecutorError, Result};

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ExecutorError::Store(format!("corrupt record: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| ExecutorError::Store(format!("cannot encode: {e}")))
}

/// Filter for job listings.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub owner: Option<String>,
    pub states: Vec<spiderpig_policy::JobState>,
}

impl JobFilter {
    fn accepts(&self, job: &JobRecord) -> bool {
        self.owner.as_ref().is_none_or(|o| *o == job.owner)
            && (self.states.is_empty() || self.states.contains(&job.state))
    }
}

/// Queries shared by read and write transactions.
mod q {
    use super::*;

    pub fn get<K: redb::Key + 'static, T: DeserializeOwned>(
        t: &impl ReadableTable<K, &'static [u8]>,
        key: K::SelfType<'_>,
    ) -> Result<Option<T>> {
        match t.get(key)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn jobs(
        t: &impl ReadableTable<u64, &'static [u8]>,
        before: u64,
        limit: usize,
        filter: &JobFilter,
    ) -> Result<Vec<JobRecord>> {
        let upper = if before == 0 { u64::MAX } else { before };
        let mut out = Vec::new();
        for entry in t.range(..upper)?.rev() {
            let (_, v) = entry?;
            let job: JobRecord = decode(v.value())?;
            if filter.accepts(&job) {
                out.push(job);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    pub fn logs(
        t: &impl ReadableTable<(u64, u64), &'static [u8]>,
        job: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, LogRow)>> {
        let mut out = Vec::new();
        for entry in t.range((job, after_seq.saturating_add(1))..=(job, u64::MAX))? {
            let (k, v) = entry?;
            out.push((k.value().1, decode(v.value())?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Hidden lines of record `seq` from line `from` on, at most `max_bytes`
    /// (each line counted with [`super::HIDDEN_LINE_OVERHEAD`])
    /// of them (always one, if there is one). Stores from before the
    /// `HIDDEN` table kept them inside the record: those come first.
    pub fn hidden(
        logs: &impl ReadableTable<(u64, u64), &'static [u8]>,
        hidden: &impl ReadableTable<(u64, u64, u32), &'static str>,
        (job, seq): (u64, u64),
        from: u32,
        max_bytes: usize,
    ) -> Result<Vec<(u32, String)>> {
        let legacy = match logs.get((job, seq))? {
            Some(v) => decode::<LegacyHidden>(v.value())?.hidden,
            None => Vec::new(),
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut take = |n: u32, line: String, out: &mut Vec<(u32, String)>| {
            bytes += line.len() + super::HIDDEN_LINE_OVERHEAD;
            if bytes > max_bytes && !out.is_empty() {
                return false;
            }
            out.push((n, line));
            true
        };
        let base = legacy.len() as u32;
        for (n, line) in (0u32..).zip(legacy) {
            if n >= from && !take(n, line, &mut out) {
                return Ok(out);
            }
        }
        let start = from.saturating_sub(base);
        for entry in hidden.range((job, seq, start)..=(job, seq, u32::MAX))? {
            let (k, v) = entry?;
            if !take(base + k.value().2, v.value().to_string(), &mut out) {
                break;
            }
        }
        Ok(out)
    }

    pub fn audit(
        t: &impl ReadableTable<u64, &'static [u8]>,
        since_ms: Millis,
        limit: usize,
    ) -> Result<Vec<(u64, AuditRow)>> {
        let mut out = Vec::new();
        for entry in t.range(audit_start(t, since_ms)?..)? {
            let (k, v) = entry?;
            out.push((k.value(), decode(v.value())?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The first audit seq at or after `since_ms` (one past the last when
    /// none is). Seqs are contiguous (pruning removes a prefix) and times
    /// never decrease (`audit_append`), so this bisects: O(log n) reads, not
    /// a scan from the first row.
    pub fn audit_start(
        t: &impl ReadableTable<u64, &'static [u8]>,
        since_ms: Millis,
    ) -> Result<u64> {
        let (Some(first), Some(last)) = (t.first()?, t.last()?) else {
            return Ok(1);
        };
        let (mut lo, mut hi) = (first.0.value(), last.0.value() + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = match t.get(mid)? {
                Some(v) => decode::<AuditRow>(v.value())?.at_ms,
                None => Millis::MAX,
            };
            if at < since_ms {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    pub fn sessions(
        t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    ) -> Result<Vec<(Vec<u8>, SessionRecord)>> {
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            out.push((k.value().to_vec(), decode(v.value())?));
        }
        Ok(out)
    }
}

/// Read access, available in both kinds of transaction.
pub trait Reads {
    fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>>;
    fn user(&self, username: &str) -> Result<Option<UserRecord>>;
    fn identity(&self, issuer: &str, subject: &str) -> Result<Option<String>>;
    fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>>;
    fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>>;
    fn job(&self, id: u64) -> Result<Option<JobRecord>>;
    /// Newest first, ids below `before` (0 = from the newest).
    fn jobs(&self, before: u64, limit: usize, filter: &JobFilter) -> Result<Vec<JobRecord>>;
    /// Records with seq > `after_seq`, in order.
    fn logs(&self, job: u64, after_seq: u64, limit: usize) -> Result<Vec<(u64, LogRow)>>;
    fn audit(&self, since_ms: Millis, limit: usize) -> Result<Vec<(u64, AuditRow)>>;
    /// Hidden lines of record `seq` of `job` from line `from`, at most
    /// `max_bytes` (one at least): `(n, line)`.
    fn hidden(&self, job: u64, seq: u64, from: u32, max_bytes: usize)
    -> Result<Vec<(u32, String)>>;

    fn queue(&self) -> Result<Vec<u64>> {
        Ok(self.meta(KEY_QUEUE)?.unwrap_or_default())
    }
    fn active(&self) -> Result<Option<u64>> {
        Ok(self.meta::<Option<u64>>(KEY_ACTIVE)?.flatten())
    }
    fn freeze(&self) -> Result<FreezeRecord> {
        Ok(self.meta(KEY_FREEZE)?.unwrap_or_default())
    }
    /// Existing job or NotFound.
    fn job_or_404(&self, id: u64) -> Result<JobRecord> {
        self.job(id)?
            .ok_or_else(|| ExecutorError::NotFound(format!("job {id}")))
    }
}

fn identity_key(issuer: &str, subject: &str) -> String {
    format!("{issuer}\0{subject}")
}

macro_rules! impl_reads {
    ($ty:ty) => {
        impl Reads for $ty {
            fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
                q::get(&self.txn.open_table(META)?, key)
            }
            fn user(&self, username: &str) -> Result<Option<UserRecord>> {
                q::get(&self.txn.open_table(USERS)?, username)
            }
            fn identity(&self, issuer: &str, subject: &str) -> Result<Option<String>> {
                let t = self.txn.open_table(IDENTITIES)?;
                let key = identity_key(issuer, subject);
                Ok(t.get(key.as_str())?.map(|v| v.value().to_string()))
            }
            fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
                q::get(&self.txn.open_table(SESSIONS)?, &hash[..])
            }
            fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>> {
                q::sessions(&self.txn.open_table(SESSIONS)?)
            }
            fn job(&self, id: u64) -> Result<Option<JobRecord>> {
                q::get(&self.txn.open_table(JOBS)?, id)
            }
            fn jobs(
                &self,
                before: u64,
                limit: usize,
                filter: &JobFilter,
            ) -> Result<Vec<JobRecord>> {
                q::jobs(&self.txn.open_table(JOBS)?, before, limit, filter)
            }
            fn logs(&self, job: u64, after_seq: u64, limit: usize) -> Result<Vec<(u64, LogRow)>> {
                q::logs(&self.txn.open_table(LOGS)?, job, after_seq, limit)
            }
            fn audit(&self, since_ms: Millis, limit: usize) -> Result<Vec<(u64, AuditRow)>> {
                q::audit(&self.txn.open_table(AUDIT)?, since_ms, limit)
            }
            fn hidden(
                &self,
                job: u64,
                seq: u64,
                from: u32,
                max_bytes: usize,
            ) -> Result<Vec<(u32, String)>> {
                let logs = self.txn.open_table(LOGS)?;
                let hidden = self.txn.open_table(HIDDEN)?;
                q::hidden(&logs, &hidden, (job, seq), from, max_bytes)
            }
        }
    };
}

/// A read snapshot.
pub struct ReadTx {
    txn: ReadTransaction,
}

impl ReadTx {
    pub(super) fn new(txn: ReadTransaction) -> Self {
        Self { txn }
    }
}

/// A write transaction; dropped without [`WriteTx::commit`] it aborts.
pub struct WriteTx {
    txn: WriteTransaction,
}

impl_reads!(ReadTx);
impl_reads!(WriteTx);

impl WriteTx {
    pub(super) fn new(txn: WriteTransaction) -> Self {
        Self { txn }
    }

    pub(super) fn commit(self) -> Result<()> {
        self.txn.commit()?;
        Ok(())
    }

    pub(super) fn init_schema(&mut self) -> Result<()> {
        // Creating every table up front lets read transactions open them.
        self.txn.open_table(USERS)?;
        self.txn.open_table(IDENTITIES)?;
        self.txn.open_table(SESSIONS)?;
        self.txn.open_table(JOBS)?;
        self.txn.open_table(LOGS)?;
        self.txn.open_table(AUDIT)?;
        self.txn.open_table(HIDDEN)?;
        match self.meta::<u64>(KEY_SCHEMA)? {
            None => self.put_meta(KEY_SCHEMA, &SCHEMA_VERSION),
            Some(v) if v == SCHEMA_VERSION => Ok(()),
            Some(v) => Err(ExecutorError::Store(format!(
                "the store has schema version {v}; this executor understands {SCHEMA_VERSION}"
            ))),
        }
    }

    pub fn put_meta<T: Serialize>(&mut self, key: &str, value: &T) -> Result<()> {
        let bytes = encode(value)?;
        self.txn.open_table(META)?.insert(key, bytes.as_slice())?;
        Ok(())
    }

    /// The next id from a counter in META (starts at 1).
    pub fn next_id(&mut self, key: &str) -> Result<u64> {
        let next: u64 = self.meta(key)?.unwrap_or(1);
        self.put_meta(key, &(next + 1))?;
        Ok(next)
    }

    pub fn next_job_id(&mut self) -> Result<u64> {
        self.next_id(KEY_NEXT_JOB)
    }

    pub fn next_prompt_id(&mut self) -> Result<u64> {
        self.next_id(KEY_NEXT_PROMPT)
    }

    pub fn set_queue(&mut self, queue: &[u64]) -> Result<()> {
        self.put_meta(KEY_QUEUE, &queue)
    }

    pub fn set_active(&mut self, active: Option<u64>) -> Result<()> {
        self.put_meta(KEY_ACTIVE, &active)
    }

    pub fn set_freeze(&mut self, freeze: &FreezeRecord) -> Result<()> {
        self.put_meta(KEY_FREEZE, freeze)
    }

    pub fn put_user(&mut self, user: &UserRecord) -> Result<()> {
        let bytes = encode(user)?;
        self.txn
            .open_table(USERS)?
            .insert(user.username.as_str(), bytes.as_slice())?;
        Ok(())
    }

    pub fn put_identity(&mut self, issuer: &str, subject: &str, username: &str) -> Result<()> {
        let key = identity_key(issuer, subject);
        self.txn
            .open_table(IDENTITIES)?
            .insert(key.as_str(), username)?;
        Ok(())
    }

    pub fn put_session(&mut self, hash: &[u8; 32], session: &SessionRecord) -> Result<()> {
        let bytes = encode(session)?;
        self.txn
            .open_table(SESSIONS)?
            .insert(&hash[..], bytes.as_slice())?;
        Ok(())
    }

    pub fn delete_session(&mut self, hash: &[u8]) -> Result<bool> {
        Ok(self.txn.open_table(SESSIONS)?.remove(hash)?.is_some())
    }

    /// Delete every session matching `pred`; returns how many.
    pub fn delete_sessions_where(
        &mut self,
        pred: impl Fn(&SessionRecord) -> bool,
    ) -> Result<Vec<Vec<u8>>> {
        let doomed: Vec<Vec<u8>> = self
            .sessions()?
            .into_iter()
            .filter(|(_, s)| pred(s))
            .map(|(h, _)| h)
            .collect();
        for hash in &doomed {
            self.delete_session(hash)?;
        }
        Ok(doomed)
    }

    /// Write a job, one version above the stored row's (or the caller's,
    /// if higher), so every change of a job is a new version whichever
    /// path made it.
    pub fn put_job(&mut self, job: &JobRecord) -> Result<()> {
        /// Only the version of the stored row is read back.
        #[derive(serde::Deserialize)]
        struct Stored {
            #[serde(default)]
            version: u64,
        }
        let mut table = self.txn.open_table(JOBS)?;
        let stored = match table.get(job.id)? {
            Some(row) => decode::<Stored>(row.value())?.version,
            None => 0,
        };
        let mut job = job.clone();
        job.version = stored.max(job.version) + 1;
        let bytes = encode(&job)?;
        table.insert(job.id, bytes.as_slice())?;
        Ok(())
    }

    pub fn put_log(&mut self, job: u64, seq: u64, row: &LogRow) -> Result<()> {
        let bytes = encode(row)?;
        self.txn
            .open_table(LOGS)?
            .insert((job, seq), bytes.as_slice())?;
        Ok(())
    }

    /// Write many log records of one job (one table open for the batch).
    pub fn put_logs<'a>(
        &mut self,
        job: u64,
        rows: impl IntoIterator<Item = &'a (u64, LogRow)>,
    ) -> Result<()> {
        let mut table = self.txn.open_table(LOGS)?;
        for (seq, row) in rows {
            let bytes = encode(row)?;
            table.insert((job, *seq), bytes.as_slice())?;
        }
        Ok(())
    }

    /// Append hidden lines: `(seq of their Redacted record, n, line)`.
    /// Writing one again writes the same value (a flush whose commit failed
    /// is simply done again).
    pub fn put_hidden<'a>(
        &mut self,
        job: u64,
        lines: impl IntoIterator<Item = &'a (u64, u32, String)>,
    ) -> Result<()> {
        let mut table = self.txn.open_table(HIDDEN)?;
        for (seq, n, line) in lines {
            table.insert((job, *seq, *n), line.as_str())?;
        }
        Ok(())
    }

    /// Remove a job's log records and their hidden lines; returns how many
    /// records.
    pub fn delete_logs(&mut self, job: u64) -> Result<u64> {
        let mut table = self.txn.open_table(LOGS)?;
        let mut n = 0;
        table.retain_in((job, 0)..=(job, u64::MAX), |_, _| {
            n += 1;
            false
        })?;
        let mut hidden = self.txn.open_table(HIDDEN)?;
        hidden.retain_in((job, 0, 0)..=(job, u64::MAX, u32::MAX), |_, _| false)?;
        Ok(n)
    }

    /// Append an audit record. Its time is never before the last record's
    /// (a wall clock stepped back records the last time again), so the
    /// table is in time order and `--since` finds its start by bisection.
    pub fn audit_append(&mut self, row: &AuditRow) -> Result<u64> {
        let mut table = self.txn.open_table(AUDIT)?;
        let (seq, floor) = match table.last()? {
            Some((k, v)) => (k.value() + 1, decode::<AuditRow>(v.value())?.at_ms),
            None => (1, Millis::MIN),
        };
        let mut row = row.clone();
        row.at_ms = row.at_ms.max(floor);
        let bytes = encode(&row)?;
        table.insert(seq, bytes.as_slice())?;
        Ok(seq)
    }

    /// Delete audit records older than `before_ms`, at most `max` of them
    /// (the oldest first); returns how many went.
    pub fn prune_audit(&mut self, before_ms: Millis, max: usize) -> Result<u64> {
        let mut table = self.txn.open_table(AUDIT)?;
        let Some(first) = table.first()?.map(|(k, _)| k.value()) else {
            return Ok(0);
        };
        let end = q::audit_start(&table, before_ms)?.min(first.saturating_add(max as u64));
        let mut n = 0;
        table.retain_in(first..end, |_, _| {
            n += 1;
            false
        })?;
        Ok(n)
    }
}
