//! The engine: every state change of the executor goes through here. Trust:
//! callers (the RPC layer) pass validated newtypes and an authenticated
//! caller; the engine checks authorization and state transitions itself.
//!
//! [`Engine`] is a façade over four components, each owning its state and
//! one documented lock: [`sessions`] (sign-in, logins in flight, session
//! rules), [`queue`] (the queue and the deployment lock), [`runs`] (the scap
//! processes being driven) and [`job_logs`] (log buffers, seq numbers,
//! batched commits). A verb (`jobs`, `login`, `session`, `admin`, `tick`,
//! `recovery`, `run`) opens one redb write transaction, calls the
//! components inside it with the transaction, commits, and only then
//! publishes to watchers through the [`Hub`]; the change and its audit record
//! commit together.

mod admin;
pub use admin::{AdminActor, LogRead, LogoutScope};
pub use jobs::ProposedAnswer;
mod audit;
mod job_logs;
mod jobs;
mod login;
mod queries;
mod queue;
mod recovery;
mod run;
mod runs;
mod session;
mod sessions;
mod tally;
#[cfg(test)]
mod tests;
mod tick;
mod views;

use std::sync::Arc;

use spiderpig_policy::{Actor, JobEvent, ScapPath};

pub use audit::Audit;
pub use job_logs::{JobLog, MAX_RECORD_BYTES, PAGE_BYTES, RECORD_OVERHEAD};
pub use session::Caller;
pub use views::{AuditEntry, FreezeView, JobView, LogPage, QueueView, SessionView, StatusView};

use crate::auth::oidc::OidcClient;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::Result;
use crate::hub::Hub;
use crate::store::{JobRecord, Reads, Store, WriteTx};
use job_logs::JobLogs;
use queue::Queue;
use runs::Runs;
use sessions::Sessions;

/// Where a request came from (as reported by the web; audit only).
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub client_addr: String,
    pub request_id: String,
}

impl Ctx {
    /// The context of an admin command (`ctl`).
    pub fn admin() -> Self {
        Ctx {
            client_addr: "admin.sock".into(),
            request_id: String::new(),
        }
    }
}

