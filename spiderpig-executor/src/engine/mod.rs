//! The engine: every state change of the executor goes through here. Trust:
//! callers (the RPC layer) pass validated newtypes and an authenticated
//! caller; the engine checks authorization and state transitions itself.
//!
//! Each change is one redb write transaction holding the change and its
//! audit record; watch events are published only after the commit.

mod admin;
pub use admin::{AdminActor, LogoutScope};
pub use jobs::ProposedAnswer;
mod audit;
mod jobs;
mod logbuf;
mod login;
mod promote;
mod queries;
mod recovery;
mod run;
mod session;
#[cfg(test)]
mod tests;
mod tick;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use spiderpig_policy::{RedactionPatterns, Role, ScapPath};

pub use audit::Audit;
pub use logbuf::JobLog;
pub use session::Caller;
pub use views::{AuditEntry, FreezeView, JobView, LogPage, QueueView, SessionView, StatusView};

use crate::auth::oidc::OidcClient;
use crate::auth::pending::PendingLogins;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::Result;
use crate::hub::Hub;
use crate::runner::RunControl;
use crate::store::{Reads, Store, WriteTx};

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

/// A scap process the engine is driving.
pub(crate) struct LiveRun {
    pub control: RunControl,
    /// Why the engine killed it, if it did (time-out, admin).
    pub kill_reason: Option<String>,
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
/// All are `std` mutexes held for short, non-async sections (none across an
/// `.await`). When more than one is held, they are taken in this order, and
/// never the other way round:
///
/// 1. `flush_gate` (taken before the write transaction, never inside it);
/// 2. the store's write transaction (redb serialises writers; a read
///    transaction never waits for one, so reads may happen under any lock);
/// 3. `logs`, the map of log buffers (held only to find or create one);
/// 4. one job's [`JobLog`];
/// 5. the hub's own locks (a log record is published under its `JobLog`, so
///    watchers see seq order).
///
/// `runs` is taken alone: only to look up, insert or remove a run, and its
/// [`RunControl`] is cloned out before it is used.
pub struct Engine {
    pub(crate) store: Arc<Store>,
    pub(crate) clock: SharedClock,
    pub(crate) config: Arc<Config>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) oidc: Option<Arc<OidcClient>>,
    pub(crate) pending: PendingLogins,
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) scap: ScapPath,
    pub(crate) patterns: RedactionPatterns,
    pub(crate) runs: Mutex<HashMap<u64, LiveRun>>,
    pub(crate) logs: Mutex<HashMap<u64, Arc<Mutex<JobLog>>>>,
    /// Held by each transaction that writes buffered log records
    /// (`flush_log_in`) from before it begins until the buffer is trimmed
    /// after its commit (see `Engine::flush_gate`).
    pub(crate) flush_gate: Mutex<()>,
    pub(crate) started_ms: i64,
    /// Set when the executor begins to stop: scap exits seen from then on
    /// are left to the next start's recovery (the job becomes Interrupted).
    pub(crate) stopping: std::sync::atomic::AtomicBool,
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
        let scap = ScapPath::new(&config.scap.path)?;
        let patterns = config.redaction_patterns()?;
        let hub = Arc::new(Hub::new(config.limits.watch_buffer));
        let pending = PendingLogins::new(
            config.limits.pending_logins,
            config.timeouts.login_secs as i64 * 1000,
        );
        let started_ms = clock.now_ms();
        Ok(Arc::new(Engine {
            roles: config.role_table(),
            store,
            clock,
            hub,
            oidc,
            pending,
            scap,
            patterns,
            runs: Mutex::new(HashMap::new()),
            logs: Mutex::new(HashMap::new()),
            flush_gate: Mutex::new(()),
            started_ms,
            stopping: std::sync::atomic::AtomicBool::new(false),
            config,
        }))
    }

    /// The executor is stopping. scap dies with it (parent-death signal), so
    /// an exit seen from now on is not recorded as scap's own: the job stays
    /// as it is on disk and the next start marks it Interrupted.
    pub fn begin_stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
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
        let active = match tx.active()? {
            Some(id) => tx.job(id)?,
            None => None,
        };
        let mut queued = Vec::new();
        for id in tx.queue()? {
            queued.extend(tx.job(id)?);
        }
        Ok(QueueView {
            active,
            queued,
            freeze: FreezeView::at(tx.freeze()?, self.now()),
        })
    }

    /// A job as users see it, with its queue place.
    pub fn job_view(&self, tx: &impl Reads, id: u64) -> Result<JobView> {
        let job = tx.job_or_404(id)?;
        let position = tx
            .queue()?
            .iter()
            .position(|q| *q == id)
            .map(|p| p as u32 + 1)
            .unwrap_or(0);
        Ok(JobView { job, position })
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
}
