//! Retention: job logs and audit records older than their configured number
//! of days are pruned. A job's summary stays. Trust: internal.

use crate::engine::Engine;
use crate::error::Result;
use crate::store::{JobFilter, Reads};

const DAY_MS: i64 = 86_400_000;
/// Most audit records deleted in one transaction (the writer is shared).
const AUDIT_BATCH: usize = 10_000;

impl Engine {
    /// Delete the logs of jobs that ended before the retention window.
    /// Returns (jobs pruned, records deleted).
    pub fn prune_logs(&self) -> Result<(u64, u64)> {
        let cutoff = self.now() - self.config().store.log_retention_days as i64 * DAY_MS;
        let candidates: Vec<u64> = self.store().read(|tx| {
            let mut ids = Vec::new();
            let mut before = 0;
            loop {
                let page = tx.jobs(before, 500, &JobFilter::default())?;
                let Some(last) = page.last().map(|j| j.id) else {
                    break;
                };
                ids.extend(
                    page.iter()
                        .filter(|j| {
                            j.state.is_final()
                                && j.ended_ms > 0
                                && j.ended_ms < cutoff
                                && j.last_seq > 0
                        })
                        .map(|j| j.id),
                );
                before = last;
            }
            Ok(ids)
        })?;
        let mut records = 0;
        let mut jobs = 0;
        for id in candidates {
            let n = self.store().write(|tx| {
                let n = tx.delete_logs(id)?;
                if n > 0 {
                    let target = format!("job {id}");
                    self.audit(
                        tx,
                        crate::engine::Audit::ok("system", "retention.prune", &target, "-"),
                    )?;
                }
                Ok(n)
            })?;
            if n > 0 {
                jobs += 1;
                records += n;
            }
        }
        Ok((jobs, records))
    }

    /// Delete audit records older than `audit_retention_days`, in batches;
    /// returns how many went. Each batch records itself.
    pub fn prune_audit(&self) -> Result<u64> {
        let days = self.config().store.audit_retention_days as i64;
        let cutoff = self.now() - days * DAY_MS;
        let mut total = 0;
        loop {
            let n = self.store().write(|tx| {
                let n = tx.prune_audit(cutoff, AUDIT_BATCH)?;
                if n > 0 {
                    let target = format!("{n} audit records older than {days} days");
                    self.audit(
                        tx,
                        crate::engine::Audit::ok("system", "retention.audit_prune", &target, "-"),
                    )?;
                }
                Ok(n)
            })?;
            total += n;
            if n < AUDIT_BATCH as u64 {
                return Ok(total);
            }
        }
    }
}
