//! One Watch stream: queue, job, prompt and freeze events (unless the
//! request says `logs_only`), a job's log from a sequence number with no gap
//! and no duplicate (the cursor is `spiderpig_policy::seq`, as in the web),
//! heartbeats, and an end within a second of the session's revocation.
//! Trust: internal (the caller is authenticated before the stream opens).
//!
//! A `logs_only` stream never subscribes to the hub's global events, so it
//! costs no encode when the queue or a job changes: the web's per-job log
//! feeds use it, and so does its per-session guard (job 0: nothing but the
//! session's end and heartbeats).
//!
//! A client that stops reading never holds anything up: each stream has its
//! own task and bounded buffer. A send that cannot complete within [`STALL`]
//! marks the stream stalled; while stalled, events are dropped (log records
//! stay in the store). Once the client has drained half its buffer it hears
//! `Skipped` (where its log resumes) and fresh queue and job snapshots. A
//! task waiting on a full buffer still ends at once on revocation or
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use spiderpig_policy::seq::{self, Step};
use spiderpig_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use crate::engine::{Caller, Engine, MAX_RECORD_BYTES, PAGE_BYTES, RECORD_OVERHEAD};
use crate::hub::Revocation;

/// Heartbeat period (browsers and proxies drop idle connections).
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How often a stream re-checks its session (expiry without an event).
const SESSION_CHECK: Duration = Duration::from_millis(500);
/// How long a send may wait for room in the client's buffer before the
/// stream counts as stalled.
const STALL: Duration = Duration::from_secs(1);
/// Most records per LogRecords event; a batch is also cut to
/// [`PAGE_BYTES`] of text, like every page of a log.
const LOG_BATCH: usize = 256;

/// Boxed: a `pb::Event` is 512 bytes and tokio's channel allocates its slots
/// 32 at a time when it is made, so unboxed every open stream (the web keeps
/// one per signed-in session, mostly idle) would hold 16 KiB of empty slots.
type Tx = mpsc::Sender<Box<pb::Event>>;

/// What a stream carries beyond its job's log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Carries {
    /// Without the global events (queue, job, prompt, freeze).
    pub logs_only: bool,
    /// With every session's end (`SessionEnded`).
    pub session_ends: bool,
}

/// Open a stream for an authenticated caller.
pub(super) fn open(
    engine: Arc<Engine>,
    caller: Caller,
    job: u64,
    after_seq: u64,
    carries: Carries,
) -> impl Stream<Item = Result<pb::Event, Status>> + Send + 'static {
    let capacity = engine.config().limits.watch_buffer.clamp(16, 4096);
    let (tx, rx) = mpsc::channel(capacity);
    tokio::spawn(async move {
        let hub = engine.hub().clone();
        let _guard = hub.watcher_guard();
        let mut w = Watcher {
            stop: Stop {
                revocations: hub.subscribe_revocations(),
                closing: hub.closing(),
                engine: engine.clone(),
                caller,
            },
            engine,
            job,
            cur: seq::Cursor::new(after_seq),
            logs_only: carries.logs_only,
            session_ends: carries.session_ends,
            stalled: false,
            tx,
        };
        if let Err(Closed) = w.run().await {
            tracing::debug!("watch stream closed");
        }
        // Its receiver is gone with `run`: free the job's ring if it was
        // the last.
        if job != 0 {
            hub.release_log(job);
        }
    });
    ReceiverStream::new(rx).map(|event| Ok(*event))
}

/// The stream is over (client gone, session revoked, executor stopping).
struct Closed;

fn event(kind: pb::event::Kind) -> Box<pb::Event> {
    Box::new(pb::Event { kind: Some(kind) })
}

/// What ends a stream from the executor's side.
struct Stop {
    revocations: broadcast::Receiver<(Revocation, String)>,
    closing: watch::Receiver<bool>,
    engine: Arc<Engine>,
    caller: Caller,
}

/// Why a stream ends.
enum Ending {
    Revoked(String),
    Closing,
}

