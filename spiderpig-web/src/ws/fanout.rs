//! The per-job log fan-out, and the one feed of global events. Trust:
//! internal; the records and events are the executor's, already redacted,
//! and the same for every viewer (nothing in them depends on who watches).
//!
//! For each job that has watchers there is one feed: one upstream executor
//! `Watch(job, after_seq)` stream (see `upstream`), opened with the session
//! token of one of the current watchers. Each batch of records it brings is
//! serialised once into a `log` frame and put, behind a shared buffer, into
//! a bounded broadcast ring of `limits.ws_queue` entries. Every watcher reads
//! the same frames from the ring at its own pace; one that falls behind loses
//! the oldest entries (and is told it skipped), never slowing the upstream
//! or the others. The last watcher to leave ends the feed.
//!
//! The global events (queue, job, prompt, freeze) travel the same way, as
//! the feed of [`GLOBAL`]: one `Watch(job 0)` stream for the whole web
//! process instead of one stream per socket. A prompt or freeze event is
//! serialised once for everyone. Queue and job events carry job views whose
//! `actions` are the viewer's own (`policy::actions_for`), so their frame is
//! serialised once per distinct viewer, the first time a socket of that
//! person needs it, and shared by that person's sockets ([`PerViewer`]):
//! one person never sees another's actions, and the cost grows with people,
//! not tabs. A socket joining the feed is first sent what the stream itself
//! began with (the latest queue snapshot, or that the executor is down).
//! Each socket's own session is watched apart (see `guard`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use spiderpig_policy::seq;
use spiderpig_proto::v1 as pb;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::guard::SessionGuards;
use super::protocol::{self, Incoming, ServerMsg};
use super::upstream;
use crate::executor::{Executor, RequestContext};
use crate::monitor::Monitor;
use crate::views::Viewer;

/// The feed key of the global events (job 0 names no job; the per-socket
/// log subscription never follows it).
pub const GLOBAL: u64 = 0;

/// Consecutive records of one job, as one ready-made `log` frame; on the
/// [`GLOBAL`] feed, one global event (`first` = `last` = 0): its frame, or,
/// for a queue or job event, the event to serialise for each viewer.
#[derive(Debug)]
pub struct LogBatch {
    pub first: u64,
    pub last: u64,
    pub frame: Utf8Bytes,
    per_viewer: Option<Arc<PerViewer>>,
}

impl LogBatch {
    fn shared(frame: Utf8Bytes) -> LogBatch {
        LogBatch {
            first: 0,
            last: 0,
            frame,
            per_viewer: None,
        }
    }

    /// The frame for `viewer`, or `None` when this event shows them nothing.
    pub fn frame_for(&self, viewer: &Viewer) -> Option<Utf8Bytes> {
        match &self.per_viewer {
            None => Some(self.frame.clone()),
            Some(p) => p.frame_for(viewer),
        }
    }
}

pub type Batch = Arc<LogBatch>;

/// A global event whose frame differs by viewer, with each viewer's frame
/// once it has been serialised.
pub struct PerViewer {
    event: pb::Event,
    frames: Mutex<HashMap<Viewer, Option<Utf8Bytes>>>,
    serialised: Arc<AtomicU64>,
}

impl std::fmt::Debug for PerViewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerViewer").finish_non_exhaustive()
    }
}

impl PerViewer {
    /// Serialise for `viewer` the first time; later sockets of the same
    /// person share the bytes.
    fn frame_for(&self, viewer: &Viewer) -> Option<Utf8Bytes> {
        let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        frames
            .entry(viewer.clone())
            .or_insert_with(|| {
                self.serialised.fetch_add(1, Ordering::Relaxed);
                match protocol::incoming(&self.event, viewer) {
                    Incoming::Forward(frame) => Some(frame),
                    Incoming::Revoked(_) | Incoming::Ignore => None,
                }
            })
            .clone()
    }
}

/// All feeds; cheap to clone.
#[derive(Clone)]
pub struct LogFanout {
    shared: Arc<Shared>,
}

struct Shared {
    executor: Executor,
    capacity: usize,
    feeds: Mutex<HashMap<u64, Feed>>,
    next_id: AtomicU64,
    serialised: Arc<AtomicU64>,
    /// Follows the lock holder from the global events.
    monitor: Monitor,
    /// Told of every session's end by the global events.
    guards: SessionGuards,
}

/// One job's feed, as the map keeps it.
struct Feed {
    core: Arc<FeedCore>,
    watchers: BTreeMap<u64, Watcher>,
    /// The watcher whose token the upstream stream was opened with.
    in_use: Option<u64>,
    /// The upstream waits for a watcher with a live session.
    starved: bool,
}

