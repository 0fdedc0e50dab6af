//! A feed's one upstream stream: `Watch(job, after_seq)` on the executor,
//! opened with a current watcher's session, reopened from the last seq when
//! that session ends, that watcher leaves, or the executor restarts. Trust:
//! internal; the executor authorizes every (re)open with the session used.

use std::sync::Arc;

use spiderpig_proto::v1 as pb;
use tonic::{Status, Streaming};

use super::fanout::{FeedCore, LogFanout, Pick, Watcher};
use super::retry::{Backoff, Class, MAX_RETRY, classify};
use crate::executor::session;

/// How a stream ended.
enum Ended {
    /// Its session ended: use another watcher's, at once.
    Revoked,
    /// The watcher whose session it used left: use another's, at once.
    Switch,
    /// The executor went away: retry after a wait.
    Down,
}

/// Run the upstream of `core` until its last watcher leaves.
pub async fn run(fanout: LogFanout, core: Arc<FeedCore>) {
    tokio::select! {
        _ = core.stop.cancelled() => {}
        _ = follow(&fanout, &core) => {}
    }
    tracing::debug!(job = core.job, "log feed ended");
}

async fn follow(fanout: &LogFanout, core: &FeedCore) {
    // Unknown until the first open: the feed carries live records only
    // (each watcher catches up with GetLog itself).
    let mut last_seq: Option<u64> = None;
    let mut backoff = Backoff::default();
    loop {
        let (id, watcher) = match fanout.pick(core) {
            Pick::Use(id, w) => (id, w),
            Pick::Nobody => {
                // Until a watcher joins (or, at worst, the longest retry).
                let _ = tokio::time::timeout(MAX_RETRY, core.switch.notified()).await;
                continue;
            }
            Pick::Gone => return,
        };
        let ended = match open(fanout, core.job, &watcher, &mut last_seq).await {
            Ok(stream) => {
                backoff.reset();
                pump(core, stream, last_seq.get_or_insert(0)).await
            }
            Err(status) => match classify(&status) {
                Class::Down => Ended::Down,
                // Refused (no such job, not allowed): this session cannot feed it.
                Class::Revoked | Class::Refused => Ended::Revoked,
            },
        };
        match ended {
            Ended::Revoked => fanout.mark_dead(core, id),
            Ended::Switch => {}
            Ended::Down => backoff.wait().await,
        }
    }
}

/// Open `Watch(job)` from `last_seq`; the first time, from the job's
/// current end (so the ring is not flooded with old records).
async fn open(
    fanout: &LogFanout,
    job: u64,
    who: &Watcher,
    last_seq: &mut Option<u64>,
) -> Result<Streaming<pb::Event>, Status> {
    let mut client = fanout.executor().client();
    let after_seq = match *last_seq {
        Some(seq) => seq,
        None => {
            let r = client
                .get_job(pb::JobActionRequest {
                    ctx: who.origin.ctx(),
                    session: session(&who.token),
                    job_id: job,
                })
                .await?
                .into_inner();
            let seq = r.job.map_or(0, |j| j.last_seq);
            *last_seq = Some(seq);
            seq
        }
    };
    let req = pb::WatchRequest {
        ctx: who.origin.ctx(),
        session: session(&who.token),
        job_id: job,
        after_seq,
    };
    Ok(client.watch(req).await?.into_inner())
}

/// Broadcast the stream's log records until it ends or must be switched.
async fn pump(core: &FeedCore, mut stream: Streaming<pb::Event>, last_seq: &mut u64) -> Ended {
    use pb::event::Kind;
    loop {
        let next = tokio::select! {
            _ = core.switch.notified() => return Ended::Switch,
            next = stream.message() => next,
        };
        match next {
            Ok(Some(pb::Event {
                kind: Some(Kind::Log(batch)),
            })) if batch.job_id == core.job => {
                core.publish(batch.records, last_seq);
            }
            // The executor dropped records for this stream: watchers see the
            // gap and fetch it from the store.
            Ok(Some(pb::Event {
                kind: Some(Kind::Skipped(s)),
            })) if s.job_id == core.job => {
                *last_seq = (*last_seq).max(s.next_seq.saturating_sub(1));
            }
            Ok(Some(pb::Event {
                kind: Some(Kind::SessionRevoked(_)),
            })) => return Ended::Revoked,
            // Queue, job, prompt and freeze events reach each browser on its own stream.
            Ok(Some(_)) => {}
            Ok(None) => return Ended::Down,
            Err(status) if classify(&status) == Class::Revoked => return Ended::Revoked,
            Err(_) => return Ended::Down,
        }
    }
}
