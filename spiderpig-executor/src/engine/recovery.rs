//! Start-up after a crash or restart. Trust: internal.
//!
//! A job that was running when the executor stopped becomes `interrupted`:
//! it is never re-run (nobody knows what state production is in), and its
//! owner keeps the lock until they or an admin finish it. If its scap is
//! somehow still alive (the parent-death signal should have killed it), its
//! process group is killed now.

use spiderpig_policy::{Actor, JobEvent, JobState};

use super::{Audit, Engine};
use crate::error::Result;
use crate::runner::{OrphanOutcome, reap_orphan};
use crate::store::{LogKind, LogRow, Reads};

impl Engine {
    /// Mark an interrupted run; returns the job id if there was one.
    pub fn recover(&self) -> Result<Option<u64>> {
        let now = self.now();
        let found = self.store.read(|tx| {
            Ok(match tx.active()? {
                Some(id) => tx.job(id)?,
                None => None,
            })
        })?;
        let Some(job) = found else { return Ok(None) };
        if !matches!(job.state, JobState::Running | JobState::AwaitingInput) {
            return Ok(None);
        }
        let orphan = match job.pgid {
            Some(pgid) => reap_orphan(pgid, &self.runs.scap),
            None => OrphanOutcome::NoneLeft,
        };
        let note = match &orphan {
            OrphanOutcome::Killed { pids } => format!(
                "the executor restarted while scap ran; scap's leftover processes {pids:?} were killed; production state unknown: check before finishing"
            ),
            _ => "the executor restarted while scap ran; production state unknown: check before finishing".to_string(),
        };
        tracing::warn!(job = job.id, ?orphan, "interrupted job found at start");
        let id = job.id;
        self.logs
            .append(id, LogRow::now(now, LogKind::System, note.clone()));
        let _gate = self.logs.gate();
        self.store.write(|tx| {
            let mut job = tx.job_or_404(id)?;
            self.logs.flush_in(tx, &mut job)?;
            self.apply(&mut job, JobEvent::ExecutorRestarted, Actor::System)?;
            job.outcome = note.clone();
            job.pending_prompt = None;
            job.pgid = None;
            tx.put_job(&job)?;
            let target = format!("job {id}");
            self.audit(tx, Audit::ok("system", "job.interrupted", &target, "-"))
        })?;
        Ok(Some(id))
    }
}