/// What the upstream task holds of its feed.
pub struct FeedCore {
    pub job: u64,
    /// Tells a replaced feed's upstream from the current one.
    pub id: u64,
    tx: broadcast::Sender<Batch>,
    /// Cancelled when the last watcher leaves.
    pub stop: CancellationToken,
    /// Notified when the watcher whose token is in use leaves, or when a
    /// watcher joins a starved feed.
    pub switch: Notify,
    serialised: Arc<AtomicU64>,
    /// What a socket joining the [`GLOBAL`] feed is sent first.
    latest: Mutex<Latest>,
}

/// The state a joining socket of the global feed needs.
#[derive(Default)]
struct Latest {
    queue: Option<Arc<PerViewer>>,
    executor_down: bool,
}

/// A watcher's session, lent to the upstream stream.
#[derive(Clone)]
pub struct Watcher {
    pub token: String,
    pub origin: RequestContext,
    dead: bool,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the session token.
        f.debug_struct("Watcher")
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

/// Which session the upstream should use now.
#[derive(Debug)]
pub enum Pick {
    Use(u64, Watcher),
    /// Every watcher's session has ended; wait for a new one.
    Nobody,
    /// The feed has ended (or was replaced): stop.
    Gone,
}

/// A watcher's place in a feed; leaving is dropping it.
pub struct Subscription {
    pub rx: broadcast::Receiver<Batch>,
    core: Arc<FeedCore>,
    job: u64,
    id: u64,
    fanout: LogFanout,
}

impl Subscription {
    /// What to send before the feed's frames (on the [`GLOBAL`] feed: the
    /// latest queue snapshot, or that the executor is down). Read after
    /// subscribing, so nothing is missed; at worst a snapshot comes twice.
    pub fn first_frames(&self, viewer: &Viewer) -> Vec<Utf8Bytes> {
        let queue = {
            let latest = self.core.latest();
            if latest.executor_down {
                return vec![protocol::encode(&ServerMsg::Executor { up: false })];
            }
            latest.queue.clone()
        };
        queue
            .and_then(|q| q.frame_for(viewer))
            .into_iter()
            .collect()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.fanout.leave(self.job, self.id);
    }
}

impl LogFanout {
    /// `capacity`: entries in each job's broadcast ring (`limits.ws_queue`).
    pub fn new(
        executor: Executor,
        capacity: usize,
        monitor: Monitor,
        guards: SessionGuards,
    ) -> LogFanout {
        LogFanout {
            shared: Arc::new(Shared {
                executor,
                capacity: capacity.max(1),
                feeds: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                serialised: Arc::new(AtomicU64::new(0)),
                monitor,
                guards,
            }),
        }
    }

    pub fn monitor(&self) -> &Monitor {
        &self.shared.monitor
    }

    /// The sessions whose ends the global events tell of.
    pub fn guards(&self) -> &SessionGuards {
        &self.shared.guards
    }

    fn feeds(&self) -> MutexGuard<'_, HashMap<u64, Feed>> {
        self.shared.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn executor(&self) -> &Executor {
        &self.shared.executor
    }

    /// Frames serialised by all feeds so far (a test hook: one per upstream
    /// batch or global event, however many watchers it reaches).
    pub fn frames_serialised(&self) -> u64 {
        self.shared.serialised.load(Ordering::Relaxed)
    }

    /// Feeds open now (jobs, and the [`GLOBAL`] feed).
    pub fn feeds_open(&self) -> usize {
        self.feeds().len()
    }

    pub fn has_feed(&self, job: u64) -> bool {
        self.feeds().contains_key(&job)
    }

    /// Join `job`'s feed, starting it if needed. The receiver gets every
    /// batch broadcast from now on (catching up is the caller's job).
    pub fn subscribe(&self, job: u64, token: &str, origin: &RequestContext) -> Subscription {
        let id = self.next_id();
        let mut feeds = self.feeds();
        let feed = feeds.entry(job).or_insert_with(|| {
            let core = Arc::new(FeedCore {
                job,
                id: self.next_id(),
                tx: broadcast::channel(self.shared.capacity).0,
                stop: CancellationToken::new(),
                switch: Notify::new(),
                serialised: self.shared.serialised.clone(),
                latest: Mutex::new(Latest::default()),
            });
            tokio::spawn(upstream::run(self.clone(), core.clone()));
            Feed {
                core,
                watchers: BTreeMap::new(),
                in_use: None,
                starved: false,
            }
        });
        let watcher = Watcher {
            token: token.to_string(),
            origin: origin.clone(),
            dead: false,
        };
        feed.watchers.insert(id, watcher);
        if feed.starved {
            feed.core.switch.notify_one();
        }
        Subscription {
            rx: feed.core.tx.subscribe(),
            core: feed.core.clone(),
            job,
            id,
            fanout: self.clone(),
        }
    }

