//! The scap processes the engine is driving: one of the engine's
//! components. Trust: internal.
//!
//! State: the live runs by job id, under one mutex, held only to look up,
//! insert or remove a run (a run's [`RunControl`] is cloned out before it is
//! used, so no other lock is ever taken under this one); and whether the
//! executor is stopping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use spiderpig_policy::{RedactionPatterns, ScapPath};

use crate::error::{ExecutorError, Result};
use crate::runner::RunControl;

/// A scap process the engine is driving.
struct LiveRun {
    control: RunControl,
    /// Why the engine killed it, if it did (time-out, admin).
    kill_reason: Option<String>,
}

/// The live runs, and what every run is spawned with.
pub(crate) struct Runs {
    live: Mutex<HashMap<u64, LiveRun>>,
    /// The scap binary (checked at start).
    pub scap: ScapPath,
    /// What the runner hides from everyone but admins.
    pub patterns: RedactionPatterns,
    /// Set when the executor begins to stop: scap exits seen from then on
    /// are left to the next start's recovery (the job becomes Interrupted).
    stopping: AtomicBool,
}

impl Runs {
    pub fn new(scap: ScapPath, patterns: RedactionPatterns) -> Self {
        Runs {
            live: Mutex::new(HashMap::new()),
            scap,
            patterns,
            stopping: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, LiveRun>> {
        // Every change is one insert or remove: a panic cannot leave it torn.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A run began for `job`.
    pub fn insert(&self, job: u64, control: RunControl) {
        let run = LiveRun {
            control,
            kill_reason: None,
        };
        self.lock().insert(job, run);
    }

    /// The handle to a job's scap, if it runs.
    pub fn control(&self, job: u64) -> Option<RunControl> {
        self.lock().get(&job).map(|r| r.control.clone())
    }

    /// scap exited: forget the run. Returns why the engine killed it, if it
    /// did.
    pub fn remove(&self, job: u64) -> Option<String> {
        self.lock().remove(&job).and_then(|r| r.kill_reason)
    }

    /// Note why a run is being killed; returns its handle to kill it with.
    pub fn mark_killed(&self, job: u64, reason: String) -> Result<RunControl> {
        let mut live = self.lock();
        let run = live
            .get_mut(&job)
            .ok_or_else(|| ExecutorError::WrongState("scap is not running for this job".into()))?;
        run.kill_reason = Some(reason);
        Ok(run.control.clone())
    }

    /// The jobs whose scap runs and has not been told to die.
    pub fn unkilled(&self) -> Vec<u64> {
        self.lock()
            .iter()
            .filter(|(_, r)| r.kill_reason.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}
