//! What all WebSockets share, kept in `AppState`: the connection cap, the
//! shutdown signal, the per-job log fan-out and the global events' feed,
//! the per-session guards and the monitoring poller. Trust: internal; it holds
//! the session tokens of open sockets only while they are open, and never
//! logs them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::fanout::{GLOBAL, LogFanout};
use super::guard::SessionGuards;
use crate::config::Limits;
use crate::executor::Executor;
use crate::monitor::Monitor;

/// Shared by every socket; cheap to clone.
#[derive(Clone)]
pub struct WsHub {
    inner: Arc<Inner>,
}

struct Inner {
    /// One permit per open socket (`limits.ws_connections`).
    permits: Arc<Semaphore>,
    max: usize,
    shutdown: CancellationToken,
    fanout: LogFanout,
    invalid: AtomicU64,
    /// The monitoring panels' poller (its frames go to every socket).
    monitor: Monitor,
}

impl WsHub {
    /// A hub whose monitoring is off (panels say "not configured").
    pub fn new(limits: &Limits, executor: Executor) -> WsHub {
        let monitor = Monitor::from_config(&crate::monitor::config::Monitoring::default());
        WsHub::with_monitor(limits, executor, monitor)
    }

    pub fn with_monitor(limits: &Limits, executor: Executor, monitor: Monitor) -> WsHub {
        WsHub {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(limits.ws_connections)),
                max: limits.ws_connections,
                shutdown: CancellationToken::new(),
                fanout: LogFanout::new(
                    executor.clone(),
                    limits.ws_queue,
                    monitor.clone(),
                    SessionGuards::new(executor),
                ),
                invalid: AtomicU64::new(0),
                monitor,
            }),
        }
    }

    /// A place for one more socket, unless the cap is reached or the
    /// server is shutting down.
    pub(crate) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if self.inner.shutdown.is_cancelled() {
            return None;
        }
        self.inner.permits.clone().try_acquire_owned().ok()
    }

    /// Begin shutdown: every open socket sends close 1001 and ends; new
    /// upgrades are refused with 503.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    pub(crate) fn shutdown_signal(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Wait until every socket has ended (after [`WsHub::shutdown`]).
    pub async fn closed(&self) {
        while self.open_sockets() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sockets open now.
    pub fn open_sockets(&self) -> usize {
        self.inner.max - self.inner.permits.available_permits()
    }

    pub fn monitor(&self) -> &Monitor {
        &self.inner.monitor
    }

    pub(crate) fn fanout(&self) -> &LogFanout {
        &self.inner.fanout
    }

    pub(crate) fn guards(&self) -> &SessionGuards {
        self.inner.fanout.guards()
    }

    /// Executor streams this web process holds now: one per followed job's
    /// log and one for the global events (while any socket is open, with
    /// every session's end); never one per socket or per session.
    pub fn executor_streams(&self) -> usize {
        self.inner.fanout.feeds_open()
    }

    /// Signed-in sessions with an open socket (they hold no stream).
    pub fn sessions_held(&self) -> usize {
        self.inner.fanout.guards().held()
    }

    /// Frames serialised by the fan-out (one per log batch or global event,
    /// whatever the number of sockets).
    pub fn log_frames_serialised(&self) -> u64 {
        self.inner.fanout.frames_serialised()
    }

    /// Jobs whose log is fanned out now (one upstream stream each).
    pub fn log_feeds(&self) -> usize {
        let global = self.inner.fanout.has_feed(GLOBAL);
        self.inner.fanout.feeds_open() - usize::from(global)
    }

    /// Invalid browser messages ignored so far, all sockets together.
    pub fn invalid_messages(&self) -> u64 {
        self.inner.invalid.load(Ordering::Relaxed)
    }

    pub(crate) fn count_invalid(&self) {
        self.inner.invalid.fetch_add(1, Ordering::Relaxed);
    }
}