/// The monitor's decisions and state: sign-in and sessions, the queue and
/// the deployment lock, scap's runs and their logs. Every change is one redb
/// write transaction holding the change and its audit record; watchers hear
/// of it (through the [`Hub`]) only after the commit. The RPC layer hands it
/// an authenticated [`Caller`] and `policy` newtypes; it decides who may do
/// what ([`spiderpig_policy::transition`]) and answers with domain values
/// (`views`), never protocol messages.
///
/// # Locks
///
/// Each component has one lock, all `std` mutexes held for short, non-async
/// sections (none across an `.await`):
///
/// - `sessions`: the logins in flight (its own mutex, taken alone); the
///   session table is the store's;
/// - `queue`: none of its own: the queue and the lock holder live in the
///   store and change only under redb's single writer;
/// - `runs`: the live runs (taken alone, to look up, insert or remove; a
///   run's control is cloned out before it is used);
/// - `logs`: the map of buffers (held only to find, create or drop one), one
///   mutex per job's [`JobLog`], and the flush gate.
///
/// When more than one is held, they are taken in this order, and never the
/// other way round:
///
/// 1. the logs' flush gate (taken before the write transaction, never inside
///    it);
/// 2. the store's write transaction (redb serialises writers; a read
///    transaction never waits for one, so reads may happen under any lock);
/// 3. the logs' map of buffers;
/// 4. one job's [`JobLog`];
/// 5. the hub's own locks (a log record is published under its `JobLog`, so
///    watchers see seq order).
pub struct Engine {
    pub(crate) store: Arc<Store>,
    pub(crate) clock: SharedClock,
    pub(crate) config: Arc<Config>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) sessions: Sessions,
    pub(crate) queue: Queue,
    pub(crate) runs: Runs,
    pub(crate) logs: JobLogs,
    pub(crate) started_ms: i64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Build the engine. `oidc` is `None` only in tests that do not sign in
    /// through an IDP.
    pub fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        clock: SharedClock,
        oidc: Option<Arc<OidcClient>>,
    ) -> Result<Arc<Engine>> {
        let runs = Runs::new(
            ScapPath::new(&config.scap.path)?,
            config.redaction_patterns()?,
        );
        let hub = Arc::new(Hub::new(config.limits.watch_buffer));
        let started_ms = clock.now_ms();
        Ok(Arc::new(Engine {
            sessions: Sessions::new(&config, oidc)?,
            queue: Queue::new(
                config.timeouts.ready_secs,
                config.limits.queued_jobs_per_user,
            ),
            runs,
            logs: JobLogs::new(store.clone(), hub.clone()),
            store,
            clock,
            hub,
            started_ms,
            config,
        }))
    }

    /// The executor is stopping. scap dies with it (parent-death signal), so
    /// an exit seen from now on is not recorded as scap's own: the job stays
    /// as it is on disk and the next start marks it Interrupted.
    pub fn begin_stop(&self) {
        self.runs.begin_stop();
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The queue snapshot as users see it.
    pub fn queue_snapshot(&self, tx: &impl Reads) -> Result<QueueView> {
        self.queue.snapshot(tx, self.now())
    }

    /// A job as users see it, with its queue place.
    pub fn job_view(&self, tx: &impl Reads, id: u64) -> Result<JobView> {
        self.queue.view(tx, id)
    }

    /// Apply a policy transition to a job record, now.
    pub(crate) fn apply(&self, job: &mut JobRecord, event: JobEvent, actor: Actor) -> Result<()> {
        queue::apply(job, event, actor, self.now())
    }

    /// After a commit that changed jobs or the queue: tell every watcher.
    pub(crate) fn publish_jobs(&self, ids: &[u64]) {
        let snapshot = self.store.read(|tx| {
            let queue = self.queue_snapshot(tx)?;
            let jobs = ids
                .iter()
                .map(|id| self.job_view(tx, *id))
                .collect::<Result<Vec<_>>>()?;
            Ok((queue, jobs))
        });
        match snapshot {
            Ok((queue, jobs)) => self.hub.publish_jobs(&queue, &jobs),
            Err(e) => tracing::error!(error = %e, "cannot publish job change"),
        }
    }

    /// Write an audit record inside `tx`.
    pub fn audit(&self, tx: &mut WriteTx, entry: Audit<'_>) -> Result<()> {
        audit::write(tx, self.now(), entry)
    }

    /// After a transaction that freed a job's lock or queue place (and
    /// maybe promoted the next job): tell watchers of both.
    pub(crate) fn publish_pair(&self, job: u64, promoted: Option<u64>) {
        let mut ids = vec![job];
        ids.extend(promoted.filter(|p| *p != job));
        self.publish_jobs(&ids);
    }

    /// Commit a job's buffered log records now, in their own transaction.
    /// Blocks for the commit: the run's driver calls it off its own task.
    /// Returns whether the job's details (status, progress, stage) changed.
    pub(crate) fn flush_log(&self, job: u64) -> Result<bool> {
        let _gate = self.logs.gate();
        if !self.logs.has_pending(job) {
            return Ok(false);
        }
        let flushed = self.store.write(|tx| {
            let Some(mut record) = tx.job(job)? else {
                return Ok(Default::default());
            };
            let flushed = self.logs.flush_in(tx, &mut record)?;
            tx.put_job(&record)?;
            Ok(flushed)
        })?;
        self.logs.trim(job, flushed);
        Ok(flushed.meta_changed)
    }

    /// Commit every buffered log record now (shutdown).
    pub fn flush_all_logs(&self) {
        for job in self.logs.jobs() {
            if let Err(e) = self.flush_log(job) {
                tracing::error!(job, error = %e, "log flush at shutdown failed");
            }
        }
    }
}