    fn leave(&self, job: u64, id: u64) {
        let mut feeds = self.feeds();
        let Some(feed) = feeds.get_mut(&job) else {
            return;
        };
        feed.watchers.remove(&id);
        if feed.watchers.is_empty() {
            feed.core.stop.cancel();
            feeds.remove(&job);
        } else if feed.in_use == Some(id) {
            // Act only for people who are watching: reopen with another's session.
            feed.core.switch.notify_one();
        }
    }

    /// The session the upstream of `core` should use now.
    pub fn pick(&self, core: &FeedCore) -> Pick {
        let mut feeds = self.feeds();
        let Some(feed) = feeds.get_mut(&core.job).filter(|f| f.core.id == core.id) else {
            return Pick::Gone;
        };
        let Some((id, w)) = feed.watchers.iter().find(|(_, w)| !w.dead) else {
            feed.in_use = None;
            feed.starved = true;
            return Pick::Nobody;
        };
        let picked = Pick::Use(*id, w.clone());
        feed.in_use = Some(*id);
        feed.starved = false;
        picked
    }

    /// The executor refused this watcher's session: do not use it again.
    pub fn mark_dead(&self, core: &FeedCore, watcher: u64) {
        let mut feeds = self.feeds();
        if let Some(feed) = feeds.get_mut(&core.job).filter(|f| f.core.id == core.id)
            && let Some(w) = feed.watchers.get_mut(&watcher)
        {
            w.dead = true;
        }
    }
}

impl FeedCore {
    /// Broadcast the records `cur` has not passed on yet, serialised once,
    /// and move `cur` on. Records it has (a reopened stream's overlap) are
    /// dropped here, so watchers see each seq at most once.
    pub fn publish(&self, records: Vec<pb::LogRecord>, cur: &mut seq::Cursor) {
        let fresh: Vec<pb::LogRecord> = records.into_iter().filter(|r| cur.wants(r.seq)).collect();
        let (Some(first), Some(last)) = (fresh.first().map(|r| r.seq), fresh.last().map(|r| r.seq))
        else {
            return;
        };
        let frame = protocol::log_frame(self.job, &fresh);
        self.serialised.fetch_add(1, Ordering::Relaxed);
        cur.advance(last);
        // No receiver is fine: watchers may all be catching up or leaving.
        let _ = self.tx.send(Arc::new(LogBatch {
            first,
            last,
            frame,
            per_viewer: None,
        }));
    }

    fn latest(&self) -> MutexGuard<'_, Latest> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Broadcast one global event: a prompt or freeze frame serialised here
    /// once for every socket, a queue or job event to be serialised once per
    /// viewer. The latest queue snapshot is kept for sockets that join later
    /// (set before the send, so a joiner never misses it).
    pub fn publish_event(&self, event: &pb::Event) {
        if protocol::is_per_viewer(event) {
            let per_viewer = Arc::new(PerViewer {
                event: event.clone(),
                frames: Mutex::new(HashMap::new()),
                serialised: self.serialised.clone(),
            });
            if matches!(event.kind, Some(pb::event::Kind::Queue(_))) {
                self.latest().queue = Some(per_viewer.clone());
            }
            let _ = self.tx.send(Arc::new(LogBatch {
                first: 0,
                last: 0,
                frame: Utf8Bytes::from_static(""),
                per_viewer: Some(per_viewer),
            }));
            return;
        }
        // Nothing viewer-specific: any viewer serialises it the same.
        let nobody = Viewer {
            username: String::new(),
            is_admin: false,
        };
        let Incoming::Forward(frame) = protocol::incoming(event, &nobody) else {
            return;
        };
        self.serialised.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Arc::new(LogBatch::shared(frame)));
    }

    /// The global stream is open (`up`) or the executor is unreachable: tell
    /// every socket when that changes.
    pub fn set_executor_up(&self, up: bool) {
        {
            let mut latest = self.latest();
            if latest.executor_down != up {
                return;
            }
            latest.executor_down = !up;
        }
        let frame = protocol::encode(&ServerMsg::Executor { up });
        let _ = self.tx.send(Arc::new(LogBatch::shared(frame)));
    }
}

#[cfg(test)]
mod tests;
