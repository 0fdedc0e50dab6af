//! Pages of a job's log with their hidden lines, for an admin's audited
//! read only. Trust: internal; the caller is an admin on admin.sock, and the
//! read was audited before this runs.
//!
//! The hidden lines of a record are read from the store and the buffer
//! under the buffer's lock (no gap), within the same byte budget as the
//! records: a record with more hidden lines than fit is cut, and the page
//! says where to go on ([`LogPage::next_hidden`]).

use super::{JobLogs, PAGE_BYTES, RECORD_OVERHEAD, lock};
use crate::engine::views::LogPage;
use crate::error::Result;
use crate::store::{HIDDEN_LINE_OVERHEAD, LogKind, Reads};

impl JobLogs {
    /// Records after `after_seq` (as [`JobLogs::page`]) and the hidden lines
    /// of each `Redacted` one; the first record's from line `from_hidden`.
    pub fn sensitive_page(
        &self,
        job: u64,
        after_seq: u64,
        from_hidden: u32,
        limit: u32,
    ) -> Result<LogPage> {
        let mut page = self.page(job, after_seq, limit)?;
        let log = self.existing(job);
        let guard = log.as_ref().map(lock);
        let mut budget = PAGE_BYTES;
        let mut kept = 0;
        for (i, (seq, row)) in page.rows.iter().enumerate() {
            let cost = row.text.len() + RECORD_OVERHEAD;
            if i > 0 && cost > budget {
                break;
            }
            budget = budget.saturating_sub(cost);
            kept = i + 1;
            if row.kind != LogKind::Redacted {
                continue;
            }
            let from = if i == 0 { from_hidden } else { 0 };
            let pending: Vec<(u32, String)> = guard
                .iter()
                .flat_map(|b| b.hidden.iter())
                .filter(|(s, n, _)| s == seq && *n >= from)
                .map(|(_, n, line)| (*n, line.clone()))
                .collect();
            let (lines, rest) = self.hidden_lines(job, *seq, from, budget, &pending)?;
            let cost: usize = lines.iter().map(|l| l.len() + HIDDEN_LINE_OVERHEAD).sum();
            budget = budget.saturating_sub(cost);
            page.hidden.push((*seq, lines));
            if let Some(next) = rest {
                page.next_hidden = next;
                page.more = true;
                break;
            }
        }
        drop(guard);
        if kept < page.rows.len() {
            page.rows.truncate(kept);
            page.more = true;
        }
        Ok(page)
    }

    /// Record `seq`'s hidden lines from `from`, within `budget` bytes (one
    /// at least): the store's, then those still in the buffer (`pending`).
    /// Returns them and the first one left out, if any was.
    fn hidden_lines(
        &self,
        job: u64,
        seq: u64,
        from: u32,
        budget: usize,
        pending: &[(u32, String)],
    ) -> Result<(Vec<String>, Option<u32>)> {
        let stored = self.store.read(|tx| tx.hidden(job, seq, from, budget))?;
        let mut used = 0;
        let mut next = from;
        let mut lines = Vec::new();
        let stored_upto = stored.last().map(|(n, _)| n + 1).unwrap_or(from);
        let more_stored = !self
            .store
            .read(|tx| tx.hidden(job, seq, stored_upto, 0))?
            .is_empty();
        for (n, line) in stored.into_iter().chain(
            pending
                .iter()
                .filter(|(n, _)| *n >= stored_upto && !more_stored)
                .cloned(),
        ) {
            used += line.len() + HIDDEN_LINE_OVERHEAD;
            if used > budget && !lines.is_empty() {
                return Ok((lines, Some(n)));
            }
            lines.push(line);
            next = n + 1;
        }
        Ok((lines, more_stored.then_some(next)))
    }
}
