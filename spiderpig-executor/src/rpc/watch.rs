//! One Watch stream: queue, job, prompt and freeze events, a job's log from a
//! sequence number with no gap and no duplicate, heartbeats, and an end
//! within a second of the session's revocation. Trust: internal (the caller
//! is authenticated before the stream opens).

use std::sync::Arc;
use std::time::Duration;

use spiderpig_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::engine::{Caller, Engine};

/// Heartbeat period (browsers and proxies drop idle connections).
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How often a stream re-checks its session (expiry without an event).
const SESSION_CHECK: Duration = Duration::from_millis(500);
/// Most records per LogRecords event.
const LOG_BATCH: usize = 256;

type Tx = mpsc::Sender<Result<pb::Event, Status>>;

/// Open a stream for an authenticated caller.
pub(super) fn open(
    engine: Arc<Engine>,
    caller: Caller,
    job: u64,
    after_seq: u64,
) -> impl Stream<Item = Result<pb::Event, Status>> + Send + 'static {
    let capacity = engine.config().limits.watch_buffer.clamp(16, 4096);
    let (tx, rx) = mpsc::channel(capacity);
    tokio::spawn(async move {
        let mut w = Watcher {
            engine,
            caller,
            job,
            next_seq: after_seq.saturating_add(1),
            stalled: false,
            tx,
        };
        if let Err(Closed) = w.run().await {
            tracing::debug!("watch stream closed");
        }
    });
    ReceiverStream::new(rx)
}

struct Closed;

fn event(kind: pb::event::Kind) -> pb::Event {
    pb::Event { kind: Some(kind) }
}

struct Watcher {
    engine: Arc<Engine>,
    caller: Caller,
    job: u64,
    next_seq: u64,
    /// The client's buffer overflowed; live records are being dropped.
    stalled: bool,
    tx: Tx,
}

impl Watcher {
    async fn send(&self, kind: pb::event::Kind) -> Result<(), Closed> {
        self.tx.send(Ok(event(kind))).await.map_err(|_| Closed)
    }

    async fn run(&mut self) -> Result<(), Closed> {
        let hub = self.engine.hub().clone();
        let _guard = hub.watcher_guard();
        let mut revocations = hub.subscribe_revocations();
        let mut events = hub.subscribe();
        let mut logs = if self.job != 0 {
            let (rx, live_from) = self.engine.subscribe_log(self.job);
            self.catch_up(live_from.saturating_sub(1)).await?;
            Some(rx)
        } else {
            None
        };
        if let Ok(queue) = self.engine.get_queue() {
            self.send(pb::event::Kind::Queue(pb::QueueChanged {
                queue: Some(queue),
            }))
            .await?;
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut check = tokio::time::interval(SESSION_CHECK);
        let mut closing = hub.closing();
        loop {
            tokio::select! {
                _ = async { closing.wait_for(|c| *c).await.map(|_| ()) } => return Err(Closed),
                r = revocations.recv() => match r {
                    Ok((rev, reason)) if rev.hits(&self.caller.session_hash, &self.caller.username) => {
                        return self.revoked(&reason).await;
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => self.check_session().await?,
                    Err(broadcast::error::RecvError::Closed) => return Err(Closed),
                },
                e = events.recv() => match e {
                    Ok(ev) => self.tx.send(Ok((*ev).clone())).await.map_err(|_| Closed)?,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind on global events: resynchronise with a snapshot.
                        if let Ok(queue) = self.engine.get_queue() {
                            self.send(pb::event::Kind::Queue(pb::QueueChanged { queue: Some(queue) })).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(Closed),
                },
                r = recv_log(&mut logs) => match r {
                    Ok(first) => {
                        let mut batch = vec![first];
                        while batch.len() < LOG_BATCH {
                            match logs.as_mut().map(|l| l.try_recv()) {
                                Some(Ok(rec)) => batch.push(rec),
                                _ => break,
                            }
                        }
                        self.deliver(batch).await?;
                    }
                    // The gap is filled from the store with the next record.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => logs = None,
                },
                _ = heartbeat.tick() => {
                    let at_ms = self.engine.now();
                    self.send(pb::event::Kind::Heartbeat(pb::Heartbeat { at_ms })).await?;
                }
                _ = check.tick() => {
                    self.check_session().await?;
                    self.resume_if_drained().await?;
                }
            }
        }
    }

    async fn check_session(&self) -> Result<(), Closed> {
        if self.engine.session_alive(&self.caller.session_hash) {
            Ok(())
        } else {
            self.revoked("the session has ended").await
        }
    }

    async fn revoked(&self, reason: &str) -> Result<(), Closed> {
        let _ = self
            .send(pb::event::Kind::SessionRevoked(pb::SessionRevoked {
                reason: reason.to_string(),
            }))
            .await;
        Err(Closed)
    }

    /// Send stored records from `next_seq` up to `upto` (inclusive).
    async fn catch_up(&mut self, upto: u64) -> Result<(), Closed> {
        while self.next_seq <= upto {
            let Ok((records, _)) = self
                .engine
                .get_log(self.job, self.next_seq - 1, 1000, false)
            else {
                return Ok(());
            };
            let records: Vec<_> = records.into_iter().filter(|r| r.seq <= upto).collect();
            let Some(last) = records.last().map(|r| r.seq) else {
                return Ok(());
            };
            self.next_seq = last + 1;
            self.send(pb::event::Kind::Log(pb::LogRecords {
                job_id: self.job,
                records,
            }))
            .await?;
        }
        Ok(())
    }

    /// Live records. Duplicates are dropped; a gap (this task fell behind
    /// the broadcast) is filled from the store. If the client itself does not
    /// read and its buffer is full, records are dropped and, once it reads
    /// again, it is told where the stream resumed (`Skipped`): a stalled
    /// client never holds up the job or anyone else.
    async fn deliver(&mut self, batch: Vec<Arc<pb::LogRecord>>) -> Result<(), Closed> {
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|r| r.seq >= self.next_seq)
            .collect();
        let Some(first) = fresh.first().map(|r| r.seq) else {
            return Ok(());
        };
        let last = fresh.last().map(|r| r.seq).unwrap_or(first);
        if self.stalled {
            self.next_seq = last + 1;
            return self.resume_if_drained().await;
        }
        if first > self.next_seq {
            self.catch_up(first - 1).await?;
        }
        let mut records = Vec::with_capacity(fresh.len());
        for rec in fresh {
            if rec.seq == self.next_seq {
                self.next_seq += 1;
                records.push((*rec).clone());
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let ev = event(pb::event::Kind::Log(pb::LogRecords {
            job_id: self.job,
            records,
        }));
        match self.tx.try_send(Ok(ev)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stalled = true;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Closed),
        }
    }

    /// A stalled client that has drained half its buffer hears where its
    /// stream resumes.
    async fn resume_if_drained(&mut self) -> Result<(), Closed> {
        if !self.stalled || self.tx.capacity() * 2 < self.tx.max_capacity() {
            return Ok(());
        }
        self.stalled = false;
        self.send(pb::event::Kind::Skipped(pb::Skipped {
            job_id: self.job,
            next_seq: self.next_seq,
        }))
        .await
    }
}

async fn recv_log(
    logs: &mut Option<broadcast::Receiver<Arc<pb::LogRecord>>>,
) -> Result<Arc<pb::LogRecord>, broadcast::error::RecvError> {
    match logs {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
