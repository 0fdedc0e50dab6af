//! Fan-out of live events to watch streams. Trust: internal.
//!
//! Every channel is a bounded broadcast ring: a subscriber that falls behind
//! loses the oldest events and is told so (it then gets a "skipped" event and
//! can fetch the gap with GetLog); it never slows the publisher or anyone else.
//! Events are shared behind `Arc`, encoded once per stream by tonic; the web
//! holds one stream with the global events per process (it also asks for
//! every session's end; its log feeds ask for `logs_only`), so each is
//! encoded once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use spiderpig_proto::v1 as pb;
use tokio::sync::broadcast;

/// Which sessions must end now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One session, by the SHA-256 of its token.
    Session(Vec<u8>),
    /// Every session of a user.
    User(String),
    /// Everyone.
    All,
}

impl Revocation {
    /// Does this revocation end the given session?
    pub fn hits(&self, session_hash: &[u8], username: &str) -> bool {
        match self {
            Revocation::Session(h) => h.as_slice() == session_hash,
            Revocation::User(u) => u == username,
            Revocation::All => true,
        }
    }
}

/// Live events from the engine to the Watch streams: one broadcast ring for
/// global events (jobs, queue, freeze, prompts), one per job for its log,
/// and one for session revocations. Publishing never blocks: a slow stream
/// loses its oldest events and is told. The engine publishes through
/// `crate::wire`'s domain-typed methods; the `pb` messages are built there.
pub struct Hub {
    events: broadcast::Sender<Arc<pb::Event>>,
    revocations: broadcast::Sender<(Revocation, String)>,
    logs: Mutex<HashMap<u64, broadcast::Sender<Arc<pb::LogRecord>>>>,
    capacity: usize,
    watchers: AtomicUsize,
    closing: tokio::sync::watch::Sender<bool>,
    /// Global events published, and put on a Watch stream (each of those is
    /// one protobuf encode by tonic): what a change costs, for tests and
    /// the benchmark's reading.
    published: AtomicU64,
    streamed: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub whose per-subscriber buffers hold `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity);
        let (revocations, _) = broadcast::channel(256);
        Hub {
            events,
            revocations,
            logs: Mutex::new(HashMap::new()),
            capacity,
            watchers: AtomicUsize::new(0),
            closing: tokio::sync::watch::channel(false).0,
            published: AtomicU64::new(0),
            streamed: AtomicU64::new(0),
        }
    }

    /// Send an event to every watcher.
    pub fn publish(&self, event: pb::event::Kind) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let _ = self.events.send(Arc::new(pb::Event { kind: Some(event) }));
    }

    /// Global events published so far.
    pub fn events_published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Global events put on Watch streams so far (one encode each): with the
    /// web's one shared stream, equal to [`Hub::events_published`] however
    /// many sockets are open.
    pub fn events_streamed(&self) -> u64 {
        self.streamed.load(Ordering::Relaxed)
    }

    pub(crate) fn count_streamed(&self) {
        self.streamed.fetch_add(1, Ordering::Relaxed);
    }

    /// Watch streams subscribed to the global events now.
    pub fn event_subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<pb::Event>> {
        self.events.subscribe()
    }

    fn log_sender(&self, job: u64) -> broadcast::Sender<Arc<pb::LogRecord>> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.entry(job)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .clone()
    }

    /// Send a log record to the job's watchers. Call in seq order. A job
    /// nobody watches has no ring, and none is made for it.
    pub fn publish_log(&self, record: pb::LogRecord) {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = logs.get(&record.job_id) {
            let _ = tx.send(Arc::new(record));
        }
    }

    /// A watcher of `job` is gone: free the job's ring (every slot of which
    /// is allocated when it is made) if nobody else watches it.
    pub fn release_log(&self, job: u64) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if logs.get(&job).is_some_and(|tx| tx.receiver_count() == 0) {
            logs.remove(&job);
        }
    }

    /// Jobs with a live ring now.
    pub fn log_rings(&self) -> usize {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Watch a job's live log records.
    pub fn subscribe_log(&self, job: u64) -> broadcast::Receiver<Arc<pb::LogRecord>> {
        self.log_sender(job).subscribe()
    }

    /// The job will log no more: its live channel closes once drained.
    pub fn close_log(&self, job: u64) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.remove(&job);
    }

    /// End sessions' streams now.
    pub fn revoke(&self, revocation: Revocation, reason: &str) {
        let _ = self.revocations.send((revocation, reason.to_string()));
    }

    pub fn subscribe_revocations(&self) -> broadcast::Receiver<(Revocation, String)> {
        self.revocations.subscribe()
    }

    /// The executor is stopping: every watch stream ends (clients reconnect
    /// to the next executor; this is not a revocation).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when [`Hub::close_all`] has been called.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Count of open watch streams (kept by [`WatcherGuard`]).
    pub fn watchers(&self) -> usize {
        self.watchers.load(Ordering::Relaxed)
    }

    pub fn watcher_guard(self: &Arc<Self>) -> WatcherGuard {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        WatcherGuard(self.clone())
    }
}

/// Counts an open watch stream while alive.
pub struct WatcherGuard(Arc<Hub>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(job: u64, seq: u64) -> pb::LogRecord {
        pb::LogRecord {
            job_id: job,
            seq,
            text: format!("line {seq}"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn slow_subscriber_is_told_it_lagged_and_others_are_not_slowed() {
        let hub = Hub::new(16);
        let mut slow = hub.subscribe_log(7);
        let mut fast = hub.subscribe_log(7);
        for seq in 1..=100 {
            hub.publish_log(record(7, seq));
            let got = fast.recv().await.expect("fast keeps up");
            assert_eq!(got.seq, seq);
        }
        match slow.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 84),
            other => panic!("expected lag, got {other:?}"),
        }
        assert_eq!(slow.recv().await.expect("after lag").seq, 85);
    }

    #[test]
    fn revocation_scopes() {
        let s = Revocation::Session(vec![1, 2]);
        assert!(s.hits(&[1, 2], "a"));
        assert!(!s.hits(&[1, 3], "a"));
        assert!(Revocation::User("a".into()).hits(&[9], "a"));
        assert!(!Revocation::User("a".into()).hits(&[9], "b"));
        assert!(Revocation::All.hits(&[], "x"));
    }

    #[tokio::test]
    async fn a_ring_lives_only_while_someone_watches() {
        // F12: publishing to a job nobody watches makes no ring; the ring
        // goes with its last receiver.
        let hub = Hub::new(1024);
        hub.publish_log(record(7, 1));
        assert_eq!(hub.log_rings(), 0);
        let a = hub.subscribe_log(7);
        let mut b = hub.subscribe_log(7);
        assert_eq!(hub.log_rings(), 1);
        hub.publish_log(record(7, 2));
        assert_eq!(b.recv().await.expect("live").seq, 2);
        drop(a);
        hub.release_log(7);
        assert_eq!(hub.log_rings(), 1, "b still watches");
        drop(b);
        hub.release_log(7);
        assert_eq!(hub.log_rings(), 0);
    }
}