impl Stop {
    /// Resolves when this stream must end; pending otherwise.
    async fn wait(&mut self) -> Ending {
        let closing = &mut self.closing;
        let revocations = &mut self.revocations;
        let (engine, caller) = (&self.engine, &self.caller);
        let revoked = async {
            loop {
                match revocations.recv().await {
                    Ok((rev, reason)) if rev.hits(&caller.session_hash, &caller.username) => {
                        return Ending::Revoked(reason);
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !engine.session_alive(&caller.session_hash) {
                            return Ending::Revoked("the session has ended".into());
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ending::Closing,
                }
            }
        };
        tokio::select! {
            r = closing.wait_for(|c| *c) => {
                let _ = r;
                Ending::Closing
            }
            e = revoked => e,
        }
    }
}

/// Whether an offered event reached the client's buffer.
enum Offer {
    Sent,
    Stalled,
}

struct Watcher {
    stop: Stop,
    engine: Arc<Engine>,
    job: u64,
    /// What of the job's log the client has been sent (or skipped).
    cur: seq::Cursor,
    /// No global events on this stream.
    logs_only: bool,
    /// Every session's end on this stream.
    session_ends: bool,
    /// The client's buffer stayed full: events are being dropped.
    stalled: bool,
    tx: Tx,
}

impl Watcher {
    /// Queue `kind` for the client, waiting at most [`STALL`] for room; ends
    /// at once if the stream must end meanwhile.
    async fn offer(&mut self, kind: pb::event::Kind) -> Result<Offer, Closed> {
        if self.stalled {
            return Ok(Offer::Stalled);
        }
        let tx = &self.tx;
        let outcome = tokio::select! {
            r = tx.send(event(kind)) => r.map(|()| Offer::Sent).map_err(|_| Closed),
            () = tokio::time::sleep(STALL) => Ok(Offer::Stalled),
            ending = self.stop.wait() => Err(self.end(ending)),
        };
        if let Ok(Offer::Stalled) = outcome {
            self.stalled = true;
        }
        outcome
    }

    /// Tell the client why its stream ends (if there is room), then end.
    fn end(&self, ending: Ending) -> Closed {
        if let Ending::Revoked(reason) = ending {
            let _ = self
                .tx
                .try_send(event(pb::event::Kind::SessionRevoked(pb::SessionRevoked {
                    reason,
                })));
        }
        Closed
    }

    async fn run(&mut self) -> Result<(), Closed> {
        let hub = self.engine.hub().clone();
        let mut events = (!self.logs_only).then(|| hub.subscribe());
        let mut ends = self.session_ends.then(|| hub.subscribe_revocations());
        let mut logs = if self.job != 0 {
            let (rx, live_from) = self.engine.subscribe_log(self.job);
            self.catch_up(live_from.saturating_sub(1)).await?;
            rx
        } else {
            None
        };
        self.send_queue().await?;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut check = tokio::time::interval(SESSION_CHECK);
        loop {
            tokio::select! {
                ending = self.stop.wait() => return Err(self.end(ending)),
                e = recv(&mut events) => match e {
                    Ok(ev) => {
                        if let Some(kind) = ev.kind.clone()
                            && let Offer::Sent = self.offer(kind).await?
                        {
                            hub.count_streamed();
                        }
                    }
                    // Fell behind on global events: resynchronise with a snapshot.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.send_queue().await?,
                    Err(broadcast::error::RecvError::Closed) => return Err(Closed),
                },
                r = recv(&mut ends) => match r {
                    Ok((rev, reason)) => {
                        self.offer(pb::event::Kind::SessionEnded(crate::wire::session_ended(&rev, reason))).await?;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let recheck = pb::SessionEnded { recheck: true, ..Default::default() };
                        self.offer(pb::event::Kind::SessionEnded(recheck)).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => ends = None,
                },
                r = recv(&mut logs) => match r {
                    Ok(first) => {
                        let mut bytes = first.text.len() + RECORD_OVERHEAD;
                        let mut batch = vec![first];
                        while batch.len() < LOG_BATCH && bytes < PAGE_BYTES - MAX_RECORD_BYTES {
                            match logs.as_mut().map(|l| l.try_recv()) {
                                Some(Ok(rec)) => {
                                    bytes += rec.text.len() + RECORD_OVERHEAD;
                                    batch.push(rec);
                                }
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
                    self.offer(pb::event::Kind::Heartbeat(pb::Heartbeat { at_ms })).await?;
                }
                _ = check.tick() => {
                    self.check_session()?;
                    self.resume_if_drained().await?;
                }
            }
        }
    }

    async fn send_queue(&mut self) -> Result<(), Closed> {
        if self.logs_only {
            return Ok(());
        }
        if let Ok(queue) = self.engine.get_queue() {
            self.offer(pb::event::Kind::Queue(pb::QueueChanged {
                queue: Some(crate::wire::queue(&queue)),
            }))
            .await?;
        }
        Ok(())
    }

    fn check_session(&self) -> Result<(), Closed> {
        if self.engine.session_alive(&self.stop.caller.session_hash) {
            Ok(())
        } else {
            Err(self.end(Ending::Revoked("the session has ended".into())))
        }
    }

    /// Send stored records after the cursor up to `upto` (inclusive). If
    /// the client stalls, the rest is skipped (it stays in the store).
    async fn catch_up(&mut self, upto: u64) -> Result<(), Closed> {
        while self.cur.next() <= upto {
            if self.stalled {
                self.cur.advance(upto);
                return Ok(());
            }
            let Ok(page) = self.engine.get_log(self.job, self.cur.sent(), 1000) else {
                return Ok(());
            };
            let records = crate::wire::log_page(&page, false);
            let records: Vec<_> = records.into_iter().filter(|r| r.seq <= upto).collect();
            let Some(last) = records.last().map(|r| r.seq) else {
                return Ok(());
            };
            let job_id = self.job;
            if let Offer::Sent = self
                .offer(pb::event::Kind::Log(pb::LogRecords { job_id, records }))
                .await?
            {
                self.cur.advance(last);
            }
        }
        Ok(())
    }

    /// Live records (consecutive, from the job's broadcast). What the
    /// client has is dropped; a gap (this task fell behind the broadcast)
    /// is filled from the store, which the executor has, so a lag here
    /// never needs a `Skipped`.
    async fn deliver(&mut self, batch: Vec<Arc<pb::LogRecord>>) -> Result<(), Closed> {
        let (Some(first), Some(last)) = (batch.first().map(|r| r.seq), batch.last().map(|r| r.seq))
        else {
            return Ok(());
        };
        match self.cur.step(first, last) {
            Step::Drop => return Ok(()),
            Step::Send => {}
            Step::Skip | Step::Fill => {
                if first > self.cur.next() {
                    self.catch_up(first - 1).await?;
                }
            }
        }
        if self.stalled {
            self.cur.advance(last);
            return self.resume_if_drained().await;
        }
        // Only the records that follow on from the cursor (after a fill that
        // came up short, none).
        let mut records = Vec::with_capacity(batch.len());
        for rec in batch {
            if rec.seq == self.cur.next() {
                self.cur.sent_up_to(rec.seq);
                records.push((*rec).clone());
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let job_id = self.job;
        self.offer(pb::event::Kind::Log(pb::LogRecords { job_id, records }))
            .await?;
        if self.stalled {
            self.cur.advance(last);
        }
        Ok(())
    }

    /// A stalled client that has drained half its buffer hears where its
    /// log resumes, and gets fresh snapshots of what it may have missed.
    async fn resume_if_drained(&mut self) -> Result<(), Closed> {
        if !self.stalled || self.tx.capacity() * 2 < self.tx.max_capacity() {
            return Ok(());
        }
        self.stalled = false;
        if self.job != 0 {
            let (job_id, next_seq) = (self.job, self.cur.next());
            self.offer(pb::event::Kind::Skipped(pb::Skipped { job_id, next_seq }))
                .await?;
            let view = spiderpig_policy::JobId::new(self.job)
                .map_err(crate::ExecutorError::from)
                .and_then(|id| self.engine.get_job(id));
            if !self.logs_only
                && let Ok(view) = view
            {
                let job = crate::wire::job_view(&view);
                self.offer(pb::event::Kind::Job(pb::JobChanged { job: Some(job) }))
                    .await?;
            }
        }
        self.send_queue().await
    }
}

/// The next item of a subscription the stream may not have (no global
/// events on a logs-only stream, no log for job 0).
async fn recv<T: Clone>(
    rx: &mut Option<broadcast::Receiver<T>>,
) -> Result<T, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
