//! Retention: job logs older than the configured number of days are pruned.
//! The job's summary and the audit trail stay. Trust: internal.

use crate::engine::Engine;
use crate::error::Result;
use crate::store::{JobFilter, Reads};

const DAY_MS: i64 = 86_400_000;

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
}
